// The hub's filtered subscribers (hub.hpp, "Filters"): the channel's interned filters, one slot
// each, under the stripe lock; the shard's groups of subscribers per slot, on the shard's thread.
#include <algorithm>

#include "core/hub.hpp"

namespace sb::core {

Result<std::size_t> Hub::acquire_filter_locked(ChannelState& state, const std::shared_ptr<const Filter>& filter) {
  if (!state.filters) state.filters = std::make_unique<std::vector<FilterSlot>>();
  auto& slots = *state.filters;
  std::size_t free = slots.size();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i].filter) {
      free = std::min(free, i);
    } else if (slots[i].filter->canonical() == filter->canonical()) {
      ++slots[i].subscribers;
      return i;
    }
  }
  if (free == slots.size()) {
    if (slots.size() >= max_filters_per_channel)
      return make_error(ErrorCode::limit_exceeded, "too many different filters on this channel (64)");
    slots.emplace_back();
  }
  // A freed slot may be taken by another filter while deliveries matched against the old one
  // are still on their way to the shards: those carry offsets at or below the new subscriber's
  // position, which it drops (Subscriber: "earlier ones may still arrive live").
  slots[free] = FilterSlot{filter, 1};
  return free;
}

void Hub::release_filter_locked(ChannelState& state, std::size_t slot) {
  if (!state.filters || slot >= state.filters->size()) return;
  auto& slots = *state.filters;
  if (--slots[slot].subscribers != 0) return;
  slots[slot].filter.reset();
  while (!slots.empty() && !slots.back().filter) slots.pop_back();
  if (slots.empty()) state.filters.reset();  // back to the unfiltered path
}

std::uint64_t Hub::match_locked(const ChannelState& state, std::string_view tags) {
  std::uint64_t matches = 0;
  const auto& slots = *state.filters;
  for (std::size_t i = 0; i < slots.size(); ++i)
    if (slots[i].filter && slots[i].filter->matches(tags)) matches |= std::uint64_t{1} << i;
  return matches;
}

bool Hub::is_filtered_subscriber(const Shard& shard, std::string_view channel, const Subscriber& subscriber) {
  auto it = shard.filtered.find(channel);
  if (it == shard.filtered.end()) return false;
  for (const auto& group : it->second)
    if (std::find(group.subscribers.begin(), group.subscribers.end(), &subscriber) != group.subscribers.end())
      return true;
  return false;
}

std::optional<std::size_t> Hub::remove_filtered(Shard& shard, std::string_view channel, Subscriber& subscriber) {
  auto it = shard.filtered.find(channel);
  if (it == shard.filtered.end()) return std::nullopt;
  auto& groups = it->second;
  for (auto group = groups.begin(); group != groups.end(); ++group) {
    auto& list = group->subscribers;
    auto pos = std::find(list.begin(), list.end(), &subscriber);
    if (pos == list.end()) continue;
    const std::size_t slot = group->slot;
    *pos = list.back();
    list.pop_back();
    if (list.empty()) groups.erase(group);
    if (groups.empty()) shard.filtered.erase(it);
    return slot;
  }
  return std::nullopt;
}

std::size_t Hub::deliver_filtered(Shard& shard, const Delivery& delivery) {
  auto it = shard.filtered.find(delivery.channel);
  if (it == shard.filtered.end()) return 0;
  // Read once: the virtual calls below would make the compiler load them again per subscriber.
  const std::string_view channel = delivery.channel;
  const std::string_view stream = delivery.stream;
  const SharedBytes& frame = delivery.frame;
  const std::uint64_t offset = delivery.offset;
  const std::uint64_t matches = delivery.matches;
  const Subscriber* exclude = delivery.exclude;
  std::size_t delivered = 0;
  for (const auto& group : it->second) {
    // Relays, gaps and stream frames carry every bit: filters sort publications only.
    if ((matches >> group.slot & 1) == 0) continue;
    for (Subscriber* s : group.subscribers) {
      if (s == exclude) continue;
      s->deliver(frame, channel, offset, stream);
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace sb::core
