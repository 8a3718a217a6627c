#pragma once
// The hub: who is subscribed to what, and the fan-out of a publication to them.
//
// Threads. Subscribers live on shards (one per worker thread, each with its io_context). A shard's
// map from channel to subscribers is touched only on that shard's thread, so delivering takes no
// lock. What is shared across shards is the channel table: per channel, the last offset, the
// epoch, the subscriber count and which shards have subscribers. It is split in stripes, each
// with its own mutex, so two publications into different channels rarely meet on a lock and no
// lock is global.
//
// Order. publish() assigns the offset and posts the encoded frame to each shard with subscribers
// while holding the channel's stripe lock; an io_context runs posted handlers in order, so every
// subscriber sees a channel's messages in offset order, whatever thread published them.
//
// Encoding. The frame is encoded once per publication (PublicationEncoder) and the same bytes go
// to every subscriber on every shard.
//
// History. In a namespace with history, publish() assigns the offset, then hands the message to
// the HistoryWriter; subscribers get it and the publisher gets its offset only once the batch it
// is in has been appended to the store. So nothing is delivered or acknowledged that a restart
// could lose (within the store's durability, docs/guarantees.md), and a subscriber that
// recovers reads exactly what live subscribers got.
//
// Cluster. With a Broker (several nodes, docs/scaling.md) the broker assigns offsets, keeps
// history and presence, and sends every publication to every node watching its channel; the hub
// watches a channel while it has subscribers here, and fans out what arrives, in the order it
// arrives. A channel's state here is then a cache of where the cluster stands, filled when its
// first local subscriber comes (watch, then read the position) and checked again when the broker
// reconnects; subscribers whose position may have a gap are told so (Subscriber::on_gap).
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <functional>
#include <future>
#include <optional>

#include "common/error.hpp"
#include "core/broker.hpp"
#include "core/history.hpp"
#include "core/history_writer.hpp"
#include "core/publication.hpp"
#include "core/subscriber.hpp"

