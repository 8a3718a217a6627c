#pragma once
// The broker of a node alone: the one place that hands out offsets and epochs, stores history
// and keeps presence when there is no cluster. The hub sees it only as a core::Broker, so one
// node and a cluster share the hub's one fan-out path (BrokerListener::on_publication).
//
// State. Per channel: the last offset handed out, the last one stored (with history) and the
// epoch, plus the count of watches and the presence members. It lives only while the channel is
// watched (the hub has subscribers) or has publications on their way to the store: a channel
// nobody watches and without history gets position {1, fresh epoch} per publication and no
// state; a channel with history reads its position back from the HistoryStore, whose epoch stays
// the same for a channel never written, so dropping the state voids no position.
//
// History. A publication into a channel with history is queued to the HistoryWriter under the
// channel's lock (so in offset order). Once its batch is appended, the writer thread hands it to
// the listener and then completes the publisher: nothing is delivered or acknowledged before it
// is stored. A failed append fails the publications in it, and moves their channel to a new
// epoch: positions taken before cannot be trusted to recover across the hole.
//
// Threads and locks. Any thread may call. The channel table is split in stripes with a mutex
// each. The listener is called while the channel's stripe mutex is held (which is what keeps a
// channel's publications in offset order, whatever threads publish): lock order is LocalBroker
// stripe → hub stripe, and LocalBroker stripe → HistoryWriter mutex. watch(), positions(), read()
// and presence complete on the calling thread: a subscribe on one node never waits.
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/broker.hpp"
#include "core/channel_map.hpp"
#include "core/history_writer.hpp"

namespace sb::core {

class LocalBroker final : public Broker {
 public:
  // `history` may be null when no namespace keeps history; it must outlive the broker.
  // A publication that would create the state of one channel more than `max_channels` (0: no
  // bound) fails with LIMIT_EXCEEDED: with history, a publish into a channel nobody watches
  // holds state until it is stored, and a flood into many such channels must not grow the table
  // past limits.max_channels. Watches are bounded by the hub (one per channel it holds).
  explicit LocalBroker(HistoryStore* history = nullptr, std::size_t max_channels = 0);
  ~LocalBroker() override;
  LocalBroker(const LocalBroker&) = delete;
  LocalBroker& operator=(const LocalBroker&) = delete;

  // 48 random bits: short enough to stay inside std::string's small buffer, and a channel would
  // need millions of resets before two of its epochs could collide.
  static std::string new_epoch();

  void set_listener(BrokerListener* listener) override;
  void publish(std::string_view channel, std::string_view data, std::string_view from, std::string_view tags,
               std::int64_t ts,
               const HistoryPolicy& policy, const boost::asio::any_io_executor& where, PublishDone done) override;
  // One node: the hub delivers its own relays, and there is nobody else to send them to.
  void relay(std::string_view, const SharedBytes&, std::string_view, std::uint64_t) override {}
  void watch(std::string_view channel, const HistoryPolicy& policy, WatchDone done) override;
  void unwatch(std::string_view channel) override;
  // Never needed: a LocalBroker never reconnects (the hub sends markers only after on_reconnected).
  void send_sync_marker(std::string_view, const StreamPosition&) override {}
  Result<std::vector<StreamPosition>> positions(std::span<const std::string> channels) override;
  Result<HistoryPage> read(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query) override;
  Status presence_add(std::string_view channel, const Member& member) override;
  void presence_remove(std::string_view channel, std::string_view client) override;
  Result<std::vector<Member>> presence(std::string_view channel) override;

  // Channels it holds state for now: watched, or with publications on their way to the store.
  std::size_t channel_count() const noexcept { return channel_count_.load(std::memory_order_relaxed); }
  // Publications refused by max_channels.
  std::uint64_t channels_refused() const noexcept { return channels_refused_.load(std::memory_order_relaxed); }

 private:
  struct ChannelState {
    std::uint64_t last_offset = 0;    // handed to the last publication
    std::uint64_t stored_offset = 0;  // of the last publication handed to the listener
    std::string epoch;
    std::uint32_t watchers = 0;
    bool persistent = false;  // has history: its position comes from the store
    std::vector<Member> members;
  };
  using ChannelMap = core::ChannelMap<ChannelState>;
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
    ChannelMap channels;
  };

  Stripe& stripe_for(std::string_view channel) const;
  // The channel's state, created if needed (read from the store when `keep`); `bounded`: refused
  // with LIMIT_EXCEEDED when creating it would pass max_channels.
  Result<ChannelState*> state_locked(Stripe& stripe, std::string_view channel, bool keep, bool bounded = false);
  // Drops a channel's state once nothing needs it.
  void release_locked(Stripe& stripe, ChannelMap::iterator it);
  void on_written(std::vector<PendingPublication>& batch, const std::vector<HistoryEntry>& entries,
                  const Status& status);

  mutable std::array<Stripe, channel_stripe_count> stripes_;
  std::atomic<std::size_t> channel_count_{0};
  std::size_t max_channels_;
  std::atomic<std::uint64_t> channels_refused_{0};
  HistoryStore* store_;
  // Set before the first publication and cleared after the last (Broker::set_listener).
  BrokerListener* listener_ = nullptr;
  std::unique_ptr<HistoryWriter> writer_;  // last: its thread calls back into the broker
};

}  // namespace sb::core
