#include "core/hub.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <stdexcept>

#include "common/clock.hpp"
#include "common/random.hpp"

namespace sb::core {

// 48 random bits: short enough to stay inside std::string's small buffer, and a channel would
// need millions of resets before two of its epochs could collide.
std::string Hub::new_epoch() { return random_hex(6); }

Hub::Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder, HistoryStore* history,
         std::size_t max_recovery_bytes, Broker* broker, std::size_t max_channels)
    : encoder_(encoder), max_channels_(max_channels), history_(broker ? nullptr : history),
      max_recovery_bytes_(max_recovery_bytes), broker_(broker) {
  if (shards.empty() || shards.size() > 64) throw std::invalid_argument("Hub needs 1 to 64 shards");
  for (auto* context : shards) {
    auto shard = std::make_unique<Shard>();
    shard->context = context;
    shards_.push_back(std::move(shard));
  }
  if (broker_) broker_->set_listener(this);
  if (history_) {
    writer_ = std::make_unique<HistoryWriter>(
        *history_, [this](std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                          const Status& status) { on_history_written(batch, entries, status); });
  }
}

Hub::~Hub() {
  writer_.reset();  // drains the queue while the rest of the hub still exists
}

Hub::Stripe& Hub::stripe_for(std::string_view channel) const {
  return stripes_[std::hash<std::string_view>{}(channel) % stripe_count];
}

Result<Hub::ChannelState*> Hub::state_locked(Stripe& stripe, std::string_view channel, const HistoryPolicy& policy) {
  auto it = stripe.channels.find(channel);
  if (it != stripe.channels.end()) return &it->second;
  ChannelState state;
  if (policy.enabled() && history_) {
    // The store knows where a channel with history stands, across restarts.
    auto position = history_->position(channel);
    if (!position) return position.error();
    state.last_offset = state.delivered_offset = position->offset;
    // For a channel nothing was stored into yet, the store answers the same epoch every time
    // (HistoryStore::position), so dropping this state (release_locked) voids no position.
    state.epoch = std::move(position->epoch);
    state.persistent = true;
  } else {
    // A channel that starts (again) from nothing starts a new epoch: offsets handed out before
    // belong to the old one.
    state.epoch = new_epoch();
  }
  return emplace_locked(stripe, channel, std::move(state));
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
                                       const HistoryPolicy& policy, const StreamPosition* since) {
  SubscribeResult result;
  Stripe& stripe = stripe_for(channel);
  if (broker_) {
    auto joined = join_cluster_channel(channel);
    if (!joined) {
      std::lock_guard lock(stripe.mutex);
      auto it = stripe.channels.find(channel);
      if (it == stripe.channels.end()) return joined.error();  // refused by max_channels: never joined
      --it->second.joining;
      release_locked(stripe, it);
      return joined.error();
    }
  }
  {
    std::lock_guard lock(stripe.mutex);
    auto state = state_locked(stripe, channel, policy);
    if (!state) return state.error();
    if (broker_) --(*state)->joining;
    Shard& shard = *shards_[shard_index];
    auto it = shard.subscribers.find(channel);
    if (it == shard.subscribers.end())
      it = shard.subscribers.emplace(std::string(channel), std::vector<Subscriber*>{}).first;
    auto& list = it->second;
    result.added = std::find(list.begin(), list.end(), &subscriber) == list.end();
    if (result.added) {
      list.push_back(&subscriber);
      shard.subscriptions.fetch_add(1, std::memory_order_relaxed);
      ++(*state)->subscribers;
      (*state)->shard_mask |= std::uint64_t{1} << shard_index;
    }
    result.position = StreamPosition{(*state)->delivered_offset, (*state)->epoch};
  }
  if (!since) return result;

  // Recovery. The subscriber is registered, so every message fanned out from now on reaches it
  // live; what was fanned out before is in the store and read below. Both may hold the same
  // messages (stored meanwhile, or posted before and run after the registration): the
  // subscriber drops live copies at or below the last one recovered.
  if (since->epoch != result.position.epoch) return result;
  if (since->offset > result.position.offset) {
    // Ahead of what this node delivered. On one node: an offset never handed out (the store
    // lost it). In a cluster it may only be in flight to this node (the client comes from a
    // node that got it first): then nothing is missed, and the live copies up to `since` are
    // dropped by the subscriber.
    if (!broker_) return result;
    const std::string name(channel);
    auto now = broker_->positions(std::span<const std::string>(&name, 1));
    if (!now || now->front().epoch != since->epoch || now->front().offset < since->offset) return result;
    result.recovered = true;
    return result;
  }
  if (since->offset == result.position.offset) {
    result.recovered = true;
    return result;
  }
  if (!policy.enabled() || !(history_ || broker_)) return result;
  HistoryQuery query;
  query.after = since->offset;
  // Everything retained after `since`: at most the namespace's size, and the store stops reading
  // past what could be sent (a channel of large messages must not be read whole into memory).
  query.limit = policy.size;
  query.max_bytes = max_recovery_bytes_;
  auto page = broker_ ? broker_->read(channel, policy, query) : history_->read(channel, query);
  // The subscription stands either way; a store that cannot be read means the client reloads.
  if (!page) return result;
  // Cut by bytes (more left, fewer than the limit): too much to send in one go, reload instead.
  if (page->more && page->messages.size() < query.limit) return result;
  // Too much to send in one go would overflow the connection's send queue: reload instead.
  std::size_t bytes = 0;
  for (const auto& m : page->messages) bytes += m.data.size() + 100;
  if (bytes > max_recovery_bytes_) return result;
  // The first missed message must still be there, or there is a hole the client cannot fill.
  if (page->first_offset == 0 || page->first_offset > since->offset + 1) {
    // Nothing retained after `since` is fine only if nothing was committed after it yet.
    if (!(page->position.offset <= since->offset)) return result;
  }
  // And nothing may be missing in between (a message past its TTL, say).
  if (!page->messages.empty() && page->messages.front().offset != since->offset + 1) return result;
  result.missed = std::move(page->messages);
  result.recovered = true;
  return result;
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
  release_locked(stripe, state);
  return true;
}

