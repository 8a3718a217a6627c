// The broker of a node alone: offsets and epochs, history before delivery, failed appends, the
// executor a publisher's answer comes on, and order under several publishing threads.
#include "core/local_broker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "storage/memory_history.hpp"

namespace sb::core {
namespace {

// What the hub would get.
class Recorder final : public BrokerListener {
 public:
  void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t,
                      std::string_view data, std::string_view, std::string_view) override {
    std::lock_guard lock(mutex);
    seen.push_back({std::string(channel), std::string(epoch), offset, std::string(data)});
    if (on_each) on_each(channel, offset);
  }
  void on_relay(std::string_view, SharedBytes, std::string_view, std::uint64_t) override {}
  void on_reconnected() override { ++reconnections; }
  void on_sync_marker(std::string_view, const StreamPosition&) override {}
  struct Seen {
    std::string channel, epoch;
    std::uint64_t offset;
    std::string data;
  };
  std::vector<Seen> copy() {
    std::lock_guard lock(mutex);
    return seen;
  }
  std::mutex mutex;
  std::vector<Seen> seen;
  std::function<void(std::string_view, std::uint64_t)> on_each;
  int reconnections = 0;
};

// A memory store whose appends can be made to fail, as a full disk would.
class FailingStore final : public HistoryStore {
 public:
  Result<StreamPosition> position(std::string_view channel) override { return inner.position(channel); }
  Status append(std::span<const HistoryEntry> entries) override {
    if (fail) return make_error(ErrorCode::unavailable, "disk full");
    return inner.append(entries);
  }
  Result<HistoryPage> read(std::string_view channel, const HistoryQuery& query) override {
    return inner.read(channel, query);
  }
  void expire(std::int64_t now_ms) override { inner.expire(now_ms); }
  storage::MemoryHistory inner;
  std::atomic<bool> fail{false};
};

const HistoryPolicy none{};
const HistoryPolicy keep{10, std::chrono::seconds(0)};

Result<StreamPosition> publish(Broker& broker, std::string_view channel, std::string_view data,
                               const HistoryPolicy& policy = none) {
  std::promise<Result<StreamPosition>> p;
  broker.publish(channel, data, {}, {}, 1000, policy, {}, [&](Result<StreamPosition> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

Status watch(Broker& broker, std::string_view channel, const HistoryPolicy& policy = none) {
  std::optional<Status> status;
  broker.watch(channel, policy, [&](Status s) { status = std::move(s); });
  EXPECT_TRUE(status.has_value()) << "a LocalBroker answers a watch before it returns";
  return status.value_or(Status(make_error(ErrorCode::timeout, "no answer")));
}

StreamPosition position_of(Broker& broker, const std::string& channel) {
  auto p = broker.positions(std::span<const std::string>(&channel, 1));
  EXPECT_TRUE(p);
  return p ? p->front() : StreamPosition{};
}

TEST(LocalBroker, AWatchedChannelCountsOffsetsInOneEpochAndHandsThemOverInOrder) {
  Recorder recorder;
  LocalBroker broker;
  broker.set_listener(&recorder);
  ASSERT_TRUE(watch(broker, "room"));
  const StreamPosition start = position_of(broker, "room");
  EXPECT_EQ(start.offset, 0u);
  EXPECT_EQ(start.epoch.size(), 12u);
  for (int i = 1; i <= 3; ++i) {
    auto p = publish(broker, "room", std::to_string(i));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->offset, static_cast<std::uint64_t>(i));
    EXPECT_EQ(p->epoch, start.epoch);
  }
  auto seen = recorder.copy();
  ASSERT_EQ(seen.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].offset, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(seen[i].data, std::to_string(i + 1));
    EXPECT_EQ(seen[i].epoch, start.epoch);
  }
  EXPECT_EQ(position_of(broker, "room").offset, 3u);
  broker.set_listener(nullptr);
}

TEST(LocalBroker, AChannelNobodyWatchesWithoutHistoryKeepsNoStateAndStartsAfreshEachTime) {
  Recorder recorder;
  LocalBroker broker;
  broker.set_listener(&recorder);
  auto a = publish(broker, "nobody", "x");
  auto b = publish(broker, "nobody", "y");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->offset, 1u);
  EXPECT_EQ(b->offset, 1u);
  EXPECT_NE(a->epoch, b->epoch);
  EXPECT_TRUE(recorder.copy().empty());
  EXPECT_EQ(broker.channel_count(), 0u);
  // Watched, published, unwatched: the next watch is a new start.
  ASSERT_TRUE(watch(broker, "room"));
  ASSERT_TRUE(publish(broker, "room", "1"));
  const StreamPosition before = position_of(broker, "room");
  broker.unwatch("room");
  EXPECT_EQ(broker.channel_count(), 0u);
  ASSERT_TRUE(watch(broker, "room"));
  const StreamPosition after = position_of(broker, "room");
  EXPECT_NE(after.epoch, before.epoch);
  EXPECT_EQ(after.offset, 0u);
  broker.set_listener(nullptr);
}

TEST(LocalBroker, WatchesAreCountedSoAnOldUnwatchDoesNotUndoANewWatch) {
  LocalBroker broker;
  ASSERT_TRUE(watch(broker, "room"));
  ASSERT_TRUE(watch(broker, "room"));  // a new subscriber's, before the old state's unwatch
  ASSERT_TRUE(publish(broker, "room", "1"));
  const StreamPosition before = position_of(broker, "room");
  broker.unwatch("room");
  EXPECT_EQ(broker.channel_count(), 1u);
  ASSERT_TRUE(publish(broker, "room", "2"));
  EXPECT_EQ(position_of(broker, "room").offset, 2u);
  EXPECT_EQ(position_of(broker, "room").epoch, before.epoch);
  broker.unwatch("room");
  EXPECT_EQ(broker.channel_count(), 0u);
}

TEST(LocalBroker, WithHistoryNothingIsDeliveredOrAcknowledgedBeforeItIsStored) {
  storage::MemoryHistory store;
  Recorder recorder;
  LocalBroker broker{&store};
  broker.set_listener(&recorder);
  std::atomic<std::uint64_t> stored_when_delivered{0};
  recorder.on_each = [&](std::string_view channel, std::uint64_t) {
    stored_when_delivered = store.position(channel)->offset;
  };
  ASSERT_TRUE(watch(broker, "log", keep));
  std::promise<std::uint64_t> stored_when_acknowledged;
  broker.publish("log", "\"a\"", {}, {}, 1000, keep, {}, [&](Result<StreamPosition> r) {
    EXPECT_TRUE(r);
    stored_when_acknowledged.set_value(store.position("log")->offset);
  });
  EXPECT_EQ(stored_when_acknowledged.get_future().get(), 1u);
  EXPECT_EQ(stored_when_delivered.load(), 1u);
  ASSERT_EQ(recorder.copy().size(), 1u);
  broker.set_listener(nullptr);
}

// A memory store whose appends wait until the test opens the gate: publications stay on their
// way to the store meanwhile.
class GatedStore final : public HistoryStore {
 public:
  Result<StreamPosition> position(std::string_view channel) override { return inner.position(channel); }
  Status append(std::span<const HistoryEntry> entries) override {
    std::unique_lock lock(mutex);
    opened.wait(lock, [this] { return open; });
    return inner.append(entries);
  }
  Result<HistoryPage> read(std::string_view channel, const HistoryQuery& query) override {
    return inner.read(channel, query);
  }
  void expire(std::int64_t now_ms) override { inner.expire(now_ms); }
  void open_gate() {
    std::lock_guard lock(mutex);
    open = true;
    opened.notify_all();
  }
  storage::MemoryHistory inner;
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
};

TEST(LocalBroker, PublishesIntoUnwatchedChannelsWithHistoryStopAtMaxChannelsWhileTheyWaitForTheStore) {
  GatedStore store;
  Recorder recorder;
  LocalBroker broker{&store, /*max_channels=*/2};
  broker.set_listener(&recorder);
  std::vector<std::future<Result<StreamPosition>>> pending;
  for (const char* channel : {"log-0", "log-1"}) {
    auto p = std::make_shared<std::promise<Result<StreamPosition>>>();
    pending.push_back(p->get_future());
    broker.publish(channel, "1", {}, {}, 1000, keep, {}, [p](Result<StreamPosition> r) { p->set_value(std::move(r)); });
  }
  EXPECT_EQ(broker.channel_count(), 2u);
  auto refused = publish(broker, "log-2", "1", keep);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::limit_exceeded);
  EXPECT_EQ(broker.channels_refused(), 1u);
  store.open_gate();
  for (auto& f : pending) EXPECT_TRUE(f.get());
  // Stored: the store holds their positions, the table lets them go, and the next channel fits.
  EXPECT_EQ(broker.channel_count(), 0u);
  auto after_store = publish(broker, "log-2", "1", keep);
  ASSERT_TRUE(after_store);
  EXPECT_EQ(after_store->offset, 1u);
  broker.set_listener(nullptr);
}

