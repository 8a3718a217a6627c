#include "core/hub.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <optional>
#include <stdexcept>

#include "common/clock.hpp"

namespace sb::core {

Hub::Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder, Broker& broker,
         std::size_t max_recovery_bytes, std::size_t max_channels)
    : encoder_(encoder), broker_(broker), max_channels_(max_channels), max_recovery_bytes_(max_recovery_bytes) {
  if (shards.empty() || shards.size() > 64) throw std::invalid_argument("Hub needs 1 to 64 shards");
  for (auto* context : shards) {
    auto shard = std::make_unique<Shard>();
    shard->context = context;
    shards_.push_back(std::move(shard));
  }
  broker_.set_listener(this);
}

Hub::~Hub() {
  broker_.set_listener(nullptr);  // a LocalBroker stores what is queued and hands it over first
}

Hub::Stripe& Hub::stripe_for(std::string_view channel) const {
  return stripes_[channel_stripe(channel)];
}

Result<Hub::ChannelState*> Hub::emplace_locked(Stripe& stripe, std::string_view channel, ChannelState state) {
  // Counted before the insert, so stripes racing for the last places cannot overshoot.
  if (max_channels_ != 0 && channel_count_.fetch_add(1, std::memory_order_relaxed) >= max_channels_) {
    channel_count_.fetch_sub(1, std::memory_order_relaxed);
    channels_refused_.fetch_add(1, std::memory_order_relaxed);
    return make_error(ErrorCode::limit_exceeded, "too many channels on this server (limits.max_channels)");
  }
  if (max_channels_ == 0) channel_count_.fetch_add(1, std::memory_order_relaxed);
  return &stripe.channels.emplace(std::string(channel), std::move(state)).first->second;
}

Result<SubscribeResult> Hub::subscribe(std::size_t shard_index, std::string_view channel, Subscriber& subscriber,
                                       const HistoryPolicy& policy, const StreamPosition* since,
                                       std::shared_ptr<const Filter> filter) {
  Stripe& stripe = stripe_for(channel);
  std::optional<Result<SubscribeResult>> result;
  {
    // Most subscribers come to a channel this node already follows: one lock, no broker call.
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(channel);
    if (it != stripe.channels.end() && it->second.synced) {
      result = add_locked(shard_index, channel, it->second, subscriber, filter);
      if (events_ && *result && (*result)->added && it->second.subscribers == 1) events_->on_occupied(channel);
    }
  }
  bool unwatch = false;
  if (!result) {
    if (auto synced = sync_channel(channel, policy); !synced) return synced.error();
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(channel);  // kept by our `joining`
    ChannelState& state = it->second;
    --state.joining;
    result = add_locked(shard_index, channel, state, subscriber, filter);
    if (events_ && *result && (*result)->added && state.subscribers == 1) events_->on_occupied(channel);
    if (!*result) unwatch = release_locked(stripe, it);  // refused: nobody came
  }
  if (unwatch) broker_.unwatch(channel);
  if (!*result) return std::move(*result);
  if (since) recover(channel, policy, *since, **result, filter.get());
  return std::move(*result);
}

Result<SubscribeResult> Hub::add_locked(std::size_t shard_index, std::string_view channel, ChannelState& state,
                                        Subscriber& subscriber, const std::shared_ptr<const Filter>& filter) {
  SubscribeResult result;
  result.position = StreamPosition{state.delivered_offset, state.epoch};
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(channel);
  const bool unfiltered_here =
      it != shard.subscribers.end() && std::find(it->second.begin(), it->second.end(), &subscriber) != it->second.end();
  if (unfiltered_here || (state.filters && is_filtered_subscriber(shard, channel, subscriber))) return result;
  if (filter) {
    auto slot = acquire_filter_locked(state, filter);
    if (!slot) return slot.error();
    auto& groups = shard.filtered[std::string(channel)];
    auto group = std::find_if(groups.begin(), groups.end(), [&](const FilterGroup& g) { return g.slot == *slot; });
    if (group == groups.end()) group = groups.insert(groups.end(), FilterGroup{*slot, {}});
    group->subscribers.push_back(&subscriber);
  } else {
    if (it == shard.subscribers.end())
      it = shard.subscribers.emplace(std::string(channel), std::vector<Subscriber*>{}).first;
    it->second.push_back(&subscriber);
  }
  result.added = true;
  shard.subscriptions.fetch_add(1, std::memory_order_relaxed);
  ++state.subscribers;
  state.shard_mask |= std::uint64_t{1} << shard_index;
  return result;
}

