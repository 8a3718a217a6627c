#pragma once
// What sessions tell the app's backend about (as webhooks, through backend::Webhooks). The
// session decides whether an event is reported at all (a namespace's webhook_events and
// webhook_typing); the implementation decides whether the type is enabled ([webhooks] events).
#include <cstdint>
#include <string_view>

#include "core/publication.hpp"

namespace sb::backend {

class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  // Every call comes from any worker thread (or the streams' thread), must be quick and never
  // calls back: it queues the event and returns.

  // A client's `event` frame relayed to `channel`; `data` is the JSON value it sent (may be empty).
  virtual void client_event(std::string_view channel, std::string_view event, std::string_view data,
                            const core::Member& from) = 0;
  // A client started or stopped typing (a stop by timeout included).
  virtual void typing(std::string_view channel, const core::Member& from, bool typing) = 0;
  // A client asked to stop a stream, which ended with reason "cancelled".
  virtual void stream_cancelled(std::string_view stream, std::string_view channel) = 0;
  // A WebSocket connection ended: its close code (sent or received; 1006 when none was) and how
  // long it was open. `user` is empty for an anonymous client.
  virtual void connection_closed(std::string_view client, std::string_view user, std::uint16_t code,
                                 std::int64_t duration_ms) = 0;
};

}  // namespace sb::backend
