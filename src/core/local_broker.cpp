#include "core/local_broker.hpp"

#include <algorithm>

#include "common/random.hpp"

namespace sb::core {

std::string LocalBroker::new_epoch() { return random_hex(6); }

LocalBroker::LocalBroker(HistoryStore* history, std::size_t max_channels)
    : max_channels_(max_channels), store_(history) {
  if (store_) {
    writer_ = std::make_unique<HistoryWriter>(
        *store_, [this](std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                        const Status& status) { on_written(batch, entries, status); });
  }
}

LocalBroker::~LocalBroker() {
  writer_.reset();  // stores what is still queued while the rest of the broker still exists
}

void LocalBroker::set_listener(BrokerListener* listener) {
  // Going away: what is queued is stored and handed to the listener while it still exists; the
  // writer's thread then no longer runs. Publishers have stopped by now (the hub's destructor).
  if (!listener) writer_.reset();
  listener_ = listener;
}

LocalBroker::Stripe& LocalBroker::stripe_for(std::string_view channel) const {
  return stripes_[channel_stripe(channel)];
}

Result<LocalBroker::ChannelState*> LocalBroker::state_locked(Stripe& stripe, std::string_view channel, bool keep,
                                                             bool bounded) {
  auto it = stripe.channels.find(channel);
  if (it != stripe.channels.end()) return &it->second;
  if (bounded && max_channels_ != 0 && channel_count_.load(std::memory_order_relaxed) >= max_channels_) {
    channels_refused_.fetch_add(1, std::memory_order_relaxed);
    return make_error(ErrorCode::limit_exceeded, "too many channels on this server (limits.max_channels)");
  }
  ChannelState state;
  if (keep) {
    // The store knows where a channel with history stands, across restarts.
    auto position = store_->position(channel);
    if (!position) return position.error();
    state.last_offset = state.stored_offset = position->offset;
    // For a channel nothing was stored into yet, the store answers the same epoch every time
    // (HistoryStore::position), so dropping this state (release_locked) voids no position.
    state.epoch = std::move(position->epoch);
    state.persistent = true;
  } else {
    // A channel that starts (again) from nothing starts a new epoch: offsets handed out before
    // belong to the old one.
    state.epoch = new_epoch();
  }
  channel_count_.fetch_add(1, std::memory_order_relaxed);
  return &stripe.channels.emplace(std::string(channel), std::move(state)).first->second;
}

void LocalBroker::release_locked(Stripe& stripe, ChannelMap::iterator it) {
  const ChannelState& s = it->second;
  // Without watchers a channel's state is a counter nobody can use: drop it, so memory follows
  // live channels. A channel with history is dropped too once nothing is on its way to the store
  // (nor failed there, which moved it to an epoch the store does not have): the store then holds
  // its position, and the next use reads it back (state_locked).
  if (s.watchers != 0 || !s.members.empty()) return;
  if (s.persistent && s.stored_offset != s.last_offset) return;
  stripe.channels.erase(it);
  channel_count_.fetch_sub(1, std::memory_order_relaxed);
}

void LocalBroker::publish(std::string_view channel, std::string_view data, std::string_view from,
                          std::string_view tags, std::int64_t ts,
                          const HistoryPolicy& policy, const boost::asio::any_io_executor& where, PublishDone done) {
  const bool keep = policy.enabled() && store_ != nullptr;
  Stripe& stripe = stripe_for(channel);
  std::unique_lock lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() && !keep) {
    // Nobody listens and nothing is kept: the message has a position in a fresh epoch and goes
    // nowhere, without creating state that nobody would clean up.
    lock.unlock();
    return complete_on(where, std::move(done), StreamPosition{1, new_epoch()});
  }
  auto state = state_locked(stripe, channel, keep, /*bounded=*/true);
  if (!state || (keep && !writer_)) {
    lock.unlock();
    return complete_on(where, std::move(done),
                       state ? Error(make_error(ErrorCode::unavailable, "the server is shutting down")) : state.error());
  }
  ChannelState& s = **state;
  const std::uint64_t offset = ++s.last_offset;
  if (keep) {
    // Delivered and acknowledged by on_written, once stored. Enqueued under the stripe lock so
    // the writer sees this channel's messages in offset order.
    writer_->enqueue(PendingPublication{
        HistoryEntry{std::string(channel), s.epoch, offset, ts, std::string(data), policy, std::string(from),
                     std::string(tags)},
        where,
        std::move(done)});
    return;
  }
  s.stored_offset = offset;
  if (listener_) listener_->on_publication(channel, s.epoch, offset, ts, data, from, tags);  // under the lock: in order
  StreamPosition position{offset, s.epoch};
  lock.unlock();
  complete_on(where, std::move(done), std::move(position));
}

