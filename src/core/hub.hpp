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

#include "common/error.hpp"
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
};

class Hub {
 public:
  // shards[i] runs the subscribers that subscribe with shard index i. At most 64 shards.
  Hub(std::vector<boost::asio::io_context*> shards, const PublicationEncoder& encoder);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // On shard `shard`'s thread. Adds `subscriber` to `channel` (a validated name) and returns the
  // channel's position at that instant: every publication after it reaches the subscriber.
  // Returns false in `added` if it was already subscribed.
  StreamPosition subscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber, bool& added);
  // On shard `shard`'s thread. Returns false if it was not subscribed.
  bool unsubscribe(std::size_t shard, std::string_view channel, Subscriber& subscriber);

  // Any thread. Assigns the next offset, encodes once, fans out. `data` is serialized JSON.
  StreamPosition publish(std::string_view channel, std::string_view data);

  // Any thread: channels with subscribers, optionally only those starting with `prefix`.
  std::vector<ChannelInfo> channels(std::string_view prefix = {}) const;
  HubCounters counters() const;
  std::size_t shard_count() const noexcept { return shards_.size(); }

 private:
  struct ChannelState {
    std::uint64_t last_offset = 0;
    std::uint64_t epoch = 0;
    std::uint32_t subscribers = 0;
    std::uint64_t shard_mask = 0;  // bit i: shard i has subscribers
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
  };

  Stripe& stripe_for(std::string_view channel) const;
  ChannelState& state_locked(Stripe& stripe, std::string_view channel);
  std::string epoch_string(std::uint64_t epoch) const;
  void deliver_local(std::size_t shard, const Delivery& delivery);

  const PublicationEncoder& encoder_;
  std::vector<std::unique_ptr<Shard>> shards_;
  mutable std::array<Stripe, stripe_count> stripes_;
  std::uint64_t epoch_base_;  // random per process: epochs never repeat across restarts
  std::atomic<std::uint64_t> next_epoch_{1};
  std::atomic<std::uint64_t> publications_{0};
};

}  // namespace sb::core
