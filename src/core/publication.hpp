#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::core {

// A message as the hub sees it: the channel, the payload as serialized JSON (the hub never looks
// inside), and the position the hub gave it.
struct Publication {
  std::string_view channel;
  std::string_view data;  // serialized JSON value
  std::uint64_t offset = 0;
  std::int64_t ts = 0;  // ms since the Unix epoch
  // Who published it, as the server stamped it (docs/protocol.md, "from"): a serialized JSON
  // object kept and passed on as bytes, like `data`; empty when the publisher named no one (a
  // backend publish without `from`).
  std::string_view from;
  // Its tags (docs/filters.md) in core/tags.hpp's encoding, or empty: what filters look at.
  std::string_view tags;
};

// Where a channel stands: the offset of its last message and the epoch those offsets belong to.
// Offsets of one epoch increase by one per message; a new epoch means earlier offsets are void.
struct StreamPosition {
  std::uint64_t offset = 0;
  std::string epoch;
};

// Someone subscribed to a channel with presence: the client connection, the user it belongs to,
// and what the user chose to show (serialized JSON object, or empty).
struct Member {
  std::string client;
  std::string user;
  std::string info;
};

struct PresenceStats {
  std::size_t clients = 0;
  std::size_t users = 0;  // distinct non-empty users
};

}  // namespace sb::core