void LocalBroker::on_written(std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                             const Status& status) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const HistoryEntry& e = entries[i];
    Stripe& stripe = stripe_for(e.channel);
    std::unique_lock lock(stripe.mutex);
    auto it = stripe.channels.find(e.channel);  // kept by stored_offset != last_offset
    if (!status) {
      // Not stored, so not delivered, and its offset is never used again.
      if (it != stripe.channels.end() && it->second.epoch == e.epoch) it->second.epoch = new_epoch();
      lock.unlock();
      complete_on(batch[i].where, std::move(batch[i].done), status.error());
      continue;
    }
    if (it != stripe.channels.end()) {
      it->second.stored_offset = e.offset;
      if (listener_) listener_->on_publication(e.channel, e.epoch, e.offset, e.ts, e.data, e.from, e.tags);
      release_locked(stripe, it);  // a channel published to without watchers
    }
    lock.unlock();
    complete_on(batch[i].where, std::move(batch[i].done), StreamPosition{e.offset, e.epoch});
  }
}

void LocalBroker::watch(std::string_view channel, const HistoryPolicy& policy, WatchDone done) {
  Status status = Ok{};
  {
    Stripe& stripe = stripe_for(channel);
    std::lock_guard lock(stripe.mutex);
    auto state = state_locked(stripe, channel, policy.enabled() && store_ != nullptr);
    if (state) ++(*state)->watchers;
    else status = state.error();
  }
  done(std::move(status));  // at once: nothing is in flight on one node
}

void LocalBroker::unwatch(std::string_view channel) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end() || it->second.watchers == 0) return;
  --it->second.watchers;
  release_locked(stripe, it);
}

Result<std::vector<StreamPosition>> LocalBroker::positions(std::span<const std::string> channels) {
  std::vector<StreamPosition> out;
  out.reserve(channels.size());
  for (const auto& channel : channels) {
    {
      Stripe& stripe = stripe_for(channel);
      std::lock_guard lock(stripe.mutex);
      if (auto it = stripe.channels.find(channel); it != stripe.channels.end()) {
        out.push_back(StreamPosition{it->second.stored_offset, it->second.epoch});
        continue;
      }
    }
    // Not watched: where the store has it, or nowhere yet.
    if (!store_) {
      out.push_back(StreamPosition{0, new_epoch()});
      continue;
    }
    auto position = store_->position(channel);
    if (!position) return position.error();
    out.push_back(std::move(*position));
  }
  return out;
}

Result<HistoryPage> LocalBroker::read(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query) {
  StreamPosition position;
  bool known = false;
  {
    // Reading creates no state: asking about any number of channels costs no memory.
    Stripe& stripe = stripe_for(channel);
    std::lock_guard lock(stripe.mutex);
    if (auto it = stripe.channels.find(channel); it != stripe.channels.end()) {
      position = StreamPosition{it->second.stored_offset, it->second.epoch};
      known = true;
    }
  }
  if (!policy.enabled() || !store_) {
    HistoryPage empty;
    empty.position = known ? std::move(position) : StreamPosition{0, new_epoch()};
    return empty;
  }
  auto page = store_->read(channel, query);
  if (!page) return page.error();
  if (known) page->position = std::move(position);  // else the store's own position stands
  return page;
}

Status LocalBroker::presence_add(std::string_view channel, const Member& member) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  // Only subscribers are members, and the hub watches every channel it has subscribers for.
  if (it == stripe.channels.end()) return make_error(ErrorCode::not_found, "not subscribed to the channel");
  auto& members = it->second.members;
  auto m = std::find_if(members.begin(), members.end(), [&](const Member& x) { return x.client == member.client; });
  if (m == members.end()) members.push_back(member);
  else *m = member;
  return Ok{};
}

void LocalBroker::presence_remove(std::string_view channel, std::string_view client) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) return;
  auto& members = it->second.members;
  auto m = std::find_if(members.begin(), members.end(), [&](const Member& x) { return x.client == client; });
  if (m == members.end()) return;
  *m = std::move(members.back());
  members.pop_back();
  if (members.empty()) members.shrink_to_fit();
  release_locked(stripe, it);
}

Result<std::vector<Member>> LocalBroker::presence(std::string_view channel) {
  Stripe& stripe = stripe_for(channel);
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.channels.find(channel);
  if (it == stripe.channels.end()) return std::vector<Member>{};
  return it->second.members;
}

}  // namespace sb::core