void Hub::recover(std::string_view channel, const HistoryPolicy& policy, const StreamPosition& since,
                  SubscribeResult& result, const Filter* filter) {
  // The subscriber is registered, so every message fanned out from now on reaches it live; what
  // was fanned out before is in the store and read below. Both may hold the same messages
  // (stored meanwhile, or posted before and run after the registration): the subscriber drops
  // live copies at or below the last one recovered.
  if (since.epoch != result.position.epoch) return;
  if (since.offset > result.position.offset) {
    // Ahead of what this node delivered. On one node: an offset never handed out (the store
    // lost it). In a cluster it may only be in flight to this node (the client comes from a
    // node that got it first): then nothing is missed, and the live copies up to `since` are
    // dropped by the subscriber.
    const std::string name(channel);
    auto now = broker_.positions(std::span<const std::string>(&name, 1));
    result.recovered = now && now->front().epoch == since.epoch && now->front().offset >= since.offset;
    return;
  }
  if (since.offset == result.position.offset) {
    result.recovered = true;
    return;
  }
  if (!policy.enabled()) return;
  HistoryQuery query;
  query.after = since.offset;
  // Everything retained after `since`: at most the namespace's size, and the store stops reading
  // past what could be sent (a channel of large messages must not be read whole into memory).
  query.limit = policy.size;
  query.max_bytes = max_recovery_bytes_;
  auto page = broker_.read(channel, policy, query);
  // The subscription stands either way; a store that cannot be read means the client reloads.
  if (!page) return;
  // Cut by bytes (more left, fewer than the limit): too much to send in one go, reload instead.
  if (page->more && page->messages.size() < query.limit) return;
  // Too much to send in one go would overflow the connection's send queue: reload instead.
  std::size_t bytes = 0;
  for (const auto& m : page->messages) bytes += m.data.size() + 100;
  if (bytes > max_recovery_bytes_) return;
  // The first missed message must still be there, or there is a hole the client cannot fill.
  // Nothing retained after `since` is fine only if nothing was committed after it yet.
  if ((page->first_offset == 0 || page->first_offset > since.offset + 1) && page->position.offset > since.offset)
    return;
  // And nothing may be missing in between (a message past its TTL, say).
  if (!page->messages.empty() && page->messages.front().offset != since.offset + 1) return;
  result.missed = std::move(page->messages);
  result.recovered = true;
  // Checked whole above: a hole is a hole whether or not the filter wanted what fell in it.
  if (filter)
    std::erase_if(result.missed, [filter](const StoredMessage& m) { return !filter->matches(m.tags); });
}

bool Hub::unsubscribe(std::size_t shard_index, std::string_view channel, Subscriber& subscriber) {
  Shard& shard = *shards_[shard_index];
  std::optional<std::size_t> filter_slot;
  auto it = shard.subscribers.find(channel);
  auto pos = it == shard.subscribers.end() ? std::vector<Subscriber*>::iterator{}
                                           : std::find(it->second.begin(), it->second.end(), &subscriber);
  if (it != shard.subscribers.end() && pos != it->second.end()) {
    *pos = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) shard.subscribers.erase(it);
  } else if (!(filter_slot = remove_filtered(shard, channel, subscriber))) {
    return false;
  }
  shard.subscriptions.fetch_sub(1, std::memory_order_relaxed);
  const bool shard_empty = !shard.subscribers.contains(channel) && !shard.filtered.contains(channel);

  Stripe& stripe = stripe_for(channel);
  bool unwatch = false;
  {
    std::lock_guard lock(stripe.mutex);
    auto state = stripe.channels.find(channel);
    if (state == stripe.channels.end()) return true;
    --state->second.subscribers;
    if (filter_slot) release_filter_locked(state->second, *filter_slot);
    if (events_ && state->second.subscribers == 0) events_->on_vacated(channel);
    if (shard_empty) state->second.shard_mask &= ~(std::uint64_t{1} << shard_index);
    unwatch = release_locked(stripe, state);
  }
  // Outside the lock (the broker's locks come before ours); watches are counted, so a watch by
  // a subscriber that came meanwhile is not undone.
  if (unwatch) broker_.unwatch(channel);
  return true;
}

