#include "core/hub.hpp"

#include <openssl/rand.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "common/clock.hpp"

namespace sb::core {

Hub::Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder) : encoder_(encoder) {
  if (shards.empty() || shards.size() > 64) throw std::invalid_argument("Hub needs 1 to 64 shards");
  for (auto* context : shards) {
    auto shard = std::make_unique<Shard>();
    shard->context = context;
    shards_.push_back(std::move(shard));
  }
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&epoch_base_), sizeof epoch_base_) != 1)
    throw std::runtime_error("RAND_bytes failed");
}

Hub::~Hub() = default;

Hub::Stripe& Hub::stripe_for(std::string_view channel) const {
  return stripes_[std::hash<std::string_view>{}(channel) % stripe_count];
}

Hub::ChannelState& Hub::state_locked(Stripe& stripe, std::string_view channel) {
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) {
    it = stripe.channels.emplace(std::string(channel), ChannelState{}).first;
    // A channel that starts (again) from nothing starts a new epoch: offsets handed out before
    // belong to the old one.
    it->second.epoch = epoch_base_ + next_epoch_.fetch_add(1, std::memory_order_relaxed);
  }
  return it->second;
}

std::string Hub::epoch_string(std::uint64_t epoch) const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(epoch));
  return std::string(buf, 16);
}

StreamPosition Hub::subscribe(std::size_t shard_index, std::string_view channel, Subscriber& subscriber,
                              bool& added) {
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(channel);
  if (it == shard.subscribers.end()) it = shard.subscribers.emplace(std::string(channel), std::vector<Subscriber*>{}).first;
  auto& list = it->second;
  added = std::find(list.begin(), list.end(), &subscriber) == list.end();
  if (added) {
    list.push_back(&subscriber);
    shard.subscriptions.fetch_add(1, std::memory_order_relaxed);
  }
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  ChannelState& state = state_locked(stripe, channel);
  if (added) {
    ++state.subscribers;
    state.shard_mask |= std::uint64_t{1} << shard_index;
  }
  return StreamPosition{state.last_offset, epoch_string(state.epoch)};
}

bool Hub::unsubscribe(std::size_t shard_index, std::string_view channel, Subscriber& subscriber) {
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(channel);
  if (it == shard.subscribers.end()) return false;
  auto& list = it->second;
  auto pos = std::find(list.begin(), list.end(), &subscriber);
  if (pos == list.end()) return false;
  *pos = list.back();
  list.pop_back();
  shard.subscriptions.fetch_sub(1, std::memory_order_relaxed);
  const bool shard_empty = list.empty();
  if (shard_empty) shard.subscribers.erase(it);

  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto state = stripe.channels.find(channel);
  if (state == stripe.channels.end()) return true;
  --state->second.subscribers;
  if (shard_empty) state->second.shard_mask &= ~(std::uint64_t{1} << shard_index);
  // Without subscribers the channel's state is only a counter nobody can use: drop it, so
  // memory follows live channels. Its next publication starts a new epoch.
  if (state->second.subscribers == 0) stripe.channels.erase(state);
  return true;
}

StreamPosition Hub::publish(std::string_view channel, std::string_view data) {
  publications_.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t ts = unix_millis();
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) {
    // Nobody listens and nothing is kept: the message has a position in a fresh epoch and goes
    // nowhere, without creating state that nobody would clean up.
    return StreamPosition{1, epoch_string(epoch_base_ + next_epoch_.fetch_add(1, std::memory_order_relaxed))};
  }
  ChannelState& state = it->second;
  const std::uint64_t offset = ++state.last_offset;
  if (state.shard_mask != 0) {
    auto delivery = std::make_shared<Delivery>();
    delivery->channel.assign(channel);
    delivery->frame = encoder_.encode(Publication{channel, data, offset, ts});
    // Posting under the stripe lock is what keeps per-channel order across publishing threads.
    for (std::uint64_t mask = state.shard_mask; mask != 0; mask &= mask - 1) {
      const auto shard = static_cast<std::size_t>(__builtin_ctzll(mask));
      boost::asio::post(*shards_[shard]->context, [this, shard, delivery] { deliver_local(shard, *delivery); });
    }
  }
  return StreamPosition{offset, epoch_string(state.epoch)};
}

void Hub::deliver_local(std::size_t shard_index, const Delivery& delivery) {
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(delivery.channel);
  if (it == shard.subscribers.end()) return;
  for (Subscriber* s : it->second) s->deliver(delivery.frame);
  shard.deliveries.store(shard.deliveries.load(std::memory_order_relaxed) + it->second.size(),
                         std::memory_order_relaxed);
}

std::vector<ChannelInfo> Hub::channels(std::string_view prefix) const {
  std::vector<ChannelInfo> out;
  for (auto& stripe : stripes_) {
    std::lock_guard lock(stripe.mutex);
    for (const auto& [name, state] : stripe.channels)
      if (state.subscribers > 0 && std::string_view(name).substr(0, prefix.size()) == prefix)
        out.push_back(ChannelInfo{name, state.subscribers});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.channel < b.channel; });
  return out;
}

HubCounters Hub::counters() const {
  HubCounters c;
  c.publications = publications_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) {
    c.deliveries += shard->deliveries.load(std::memory_order_relaxed);
    c.subscriptions += shard->subscriptions.load(std::memory_order_relaxed);
  }
  for (auto& stripe : stripes_) {
    std::lock_guard lock(stripe.mutex);
    c.channels += stripe.channels.size();
  }
  return c;
}

}  // namespace sb::core
