#pragma once
// The hub: who is subscribed to what, and the fan-out of a publication to them.
//
// Threads. Subscribers live on shards (one per worker thread, each with its io_context). A shard's
// map from channel to subscribers is touched only on that shard's thread, so delivering takes no
// lock. What is shared across shards is the channel table: per channel, the last offset fanned
// out, the epoch, the subscriber count and which shards have subscribers. It is split in stripes, each
// with its own mutex, so two publications into different channels rarely meet on a lock and no
// lock is global.
//
// One path. Every publication goes Hub::publish → Broker::publish → on_publication, here, which
// is the hub's one fan-out: on one node the broker is a core::LocalBroker (offsets, epochs,
// history through the HistoryWriter, presence), in a cluster a broker::RedisBroker. The hub
// holds no offsets of its own beyond the last one it fanned out, and never asks which broker it
// has.
//
// Order. on_publication encodes the frame once (PublicationEncoder) and posts it to each shard
// with subscribers while holding the channel's stripe lock; the broker calls it in offset order
// per channel (under its own lock), and an io_context runs posted handlers in order, so every
// subscriber sees a channel's messages in offset order, whatever thread published them.
//
// History. With history the broker calls on_publication only once the message is stored, so
// nothing is delivered or acknowledged that a restart could lose (within the store's
// durability, docs/guarantees.md), and a subscriber that recovers reads exactly what live
// subscribers got.
//
// Subscribing. The hub watches a channel while it has subscribers here. Its state is then a
// cache of where the broker stands, filled when the first local subscriber comes (watch, then
// read the position: at once from a LocalBroker, one round trip from Redis) and, in a cluster,
// checked again when the broker reconnects (hub_sync.cpp); subscribers whose position may have a
// gap are told so (Subscriber::on_gap).
//
// Locks. The hub never calls the broker with a stripe lock held; the broker may hold its own
// lock while calling on_publication (lock order: broker → hub stripe → a shard's io_context).
// The ChannelEvents observer hears of occupied and vacated channels under the stripe lock; its
// own lock (the webhooks' queue) comes after it, and it never calls back.
//
// Filters (docs/filters.md). A subscriber may come with a Filter over the publications' tags.
// Unfiltered subscribers are where they always were, and a publication reaches them at the cost
// it always had (one test more: does the channel have filters at all). Filtered subscribers are
// grouped by filter: per channel the stripe interns each distinct filter (its canonical text) in
// a slot, at most max_filters_per_channel; on_publication evaluates each slot's filter once,
// under the stripe lock, and the Delivery carries the answers as a bit mask; each shard keeps
// its filtered subscribers in one group per slot and hands the frame to the groups whose bit is
// set. So a publication costs one evaluation per distinct filter, not per subscriber.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"
#include "core/broker.hpp"
#include "core/channel_events.hpp"
#include "core/channel_map.hpp"
#include "core/filter.hpp"
#include "core/history.hpp"
#include "core/publication.hpp"
#include "core/subscriber.hpp"

namespace sb::core {

// Distinct filters one channel may have on this node at once (LIMIT_EXCEEDED beyond): each is a
// bit in a delivery's mask and one evaluation per publication.
inline constexpr std::size_t max_filters_per_channel = 64;

struct ChannelInfo {
  std::string channel;
  std::uint64_t subscribers = 0;
};

struct HubCounters {
  std::uint64_t publications = 0;  // messages accepted by publish()
  std::uint64_t deliveries = 0;    // frames handed to subscribers
  std::uint64_t subscriptions = 0;  // current
  std::uint64_t channels = 0;       // channels with subscribers now
  std::uint64_t channel_states = 0;    // channels the hub holds state for now (see max_channels)
  std::uint64_t channels_refused = 0;  // subscribes refused by max_channels
};

struct SubscribeResult {
  // The channel's position when the subscription started: the last message fanned out. Every
  // later one reaches the subscriber; earlier ones may still arrive live and are to be dropped.
  StreamPosition position;
  bool added = false;       // false: it was already subscribed
  // With `since`: whether every message after it was found (and is in `missed`, oldest first).
  // False when the epoch differs or the gap reaches beyond the retained history: the client has
  // to reload its state.
  bool recovered = false;
  std::vector<StoredMessage> missed;
};

class Hub final : private BrokerListener {
 public:
  // shards[i] runs the subscribers that subscribe with shard index i. At most 64 shards.
  // `broker` (a LocalBroker on one node) outlives the hub; the hub is its listener until the
  // hub's destructor detaches it (Broker::set_listener(nullptr)).
  // A recovery larger than `max_recovery_bytes` is refused (recovered: false): it would not fit
  // the connection's send queue.
  // At most `max_channels` channels have state here at once (0: no bound): a subscribe that
  // would create one more fails with LIMIT_EXCEEDED. A channel's state lives while it has
  // subscribers here, so the bound is on live channels.
  Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder, Broker& broker,
      std::size_t max_recovery_bytes = 2 * 1024 * 1024, std::size_t max_channels = 0);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Before the first subscribe (not thread-safe): who hears of channels occupied and vacated and
  // of presence joins and leaves (see ChannelEvents); null, the default, tells nobody. It
  // outlives the hub.
  void set_channel_events(ChannelEvents* events) noexcept { events_ = events; }