namespace sb::core {

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
  std::uint64_t channels_refused = 0;  // subscribes and publishes refused by max_channels
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

using PublishDone = std::function<void(Result<StreamPosition>)>;

class Hub final : private BrokerListener {
 public:
  // shards[i] runs the subscribers that subscribe with shard index i. At most 64 shards.
  // `history` may be null when no namespace keeps history.
  // A recovery larger than `max_recovery_bytes` is refused (recovered: false): it would not fit
  // the connection's send queue.
  // With a `broker`, `history` is unused: the broker keeps history.
  // At most `max_channels` channels have state at once (0: no bound): a subscribe or a publish
  // that would create one more fails with LIMIT_EXCEEDED. A channel's state lives while it has
  // subscribers or publications on their way to the store, so the bound is on live channels.
  Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder, HistoryStore* history = nullptr,
      std::size_t max_recovery_bytes = 2 * 1024 * 1024, Broker* broker = nullptr, std::size_t max_channels = 0);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // On shard `shard`'s thread. Adds `subscriber` to `channel` (a validated name): every
  // publication after the returned position reaches it. With `since`, also reads what it missed
  // from history (see SubscribeResult); live copies of those may still arrive and carry offsets
  // <= the last missed one.
  Result<SubscribeResult> subscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber,
                                    const HistoryPolicy& policy = {}, const StreamPosition* since = nullptr);
  // On shard `shard`'s thread. Returns false if it was not subscribed.
  bool unsubscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber);

  // Any thread. Assigns the next offset, encodes once, fans out; `data` is serialized JSON. `done`
  // gets the position: at once without history, from the history writer's thread after the
  // append with it (or the storage error, and then nothing was delivered).
  void publish(std::string_view channel, std::string_view data, const HistoryPolicy& policy, PublishDone done);
  // Without history and without a callback: the position at once.
  StreamPosition publish(std::string_view channel, std::string_view data);

  // Presence. Any thread. add() returns false if the client was already a member; remove()
  // returns false if it was not. In a cluster, a member Redis could not take now is added when
  // the broker reconnects. Members live as long as
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

  // Any thread: a page of a channel's history, with its current position.
  Result<HistoryPage> history(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query);

  // Any thread: channels with subscribers, optionally only those starting with `prefix`.
  std::vector<ChannelInfo> channels(std::string_view prefix = {}) const;
  HubCounters counters() const;
  std::size_t shard_count() const noexcept { return shards_.size(); }

 private:
  struct ChannelState {
    std::uint64_t last_offset = 0;       // assigned to the last publication
    std::uint64_t delivered_offset = 0;  // of the last publication fanned out (with history: stored)
    std::string epoch;
    std::uint32_t subscribers = 0;
    // Cluster: subscribers on their way in (they keep the state alive while it syncs).
    std::uint32_t joining = 0;
    std::uint64_t shard_mask = 0;  // bit i: shard i has subscribers
    bool persistent = false;       // has history: its position comes from the store
    // Cluster: the position is known once the first subscriber's watch and read are done.
    bool synced = true;
    std::unique_ptr<std::vector<Member>> members;  // presence, only for channels that keep it
    // Cluster, while not synced: what later subscribers wait for. Behind a pointer: one node
    // alone pays 8 bytes per channel for it, not a future's 16.
    std::unique_ptr<std::shared_future<Status>> ready;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using ChannelMap = std::unordered_map<std::string, ChannelState, StringHash, std::equal_to<>>;
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
    ChannelMap channels;
  };
  static constexpr std::size_t stripe_count = 64;

  using LocalMap = std::unordered_map<std::string, std::vector<Subscriber*>, StringHash, std::equal_to<>>;
  struct alignas(64) Shard {
    boost::asio::io_context* context = nullptr;
    LocalMap subscribers;  // shard thread only
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
  };

  Stripe& stripe_for(std::string_view channel) const;
  // The channel's state, created if needed (from the history store when the policy keeps history).
  Result<ChannelState*> state_locked(Stripe& stripe, std::string_view channel, const HistoryPolicy& policy);
  std::string new_epoch();
  void fan_out_locked(const ChannelState& state, std::string_view channel, SharedBytes frame, std::uint64_t offset,
                      const Subscriber* exclude = nullptr, std::string_view stream = {});
  // Posts `delivery` to each shard in `shard_mask`, under the channel's stripe lock.
  void post_locked(std::uint64_t shard_mask, std::shared_ptr<const Delivery> delivery);
  void deliver_local(std::size_t shard, const Delivery& delivery);
  // Cluster: makes sure the broker sends this channel here and its position is known; the
  // caller holds one `joining` on the channel's state afterwards, success or not.
  Status join_cluster_channel(std::string_view channel);
  // Drops a channel's state nobody uses any more (and stops watching it).
  void release_locked(Stripe& stripe, ChannelMap::iterator it);
  // Inserts a new channel's state, or LIMIT_EXCEEDED when max_channels are held.
  Result<ChannelState*> emplace_locked(Stripe& stripe, std::string_view channel, ChannelState state);
  bool presence_remove_local(std::string_view channel, std::string_view client);
  void notify_gap_locked(const ChannelState& state, std::string_view channel);
  // BrokerListener
  void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t ts,
                      std::string_view data) override;
  void on_relay(std::string_view channel, SharedBytes frame, std::string_view stream, std::uint64_t sequence) override;
  void on_reconnected() override;
  void on_marker(std::string_view channel, const StreamPosition& position) override;
  void on_history_written(std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                          const Status& status);

  const PublicationEncoder& encoder_;
  std::vector<std::unique_ptr<Shard>> shards_;
  mutable std::array<Stripe, stripe_count> stripes_;
  std::atomic<std::uint64_t> publications_{0};
  std::size_t max_channels_;
  std::atomic<std::size_t> channel_count_{0};  // states in all stripes
  std::atomic<std::uint64_t> channels_refused_{0};
  HistoryStore* history_;
  std::size_t max_recovery_bytes_;
  Broker* broker_;
  std::unique_ptr<HistoryWriter> writer_;  // last: its thread calls back into the hub
};

}  // namespace sb::core