void Hub::release_locked(Stripe& stripe, ChannelMap::iterator it) {
  const ChannelState& s = it->second;
  // Without subscribers the channel's state is only a counter nobody can use: drop it, so memory
  // follows live channels. Its next publication starts a new epoch (on one node; in a cluster the
  // broker keeps the channel's position). A channel with history is dropped too once nothing is
  // on its way to the store (nor failed there, which moved it to an epoch the store does not
  // have): the store then holds its position, and the next use reads it back (state_locked).
  if (s.subscribers != 0 || s.joining != 0 || s.members) return;
  if (s.persistent && s.delivered_offset != s.last_offset) return;
  if (broker_) broker_->unwatch(it->first);  // under the lock: ordered with the next watch
  stripe.channels.erase(it);
  channel_count_.fetch_sub(1, std::memory_order_relaxed);
}

Status Hub::join_cluster_channel(std::string_view channel) {
  Stripe& stripe = stripe_for(channel);
  std::shared_ptr<std::promise<Status>> leading;
  std::future<Status> watched;
  std::shared_future<Status> ready;
  {
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(channel);
    if (it == stripe.channels.end()) {
      ChannelState state;
      state.synced = false;
      auto created = emplace_locked(stripe, channel, std::move(state));
      if (!created) return created.error();
      it = stripe.channels.find(channel);
    }
    ChannelState& s = it->second;
    if (!s.synced && !s.ready) {
      // The first subscriber here (or the first since a failed try): watch the channel, then
      // learn where it stands. Whatever arrives meanwhile moves the position on (on_publication).
      leading = std::make_shared<std::promise<Status>>();
      s.ready = std::make_unique<std::shared_future<Status>>(leading->get_future().share());
      auto watch_result = std::make_shared<std::promise<Status>>();
      watched = watch_result->get_future();
      broker_->watch(channel, [watch_result](Status r) { watch_result->set_value(std::move(r)); });
    }
    ++it->second.joining;
    if (it->second.synced) return Ok{};
    ready = *it->second.ready;
  }
  if (!leading) {
    // Another subscriber is doing the work; its result is ours.
    if (ready.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return make_error(ErrorCode::timeout, "the cluster did not answer in time");
    return ready.get();
  }
  Status status = watched.wait_for(std::chrono::seconds(10)) == std::future_status::ready
                      ? watched.get()
                      : Status(make_error(ErrorCode::timeout, "the cluster did not answer in time"));
  Result<std::vector<StreamPosition>> position = std::vector<StreamPosition>{};
  if (status) {
    const std::string name(channel);
    position = broker_->positions(std::span<const std::string>(&name, 1));
    if (!position) status = position.error();
  }
  {
    std::lock_guard lock(stripe.mutex);
    ChannelState& s = stripe.channels.find(channel)->second;
    if (status) {
      const StreamPosition& p = position->front();
      if (s.epoch != p.epoch) {
        s.epoch = p.epoch;
        s.delivered_offset = s.last_offset = p.offset;
      } else {
        s.delivered_offset = s.last_offset = std::max(s.delivered_offset, p.offset);
      }
      s.synced = true;
    } else {
      s.synced = false;
    }
    // Done either way; after a failure, the next subscriber tries again from the start.
    s.ready.reset();
  }
  leading->set_value(status);
  return status;
}

StreamPosition Hub::publish(std::string_view channel, std::string_view data) {
  StreamPosition position;
  publish(channel, data, HistoryPolicy{}, [&position](Result<StreamPosition> r) { position = std::move(*r); });
  return position;
}

void Hub::publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy, PublishDone done) {
  publications_.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t ts = unix_millis();
  if (broker_) {
    // Offset, history and delivery to every node (this one too) are the broker's one step.
    broker_->publish(channel, data, ts, policy, std::move(done));
    return;
  }
  Stripe& stripe = stripe_for(channel);
  std::unique_lock lock(stripe.mutex);
  const bool keep = policy.enabled() && history_;
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() && !keep) {
    // Nobody listens and nothing is kept: the message has a position in a fresh epoch and goes
    // nowhere, without creating state that nobody would clean up.
    lock.unlock();
    done(StreamPosition{1, new_epoch()});
    return;
  }
  auto state = state_locked(stripe, channel, policy);
  if (!state) {
    lock.unlock();
    done(state.error());
    return;
  }
  ChannelState& s = **state;
  const std::uint64_t offset = ++s.last_offset;
  SharedBytes frame;
  if (keep || s.shard_mask != 0) frame = encoder_.encode(Publication{channel, data, offset, ts});
  if (keep) {
    // Delivered and acknowledged by on_history_written, once stored. Enqueued under the stripe
    // lock so the writer sees this channel's messages in offset order.
    writer_->enqueue(PendingPublication{HistoryEntry{std::string(channel), s.epoch, offset, ts, std::string(data), policy},
                                        std::move(frame), std::move(done)});
    return;
  }
  s.delivered_offset = offset;
  fan_out_locked(s, channel, std::move(frame), offset);
  StreamPosition position{offset, s.epoch};
  lock.unlock();
  done(std::move(position));
}

