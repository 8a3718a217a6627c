// The hub's side of keeping up with the broker: learning where a channel stands when its first
// subscriber comes here (sync_channel), telling subscribers about gaps, and, in a cluster,
// checking every channel again after the broker reconnected (on_reconnected, markers).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "core/hub.hpp"

namespace sb::core {
namespace {

// How long a subscriber waits for the broker to watch a channel (a Redis round trip or two).
constexpr auto sync_timeout = std::chrono::seconds(10);

// Where a watch's answer meets the subscriber waiting for it. Shared with the callback, which
// may come after the subscriber gave up.
struct WatchAnswer {
  std::mutex mutex;
  std::condition_variable answered;
  std::optional<Status> status;
  bool abandoned = false;
};

}  // namespace

Status Hub::sync_channel(std::string_view channel, const HistoryPolicy& policy) {
  Stripe& stripe = stripe_for(channel);
  {
    std::unique_lock lock(stripe.mutex);
    auto it = stripe.channels.find(channel);
    if (it == stripe.channels.end()) {
      auto created = emplace_locked(stripe, channel, ChannelState{});
      if (!created) return created.error();
      it = stripe.channels.find(channel);
    }
    ChannelState& s = it->second;  // stays put: our `joining` keeps it, and map nodes do not move
    ++s.joining;
    // Another subscriber is syncing: its result is ours. If it failed, we try ourselves.
    if (!stripe.sync_done.wait_for(lock, sync_timeout, [&] { return !s.syncing; })) {
      --s.joining;
      (void)release_locked(stripe, stripe.channels.find(channel));  // not synced: never watched
      return make_error(ErrorCode::timeout, "the cluster did not answer in time");
    }
    if (s.synced) return Ok{};
    s.syncing = true;
  }
  // Whatever arrives meanwhile moves the position on (on_publication).
  auto position = watch_and_read(channel, policy);
  {
    std::lock_guard lock(stripe.mutex);
    auto it = stripe.channels.find(channel);
    ChannelState& s = it->second;
    s.syncing = false;
    if (position) {
      if (s.epoch != position->epoch) {
        s.epoch = std::move(position->epoch);
        s.delivered_offset = position->offset;
      } else {
        s.delivered_offset = std::max(s.delivered_offset, position->offset);
      }
      s.synced = true;
    } else {
      --s.joining;
      (void)release_locked(stripe, it);  // watch_and_read undid its watch
    }
  }
  stripe.sync_done.notify_all();
  if (!position) return position.error();
  return Ok{};
}

Result<StreamPosition> Hub::watch_and_read(std::string_view channel, const HistoryPolicy& policy) {
  auto answer = std::make_shared<WatchAnswer>();
  broker_.watch(channel, policy, [this, answer, name = std::string(channel)](Status status) {
    std::lock_guard lock(answer->mutex);
    // Too late for the subscriber that asked: nobody will unwatch for it.
    if (answer->abandoned && status) broker_.unwatch(name);
    answer->status = std::move(status);
    answer->answered.notify_one();
  });
  {
    // A LocalBroker has answered already: no wait.
    std::unique_lock lock(answer->mutex);
    if (!answer->answered.wait_for(lock, sync_timeout, [&] { return answer->status.has_value(); })) {
      answer->abandoned = true;
      return make_error(ErrorCode::timeout, "the cluster did not answer in time");
    }
    if (!*answer->status) return answer->status->error();
  }
  const std::string name(channel);
  auto positions = broker_.positions(std::span<const std::string>(&name, 1));
  if (!positions) {
    broker_.unwatch(channel);
    return positions.error();
  }
  return std::move(positions->front());
}

void Hub::notify_gap_locked(const ChannelState& state, std::string_view channel) {
  if (state.shard_mask == 0) return;
  post_locked(state.shard_mask, std::make_shared<Delivery>(Delivery{std::string(channel), nullptr, state.delivered_offset,
                                                                    nullptr, {}, true, state.epoch}));
}

void Hub::on_reconnected() {
  // What was published while this node was cut off never reached it. A channel's position in
  // Redis says how far it went, but not which of those messages are lost and which are still on
  // their way (published after the node subscribed again): a marker sent through the channel
  // after the read settles it (on_sync_marker).
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
  auto positions = broker_.positions(names);
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
        s.delivered_offset = p.offset;
      }
      continue;
    }
    to_mark.push_back(i);  // behind, or another epoch
  }
  for (std::size_t i : to_mark) broker_.send_sync_marker(names[i], (*positions)[i]);
  // Members are put back where Redis lost them (a restart without persistence, or this node
  // taken for dead while it was cut off).
  for (const auto& [channel, member] : members) (void)broker_.presence_add(channel, member);
}

void Hub::on_sync_marker(std::string_view channel, const StreamPosition& position) {
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
  s.epoch = position.epoch;
  s.delivered_offset = position.offset;
}

}  // namespace sb::core