bool Hub::release_locked(Stripe& stripe, ChannelMap::iterator it) {
  const ChannelState& s = it->second;
  // Without subscribers the channel's state here is a cache nobody reads: drop it, so memory
  // follows live channels. The broker keeps (or drops) the channel's position.
  if (s.subscribers != 0 || s.joining != 0 || s.members) return false;
  const bool watched = s.synced;
  stripe.channels.erase(it);
  channel_count_.fetch_sub(1, std::memory_order_relaxed);
  return watched;
}

void Hub::publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy,
                  const boost::asio::any_io_executor& where, PublishDone done, std::string_view from,
                  std::string_view tags) {
  publications_.fetch_add(1, std::memory_order_relaxed);
  // Offset, history and delivery (on_publication) are the broker's one step.
  broker_.publish(channel, data, from, tags, unix_millis(), policy, where, std::move(done));
}

void Hub::publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy, PublishDone done,
                  std::string_view from, std::string_view tags) {
  // No executor: at once.
  publish(channel, data, policy, boost::asio::any_io_executor(), std::move(done), from, tags);
}

StreamPosition Hub::publish(std::string_view channel, std::string_view data) {
  std::mutex mutex;
  std::condition_variable done;
  std::optional<StreamPosition> position;
  publish(channel, data, HistoryPolicy{}, [&](Result<StreamPosition> r) {
    std::lock_guard lock(mutex);
    position = r ? std::move(*r) : StreamPosition{};
    done.notify_one();
  });
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return position.has_value(); });
  return std::move(*position);
}

void Hub::on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t ts,
                         std::string_view data, std::string_view from, std::string_view tags) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) return;  // nobody here
  ChannelState& s = it->second;
  if (s.epoch != epoch) {
    // A new epoch (a failed append on one node; in a cluster Redis lost the channel, or it
    // expired): positions of the old one are void.
    if (s.synced) notify_gap_locked(s, channel);
    s.epoch = std::string(epoch);
  } else if (offset <= s.delivered_offset) {
    return;  // already covered by the position this node read
  } else if (s.synced && offset != s.delivered_offset + 1) {
    notify_gap_locked(s, channel);  // some never reached this node
  }
  s.delivered_offset = offset;
  if (s.shard_mask == 0) return;
  // Shards are read now, not at publish time: a subscriber that joined while the message was on
  // its way to the store, and read history before it was stored, gets it live.
  // Each distinct filter is evaluated once here, whoever and wherever its subscribers are.
  const std::uint64_t matches = s.filters ? match_locked(s, tags) : ~std::uint64_t{0};
  fan_out_locked(s, channel, encoder_.encode(Publication{channel, data, offset, ts, from, tags}), offset, nullptr, {},
                 matches);
}

void Hub::on_relay(std::string_view channel, SharedBytes frame, std::string_view stream, std::uint64_t sequence) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it != stripe.channels.end()) fan_out_locked(it->second, channel, std::move(frame), sequence, nullptr, stream);
}

void Hub::fan_out_locked(const ChannelState& state, std::string_view channel, SharedBytes frame, std::uint64_t offset,
                         const Subscriber* exclude, std::string_view stream, std::uint64_t matches) {
  if (state.shard_mask == 0) return;
  post_locked(state.shard_mask,
              std::make_shared<Delivery>(Delivery{std::string(channel), std::move(frame), offset, exclude,
                                                  std::string(stream), false, {}, state.filters != nullptr, matches}));
}

void Hub::post_locked(std::uint64_t shard_mask, std::shared_ptr<const Delivery> delivery) {
  // Posting under the stripe lock is what keeps per-channel order across publishing threads.
  for (std::uint64_t mask = shard_mask; mask != 0; mask &= mask - 1) {
    const auto shard = static_cast<std::size_t>(__builtin_ctzll(mask));
    boost::asio::post(*shards_[shard]->context, [this, shard, delivery] { deliver_local(shard, *delivery); });
  }
}