TEST(LocalBroker, AChannelWithHistoryKeepsItsPositionInTheStoreNotInMemory) {
  storage::MemoryHistory store;
  LocalBroker broker{&store};
  // Never written: the store's epoch for it is stable, so a position read now stays good.
  const StreamPosition empty = position_of(broker, "log");
  auto first = publish(broker, "log", "1", keep);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->offset, 1u);
  EXPECT_EQ(first->epoch, empty.epoch);
  EXPECT_EQ(broker.channel_count(), 0u) << "nothing on its way to the store, nobody watching";
  auto second = publish(broker, "log", "2", keep);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->offset, 2u);
  EXPECT_EQ(second->epoch, first->epoch);
  auto page = broker.read("log", keep, HistoryQuery{});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->position.offset, 2u);
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[1].data, "2");
}

TEST(LocalBroker, AFailedAppendFailsItsPublicationsAndMovesTheChannelToANewEpoch) {
  FailingStore store;
  Recorder recorder;
  LocalBroker broker{&store};
  broker.set_listener(&recorder);
  ASSERT_TRUE(watch(broker, "log", keep));
  auto ok = publish(broker, "log", "1", keep);
  ASSERT_TRUE(ok);
  store.fail = true;
  auto failed = publish(broker, "log", "2", keep);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::unavailable);
  EXPECT_EQ(recorder.copy().size(), 1u) << "not stored, so not delivered";
  const StreamPosition now = position_of(broker, "log");
  EXPECT_NE(now.epoch, ok->epoch);
  EXPECT_EQ(now.offset, 1u);
  store.fail = false;
  auto after = publish(broker, "log", "3", keep);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->epoch, now.epoch);
  EXPECT_EQ(after->offset, 3u) << "the failed offset is never handed out again";
  auto seen = recorder.copy();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].offset, 3u);
  EXPECT_EQ(seen[1].epoch, now.epoch);
  broker.set_listener(nullptr);
}

