#pragma once
#include <cstdint>
#include <string_view>

#include "common/bytes.hpp"

namespace sb::core {

// Something that receives a channel's publications: a client session, or a test fake.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // One encoded frame, shared with every other subscriber: queue it, never modify it. Called on
  // the thread of the shard the subscriber subscribed on, in the channel's offset order. Must not
  // subscribe or unsubscribe (the hub is iterating the channel's subscribers).
  // `channel` and `offset` say what the frame is, so a subscriber that just recovered from history
  // can skip the live copy of a message it already got. Relayed frames have offset 0, except
  // those of a stream: `stream` is its id and `offset` the frame's sequence number in it.
  virtual void deliver(const SharedBytes& frame, std::string_view channel, std::uint64_t offset,
                       std::string_view stream) = 0;
  // Publications of `channel` after `last` (the last one this node fanned out) may not have
  // reached this node, or are void: the channel's epoch changed (a failed append on one node,
  // Redis lost the channel) or, in a cluster, the broker reconnected. Comes
  // before any publication after the gap, on the same thread; the subscriber recovers from
  // `last`, and drops the live copies of what it recovered.
  virtual void on_gap(std::string_view channel, const struct StreamPosition& last) {
    (void)channel;
    (void)last;
  }
};

// Turns a publication into the bytes subscribers receive, once per publication. The native
// protocol's encoder builds a complete WebSocket frame, header included.
class PublicationEncoder {
 public:
  virtual ~PublicationEncoder() = default;
  // Called from any thread, concurrently.
  virtual SharedBytes encode(const struct Publication& publication) const = 0;
};

}  // namespace sb::core