  // On shard `shard`'s thread. Adds `subscriber` to `channel` (a validated name): every
  // publication after the returned position reaches it. With `since`, also reads what it missed
  // from history (see SubscribeResult); live copies of those may still arrive and carry offsets
  // <= the last missed one.
  // With `filter`, only publications whose tags it matches reach the subscriber, and `missed`
  // holds only those. A subscriber already subscribed keeps the filter it came with (`filter`
  // then only sorts `missed`). LIMIT_EXCEEDED when the channel has max_filters_per_channel other
  // filters here already.
  Result<SubscribeResult> subscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber,
                                    const HistoryPolicy& policy = {}, const StreamPosition* since = nullptr,
                                    std::shared_ptr<const Filter> filter = nullptr);
  // On shard `shard`'s thread. Returns false if it was not subscribed.
  bool unsubscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber);

  // Any thread. Hands the message to the broker (`data` is serialized JSON), which gives it its
  // offset and brings it back to on_publication. `done` gets the position, or the error (then
  // nothing was delivered), on `where`: run at once when the caller already runs there (no
  // history, one node), else posted to it. So a caller never re-posts its reply. `from` is who
  // published it (Publication::from: a serialized JSON object the caller stamped), or empty;
  // `tags` its tags (Publication::tags, core/tags.hpp's encoding), or empty.
  void publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy,
               const boost::asio::any_io_executor& where, PublishDone done, std::string_view from = {},
               std::string_view tags = {});
  // `done` runs on whichever thread the broker completes on (the caller's, the history writer's
  // or the Redis broker's): for callers whose completion is thread-safe.
  void publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy, PublishDone done,
               std::string_view from = {}, std::string_view tags = {});
  // Without history, waiting for the position (tests, benchmarks).
  StreamPosition publish(std::string_view channel, std::string_view data);

  // Presence. Any thread. add() returns false if the client was already a member; remove()
  // returns false if it was not. The broker keeps the members (node- or cluster-wide); the hub
  // keeps this node's, so that a member Redis could not take now is added when the broker
  // reconnects. Members live as long as
  // their subscription: the session removes them before it unsubscribes.
  bool presence_add(std::string_view channel, Member member);
  bool presence_remove(std::string_view channel, std::string_view client);
  Result<std::vector<Member>> presence(std::string_view channel) const;
  Result<PresenceStats> presence_stats(std::string_view channel) const;

  // Any thread. Sends an already encoded frame that is not a publication (join, leave, typing,
  // client events) to the channel's subscribers except `exclude`: no offset, never stored.
  // A stream's frames carry its id and their sequence number (see Subscriber::deliver).
  void relay(std::string_view channel, SharedBytes frame, const Subscriber* exclude = nullptr,
             std::string_view stream = {}, std::uint64_t sequence = 0);

  // Any thread: a page of a channel's history, with its current position. With `filter`, the
  // messages of the page that it matches: the limit counts messages read, so a page may hold
  // fewer, even none, and `next` (HistoryPage::last_read) goes on after what was read.
  Result<HistoryPage> history(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query,
                              const Filter* filter = nullptr);

  // Any thread: channels with subscribers, optionally only those starting with `prefix`.
  std::vector<ChannelInfo> channels(std::string_view prefix = {}) const;
  HubCounters counters() const;
  std::size_t shard_count() const noexcept { return shards_.size(); }

 private:
  struct FilterSlot {
    std::shared_ptr<const Filter> filter;  // null: free
    std::uint32_t subscribers = 0;
  };
  struct ChannelState {
    std::uint64_t delivered_offset = 0;  // of the last publication fanned out
    std::string epoch;
    std::uint32_t subscribers = 0;
    // Subscribers on their way in (they keep the state alive while it syncs).
    std::uint32_t joining = 0;
    std::uint64_t shard_mask = 0;  // bit i: shard i has subscribers
    // The position is known once the first subscriber's watch and read are done; the channel is
    // watched from then until the state goes.
    bool synced = false;
    bool syncing = false;  // a subscriber is doing that now: later ones wait (Stripe::sync_done)
    std::unique_ptr<std::vector<Member>> members;  // this node's presence, only for channels that keep it
    // The distinct filters of the channel's filtered subscribers here, one slot each (its index
    // is its bit in Delivery::matches); null while nobody here filters, so the unfiltered path
    // tests one pointer.
    std::unique_ptr<std::vector<FilterSlot>> filters;
  };
  using ChannelMap = core::ChannelMap<ChannelState>;
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
    ChannelMap channels;
    std::condition_variable sync_done;  // a channel of the stripe finished syncing, or failed
  };

  using LocalMap = core::ChannelMap<std::vector<Subscriber*>>;
  // A shard's subscribers of one channel that share a filter: `slot` in the channel's filters.
  struct FilterGroup {
    std::size_t slot = 0;
    std::vector<Subscriber*> subscribers;
  };
  using FilteredMap = core::ChannelMap<std::vector<FilterGroup>>;
  struct alignas(64) Shard {
    boost::asio::io_context* context = nullptr;
    LocalMap subscribers;  // shard thread only: those without a filter
    FilteredMap filtered;  // shard thread only: those with one, by filter
    std::atomic<std::uint64_t> deliveries{0};
    std::atomic<std::uint64_t> subscriptions{0};
  };
  // A publication on its way to a shard: the channel it is for and its frame, in one allocation.
  struct Delivery {
    std::string channel;
    SharedBytes frame;
    std::uint64_t offset;  // 0: not a publication (relayed)
    const Subscriber* exclude = nullptr;
    std::string stream;
    bool gap = false;  // not a frame: tells the subscribers their position may have a gap
    std::string epoch;  // of a gap: with `offset`, the last position fanned out before it
    // The channel had filtered subscribers: those in groups whose slot's bit is set get it too.
    bool filtered = false;
    std::uint64_t matches = ~std::uint64_t{0};
  };

  Stripe& stripe_for(std::string_view channel) const;
  // Adds the subscriber to a synced channel's state and its shard's list.
  Result<SubscribeResult> add_locked(std::size_t shard_index, std::string_view channel, ChannelState& state,
                                     Subscriber& subscriber, const std::shared_ptr<const Filter>& filter);
  // hub_filters.cpp: the slot of `filter` in the channel's filters, taken once more (a new slot
  // when it is not there yet), or LIMIT_EXCEEDED; and its release.
  static Result<std::size_t> acquire_filter_locked(ChannelState& state, const std::shared_ptr<const Filter>& filter);
  static void release_filter_locked(ChannelState& state, std::size_t slot);
  // Which of the channel's filters the tags match, a bit per slot.
  static std::uint64_t match_locked(const ChannelState& state, std::string_view tags);
  // Removes a filtered subscriber from its shard's group; its slot, or nullopt if it was not one.
  static std::optional<std::size_t> remove_filtered(Shard& shard, std::string_view channel, Subscriber& subscriber);
  static bool is_filtered_subscriber(const Shard& shard, std::string_view channel, const Subscriber& subscriber);
  // Hands the delivery to the shard's filtered subscribers it matches; how many got it.
  static std::size_t deliver_filtered(Shard& shard, const Delivery& delivery);
  // What a subscriber with `since` missed, read from the broker (see SubscribeResult).
  void recover(std::string_view channel, const HistoryPolicy& policy, const StreamPosition& since,
               SubscribeResult& result, const Filter* filter);
  void fan_out_locked(const ChannelState& state, std::string_view channel, SharedBytes frame, std::uint64_t offset,
                      const Subscriber* exclude = nullptr, std::string_view stream = {},
                      std::uint64_t matches = ~std::uint64_t{0});
  // Posts `delivery` to each shard in `shard_mask`, under the channel's stripe lock.
  void post_locked(std::uint64_t shard_mask, std::shared_ptr<const Delivery> delivery);
  void deliver_local(std::size_t shard, const Delivery& delivery);
  // Drops a channel's state nobody uses any more. True when it was watched: the caller then
  // calls Broker::unwatch once it has let go of the stripe lock.
  [[nodiscard]] bool release_locked(Stripe& stripe, ChannelMap::iterator it);
  // Inserts a new channel's state, or LIMIT_EXCEEDED when max_channels are held.
  Result<ChannelState*> emplace_locked(Stripe& stripe, std::string_view channel, ChannelState state);
  // Removes this node's member `client`; true (and the member in `removed`) when it was one.
  bool presence_remove_local(std::string_view channel, std::string_view client, Member* removed = nullptr);

  // hub_sync.cpp: where the broker stands, and the gaps between it and this node.
  // Makes sure the broker sends the channel here and its position is known; on success the
  // caller holds one `joining` on the channel's state, on failure nothing.
  Status sync_channel(std::string_view channel, const HistoryPolicy& policy);
  // Watches the channel and reads its position, with no lock held (sync_channel's leader).
  Result<StreamPosition> watch_and_read(std::string_view channel, const HistoryPolicy& policy);
  void notify_gap_locked(const ChannelState& state, std::string_view channel);

  // BrokerListener
  void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t ts,
                      std::string_view data, std::string_view from, std::string_view tags) override;
  void on_relay(std::string_view channel, SharedBytes frame, std::string_view stream, std::uint64_t sequence) override;
  void on_reconnected() override;
  void on_sync_marker(std::string_view channel, const StreamPosition& position) override;

  const PublicationEncoder& encoder_;
  Broker& broker_;
  std::vector<std::unique_ptr<Shard>> shards_;
  mutable std::array<Stripe, channel_stripe_count> stripes_;
  std::atomic<std::uint64_t> publications_{0};
  std::size_t max_channels_;
  std::atomic<std::size_t> channel_count_{0};  // states in all stripes
  std::atomic<std::uint64_t> channels_refused_{0};
  std::size_t max_recovery_bytes_;
  ChannelEvents* events_ = nullptr;
};

}  // namespace sb::core