TEST(LocalBroker, TheAnswerComesOnTheExecutorThePublisherGave) {
  storage::MemoryHistory store;
  LocalBroker broker{&store};
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread worker([&] { io.run(); });
  const std::thread::id worker_id = worker.get_id();
  for (const HistoryPolicy* policy : {&none, &keep}) {
    ASSERT_TRUE(watch(broker, "room", *policy));  // so that the one without history has a position too
    std::promise<std::thread::id> answered_on;
    broker.publish("room", "1", {}, {}, 1000, *policy, io.get_executor(),
                   [&](Result<StreamPosition> r) {
                     EXPECT_TRUE(r);
                     answered_on.set_value(std::this_thread::get_id());
                   });
    EXPECT_EQ(answered_on.get_future().get(), worker_id) << (policy->enabled() ? "with history" : "without");
    broker.unwatch("room");
  }
  // From the worker itself, the answer comes at once (no post).
  std::promise<bool> at_once;
  boost::asio::post(io, [&] {
    bool done = false;
    broker.publish("other", "1", {}, {}, 1000, none, io.get_executor(), [&](Result<StreamPosition>) { done = true; });
    at_once.set_value(done);
  });
  EXPECT_TRUE(at_once.get_future().get());
  work.reset();
  worker.join();
}

TEST(LocalBroker, AChannelsPublicationsReachTheListenerInOffsetOrderWhateverThreadPublishes) {
  for (bool history : {false, true}) {
    storage::MemoryHistory store;
    Recorder recorder;
    LocalBroker broker{&store};
    broker.set_listener(&recorder);
    const HistoryPolicy policy = history ? HistoryPolicy{100000, {}} : none;
    ASSERT_TRUE(watch(broker, "room", policy));
    constexpr int threads = 4, each = 500;
    std::atomic<int> answered{0};
    std::vector<std::thread> publishers;
    for (int t = 0; t < threads; ++t)
      publishers.emplace_back([&] {
        for (int i = 0; i < each; ++i)
          broker.publish("room", "x", {}, {}, 1000, policy, {}, [&](Result<StreamPosition> r) {
            EXPECT_TRUE(r);
            ++answered;
          });
      });
    for (auto& t : publishers) t.join();
    broker.set_listener(nullptr);  // stores what is queued and hands it over first
    EXPECT_EQ(answered.load(), threads * each);
    auto seen = recorder.copy();
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(threads * each)) << (history ? "with history" : "without");
    for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].offset, i + 1) << "at " << i;
  }
}

TEST(LocalBroker, PresenceLivesWithTheWatchedChannel) {
  LocalBroker broker;
  EXPECT_FALSE(broker.presence_add("room", Member{"c1", "u", ""})) << "only a watched channel has members";
  ASSERT_TRUE(watch(broker, "room"));
  ASSERT_TRUE(broker.presence_add("room", Member{"c1", "u", ""}));
  ASSERT_TRUE(broker.presence_add("room", Member{"c2", "v", "{}"}));
  EXPECT_EQ(broker.presence("room")->size(), 2u);
  broker.presence_remove("room", "c1");
  auto members = broker.presence("room");
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ(members->front().client, "c2");
  broker.presence_remove("room", "c2");
  broker.unwatch("room");
  EXPECT_EQ(broker.channel_count(), 0u);
  EXPECT_TRUE(broker.presence("room")->empty());
}

}  // namespace
}  // namespace sb::core
