#pragma once
// The channel tables of the hub and the local broker: a map keyed by channel name that is looked
// up with a string_view (no std::string built per publication), split in stripes so that two
// channels rarely share a mutex.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb::core {

struct ChannelNameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using ChannelMap = std::unordered_map<std::string, Value, ChannelNameHash, std::equal_to<>>;

inline constexpr std::size_t channel_stripe_count = 64;

// Which stripe holds a channel: the same for every table, so a channel's locks are found alike.
inline std::size_t channel_stripe(std::string_view channel) noexcept {
  return ChannelNameHash{}(channel) % channel_stripe_count;
}

}  // namespace sb::core