void Hub::fan_out_locked(const ChannelState& state, std::string_view channel, SharedBytes frame, std::uint64_t offset,
                         const Subscriber* exclude, std::string_view stream) {
  if (state.shard_mask == 0) return;
  post_locked(state.shard_mask, std::make_shared<Delivery>(
                                    Delivery{std::string(channel), std::move(frame), offset, exclude, std::string(stream)}));
}

void Hub::post_locked(std::uint64_t shard_mask, std::shared_ptr<const Delivery> delivery) {
  // Posting under the stripe lock is what keeps per-channel order across publishing threads.
  for (std::uint64_t mask = shard_mask; mask != 0; mask &= mask - 1) {
    const auto shard = static_cast<std::size_t>(__builtin_ctzll(mask));
    boost::asio::post(*shards_[shard]->context, [this, shard, delivery] { deliver_local(shard, *delivery); });
  }
}

void Hub::on_history_written(std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                             const Status& status) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const HistoryEntry& e = entries[i];
    Stripe& stripe = stripe_for(e.channel);
    if (!status) {
      // Not stored, so not delivered, and its offset is never used again. The channel moves to a
      // new epoch: positions taken before cannot be trusted to recover across the hole.
      {
        std::lock_guard lock(stripe.mutex);
        auto it = stripe.channels.find(e.channel);
        if (it != stripe.channels.end() && it->second.epoch == e.epoch) it->second.epoch = new_epoch();
      }
      batch[i].done(status.error());
      continue;
    }
    {
      // Shards are read now, not at publish time: a subscriber that joined meanwhile and read
      // history before this commit must get the message live.
      std::lock_guard lock(stripe.mutex);
      auto it = stripe.channels.find(e.channel);
      if (it != stripe.channels.end()) {
        it->second.delivered_offset = e.offset;
        fan_out_locked(it->second, e.channel, std::move(batch[i].frame), e.offset);
        release_locked(stripe, it);  // a channel published to without subscribers
      }
    }
    batch[i].done(StreamPosition{e.offset, e.epoch});
  }
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
  // In a cluster the truth is the broker's; the local list is what this node puts back when
  // Redis lost it or could not be reached (on_reconnected), so a member Redis refused now is
  // kept here and added then.
  if (broker_) (void)broker_->presence_add(channel, member);
  return true;
}