void Hub::deliver_local(std::size_t shard_index, const Delivery& delivery) {
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(delivery.channel);
  if (delivery.gap) {
    // A copy: recovering re-subscribes, which must not change the list being walked.
    std::vector<Subscriber*> subscribers;
    if (it != shard.subscribers.end()) subscribers = it->second;
    if (auto f = shard.filtered.find(delivery.channel); f != shard.filtered.end())
      for (const auto& group : f->second)
        subscribers.insert(subscribers.end(), group.subscribers.begin(), group.subscribers.end());
    const StreamPosition last{delivery.offset, delivery.epoch};
    for (Subscriber* s : subscribers) s->on_gap(delivery.channel, last);
    return;
  }
  std::size_t delivered = 0;
  if (it != shard.subscribers.end()) {
    for (Subscriber* s : it->second) {
      if (s == delivery.exclude) continue;
      s->deliver(delivery.frame, delivery.channel, delivery.offset, delivery.stream);
      ++delivered;
    }
  }
  if (delivery.filtered) delivered += deliver_filtered(shard, delivery);
  shard.deliveries.store(shard.deliveries.load(std::memory_order_relaxed) + delivered, std::memory_order_relaxed);
}

void Hub::relay(std::string_view channel, SharedBytes frame, const Subscriber* exclude, std::string_view stream,
                std::uint64_t sequence) {
  broker_.relay(channel, frame, stream, sequence);  // to the other nodes; this one delivers its own
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it != stripe.channels.end()) fan_out_locked(it->second, channel, std::move(frame), sequence, exclude, stream);
}

bool Hub::presence_add(std::string_view channel, Member member) {
  Stripe& stripe = stripe_for(channel);
  {
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(channel);
    if (it == stripe.channels.end()) return false;  // only subscribers are members
    auto& members = it->second.members;
    if (!members) members = std::make_unique<std::vector<Member>>();
    for (const auto& m : *members)
      if (m.client == member.client) return false;
    members->push_back(member);
  }
  // The truth is the broker's; the local list is what this node puts back when Redis lost it or
  // could not be reached (on_reconnected), so a member Redis refused now is kept here and added
  // then.
  (void)broker_.presence_add(channel, member);
  if (events_) events_->on_join(channel, member);
  return true;
}

bool Hub::presence_remove_local(std::string_view channel, std::string_view client, Member* removed) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() || !it->second.members) return false;
  auto& members = *it->second.members;
  auto m = std::find_if(members.begin(), members.end(), [&](const Member& x) { return x.client == client; });
  if (m == members.end()) return false;
  if (removed) *removed = std::move(*m);
  *m = std::move(members.back());
  members.pop_back();
  if (members.empty()) it->second.members.reset();
  return true;
}

bool Hub::presence_remove(std::string_view channel, std::string_view client) {
  Member removed;
  if (!presence_remove_local(channel, client, events_ ? &removed : nullptr)) return false;
  broker_.presence_remove(channel, client);
  if (events_) events_->on_leave(channel, removed);
  return true;
}

Result<std::vector<Member>> Hub::presence(std::string_view channel) const { return broker_.presence(channel); }

Result<PresenceStats> Hub::presence_stats(std::string_view channel) const {
  auto members = presence(channel);
  if (!members) return members.error();
  std::vector<std::string_view> users;
  for (const auto& m : *members)
    if (!m.user.empty()) users.push_back(m.user);
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  return PresenceStats{members->size(), users.size()};
}

Result<HistoryPage> Hub::history(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query,
                                 const Filter* filter) {
  // Ask one message more than the limit, then cut as the stores do, so `more` means the same
  // whichever broker answers (Redis reads whole pages).
  HistoryQuery one_more = query;
  ++one_more.limit;
  auto read = broker_.read(channel, policy, one_more);
  if (!read) return read;
  HistoryPage page;
  page.position = std::move(read->position);
  page.first_offset = read->first_offset;
  page.more = read->more;  // cut by bytes already
  PageFiller fill(page, query);
  for (auto& m : read->messages)
    if (!fill.add(std::move(m))) break;
  if (filter && !page.messages.empty()) {
    page.last_read = page.messages.back().offset;
    std::erase_if(page.messages, [filter](const StoredMessage& m) { return !filter->matches(m.tags); });
  }
  return page;
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
    for (const auto& [name, state] : stripe.channels) c.channels += state.subscribers > 0 ? 1 : 0;
  }
  c.channel_states = channel_count_.load(std::memory_order_relaxed);
  c.channels_refused = channels_refused_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace sb::core
