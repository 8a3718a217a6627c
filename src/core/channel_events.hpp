#pragma once
// What the hub tells an observer about channels: a channel got its first subscriber on this node
// or lost its last, a client joined or left a channel's presence. The server plugs in the app's
// webhooks (backend::Webhooks); with none plugged in the hub only tests a null pointer, and only
// on the subscribe, unsubscribe and presence paths, never on a publication's.
#include <string_view>

#include "core/publication.hpp"

namespace sb::core {

class ChannelEvents {
 public:
  virtual ~ChannelEvents() = default;
  // On the subscribing (unsubscribing) worker's thread, under the channel's stripe lock, so that
  // occupied and vacated of one channel come in the order they happened whatever the threads.
  // Per node: in a cluster each node with subscribers reports its own. Must be quick and must
  // not call the hub (it queues and returns).
  virtual void on_occupied(std::string_view channel) = 0;
  virtual void on_vacated(std::string_view channel) = 0;
  // On the member's worker thread, with no hub lock held, once the member was added (removed):
  // a client is on one node, so each join and leave is reported once in a cluster too.
  virtual void on_join(std::string_view channel, const Member& member) = 0;
  virtual void on_leave(std::string_view channel, const Member& member) = 0;
};

}  // namespace sb::core