bool Hub::presence_remove_local(std::string_view channel, std::string_view client) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() || !it->second.members) return false;
  auto& members = *it->second.members;
  auto m = std::find_if(members.begin(), members.end(), [&](const Member& x) { return x.client == client; });
  if (m == members.end()) return false;
  *m = std::move(members.back());
  members.pop_back();
  if (members.empty()) it->second.members.reset();
  return true;
}

bool Hub::presence_remove(std::string_view channel, std::string_view client) {
  if (!presence_remove_local(channel, client)) return false;
  if (broker_) broker_->presence_remove(channel, client);
  return true;
}

Result<std::vector<Member>> Hub::presence(std::string_view channel) const {
  if (broker_) return broker_->presence(channel);
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() || !it->second.members) return std::vector<Member>{};
  return *it->second.members;
}

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

void Hub::relay(std::string_view channel, SharedBytes frame, const Subscriber* exclude, std::string_view stream,
                std::uint64_t sequence) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (broker_) broker_->relay(channel, frame, stream, sequence);
  if (it != stripe.channels.end()) fan_out_locked(it->second, channel, std::move(frame), sequence, exclude, stream);
}

Result<HistoryPage> Hub::history(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query) {
  if (broker_) {
    // The broker reads whole pages: ask one message more than the limit, then cut as the stores
    // do, so `more` means the same on every engine.
    HistoryQuery one_more = query;
    ++one_more.limit;
    auto read = broker_->read(channel, policy, one_more);
    if (!read) return read;
    HistoryPage page;
    page.position = std::move(read->position);
    page.first_offset = read->first_offset;
    PageFiller fill(page, query);
    for (auto& m : read->messages)
      if (!fill.add(std::move(m))) break;
    return page;
  }
  StreamPosition position;
  bool known = false;
  {
    // Reading creates no state: asking about any number of channels costs no memory.
    Stripe& stripe = stripe_for(channel);
    std::lock_guard lock(stripe.mutex);
    if (auto it = stripe.channels.find(channel); it != stripe.channels.end()) {
      position = StreamPosition{it->second.delivered_offset, it->second.epoch};
      known = true;
    }
  }
  if (!policy.enabled() || !history_) {
    if (!known) position = StreamPosition{0, new_epoch()};
    HistoryPage empty;
    empty.position = position;
    return empty;
  }
  auto page = history_->read(channel, query);
  if (!page) return page.error();
  if (known) page->position = position;  // else the store's own position stands
  return page;
}

void Hub::deliver_local(std::size_t shard_index, const Delivery& delivery) {
  Shard& shard = *shards_[shard_index];
  auto it = shard.subscribers.find(delivery.channel);
  if (it == shard.subscribers.end()) return;
  if (delivery.gap) {
    const StreamPosition last{delivery.offset, delivery.epoch};
    // A copy: recovering re-subscribes, which must not change the list being walked.
    const std::vector<Subscriber*> subscribers = it->second;
    for (Subscriber* s : subscribers) s->on_gap(delivery.channel, last);
    return;
  }
  std::size_t delivered = 0;
  for (Subscriber* s : it->second) {
    if (s == delivery.exclude) continue;
    s->deliver(delivery.frame, delivery.channel, delivery.offset, delivery.stream);
    ++delivered;
  }
  shard.deliveries.store(shard.deliveries.load(std::memory_order_relaxed) + delivered, std::memory_order_relaxed);
}

