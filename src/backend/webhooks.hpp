#pragma once
// The app's webhooks: what the hub and the sessions report, as JSON events handed to a
// WebhookDispatcher (docs/backend.md, "Webhooks", shows every event's shape). Built by the
// server when [webhooks] has a URL; the hub and the sessions see it only through
// core::ChannelEvents and backend::SessionEvents.
#include <boost/asio/io_context.hpp>

#include <string>
#include <string_view>

#include "backend/session_events.hpp"
#include "backend/webhook_dispatcher.hpp"
#include "core/channel_events.hpp"

namespace sb::backend {

class Webhooks final : public core::ChannelEvents, public SessionEvents {
 public:
  Webhooks(boost::asio::io_context& io, WebhookOptions options, SendFunction send);

  // core::ChannelEvents
  void on_occupied(std::string_view channel) override;
  void on_vacated(std::string_view channel) override;
  void on_join(std::string_view channel, const core::Member& member) override;
  void on_leave(std::string_view channel, const core::Member& member) override;
  // SessionEvents
  void client_event(std::string_view channel, std::string_view event, std::string_view data,
                    const core::Member& from) override;
  void typing(std::string_view channel, const core::Member& from, bool typing) override;
  void stream_cancelled(std::string_view stream, std::string_view channel) override;
  void connection_closed(std::string_view client, std::string_view user, std::uint16_t code,
                         std::int64_t duration_ms) override;

  DispatcherCounters counters() const { return dispatcher_.counters(); }

 private:
  bool enabled(unsigned type) const noexcept { return (events_ & type) != 0; }
  // `{"id":...,"type":...,"time_ms":...` with the closing brace left to the caller.
  static std::string start(std::string_view type);
  void channel_event(std::string_view type, std::string_view channel);
  void member_event(std::string_view type, std::string_view channel, const core::Member& member);

  unsigned events_;
  WebhookDispatcher dispatcher_;
};

}  // namespace sb::backend