// ---- cluster -----------------------------------------------------------------------------------

void Hub::notify_gap_locked(const ChannelState& state, std::string_view channel) {
  if (state.shard_mask == 0) return;
  post_locked(state.shard_mask, std::make_shared<Delivery>(Delivery{std::string(channel), nullptr, state.delivered_offset,
                                                                    nullptr, {}, true, state.epoch}));
}

void Hub::on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t ts,
                         std::string_view data) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) return;  // nobody here any more
  ChannelState& s = it->second;
  if (s.epoch != epoch) {
    // A new epoch (Redis lost the channel, or it expired): positions of the old one are void.
    if (s.synced) notify_gap_locked(s, channel);
    s.epoch = std::string(epoch);
  } else if (offset <= s.delivered_offset) {
    return;  // already covered by the position this node read
  } else if (s.synced && offset != s.delivered_offset + 1) {
    notify_gap_locked(s, channel);  // some never reached this node
  }
  s.delivered_offset = s.last_offset = offset;
  if (s.shard_mask == 0) return;
  fan_out_locked(s, channel, encoder_.encode(Publication{channel, data, offset, ts}), offset);
}

void Hub::on_relay(std::string_view channel, SharedBytes frame, std::string_view stream, std::uint64_t sequence) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it != stripe.channels.end()) fan_out_locked(it->second, channel, std::move(frame), sequence, nullptr, stream);
}

void Hub::on_reconnected() {
  // What was published while this node was cut off never reached it. A channel's position in
  // Redis says how far it went, but not which of those messages are lost and which are still on
  // their way (published after the node subscribed again): a marker sent through the channel
  // after the read settles it (on_marker).
  std::vector<std::string> names;
  std::vector<std::pair<std::string, Member>> members;
  for (auto& stripe : stripes_) {
    std::lock_guard lock(stripe.mutex);
    for (const auto& [name, state] : stripe.channels) {
      if (!state.synced) continue;
      names.push_back(name);
      if (state.members)
        for (const auto& m : *state.members) members.emplace_back(name, m);
    }
  }
  auto positions = broker_->positions(names);
  if (!positions) return;  // down again: the next reconnection checks again
  std::vector<std::size_t> to_mark;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const StreamPosition& p = (*positions)[i];
    Stripe& stripe = stripe_for(names[i]);
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(names[i]);
    if (it == stripe.channels.end() || !it->second.synced) continue;
    ChannelState& s = it->second;
    if (s.epoch == p.epoch && s.delivered_offset >= p.offset) {
      // Ahead: Redis lost its last writes (a restart without fsync, a failover to a replica that
      // lagged) and will hand out those offsets again. The subscribers are reset to where Redis
      // is now, or the node would drop the next messages as old.
      if (s.delivered_offset > p.offset) {
        notify_gap_locked(s, names[i]);
        s.delivered_offset = s.last_offset = p.offset;
      }
      continue;
    }
    to_mark.push_back(i);  // behind, or another epoch
  }
  for (std::size_t i : to_mark) broker_->mark(names[i], (*positions)[i]);
  // Members are put back where Redis lost them (a restart without persistence, or this node
  // taken for dead while it was cut off).
  for (const auto& [channel, member] : members) (void)broker_->presence_add(channel, member);
}

void Hub::on_marker(std::string_view channel, const StreamPosition& position) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() || !it->second.synced) return;
  ChannelState& s = it->second;
  // Everything published up to `position` after the node subscribed again has arrived by now
  // (and on_publication announced any hole before a later message); what is still missing was
  // published while the node was away.
  if (s.epoch == position.epoch && s.delivered_offset >= position.offset) return;
  notify_gap_locked(s, channel);
  if (s.epoch != position.epoch || s.delivered_offset < position.offset) {
    s.epoch = position.epoch;
    s.delivered_offset = s.last_offset = position.offset;
  }
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
