// The hub with a history store: acknowledgement after the append, recovery from `since`.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "storage/memory_history.hpp"

namespace sb::core {
namespace {

class TextEncoder : public PublicationEncoder {
 public:
  SharedBytes encode(const Publication& p) const override {
    return make_shared_bytes(std::to_string(p.offset) + ":" + std::string(p.data));
  }
};

class Recorder : public Subscriber {
 public:
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t offset, std::string_view) override {
    frames.push_back(*frame);
    offsets.push_back(offset);
  }
  std::vector<std::string> frames;
  std::vector<std::uint64_t> offsets;
};

class HubHistoryTest : public ::testing::Test {
 protected:
  boost::asio::io_context shard;
  TextEncoder encoder;
  storage::MemoryHistory store;
  LocalBroker broker{&store};
  Hub hub{{&shard}, encoder, broker};
  HistoryPolicy keep{5, std::chrono::seconds(0)};

  // Publishes and waits for the acknowledgement, which comes from the writer thread.
  StreamPosition publish(const std::string& channel, const std::string& data) {
    std::atomic<bool> done{false};
    StreamPosition position;
    hub.publish(channel, data, keep, [&](Result<StreamPosition> r) {
      position = *r;
      done = true;
    });
    while (!done) std::this_thread::yield();
    return position;
  }
  void run() {
    shard.restart();
    shard.poll();
  }
};

TEST_F(HubHistoryTest, SubscribersGetAMessageOnlyOnceItIsStored) {
  Recorder r;
  ASSERT_TRUE(hub.subscribe(0, "c", r, keep).ok());
  auto p = publish("c", "\"a\"");
  EXPECT_EQ(p.offset, 1u);
  EXPECT_EQ(store.position("c")->offset, 1u);  // stored before the acknowledgement
  run();
  EXPECT_EQ(r.frames, std::vector<std::string>{"1:\"a\""});
}

TEST_F(HubHistoryTest, RecoversWhatWasMissedSinceAPosition) {
  Recorder first;
  auto start = hub.subscribe(0, "c", first, keep);
  for (int i = 1; i <= 4; ++i) publish("c", std::to_string(i));
  Recorder again;
  StreamPosition since{1, start->position.epoch};
  auto result = hub.subscribe(0, "c", again, keep, &since);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->recovered);
  ASSERT_EQ(result->missed.size(), 3u);
  EXPECT_EQ(result->missed[0].offset, 2u);
  EXPECT_EQ(result->missed[2].data, "4");
  EXPECT_EQ(result->position.offset, 4u);
}

TEST_F(HubHistoryTest, NothingMissedIsRecoveredToo) {
  Recorder r;
  auto start = hub.subscribe(0, "c", r, keep);
  publish("c", "1");
  StreamPosition since{1, start->position.epoch};
  Recorder again;
  auto result = hub.subscribe(0, "c", again, keep, &since);
  EXPECT_TRUE(result->recovered);
  EXPECT_TRUE(result->missed.empty());
}

TEST_F(HubHistoryTest, AnotherEpochOrAGapBeyondTheHistoryIsNotRecovered) {
  Recorder r;
  auto start = hub.subscribe(0, "c", r, keep);
  for (int i = 1; i <= 10; ++i) publish("c", std::to_string(i));  // only 6..10 are kept
  Recorder a, b, c;
  StreamPosition other_epoch{9, "000000000000"};
  EXPECT_FALSE(hub.subscribe(0, "c", a, keep, &other_epoch)->recovered);
  StreamPosition too_old{2, start->position.epoch};
  auto gap = hub.subscribe(0, "c", b, keep, &too_old);
  EXPECT_FALSE(gap->recovered);
  EXPECT_TRUE(gap->missed.empty());
  StreamPosition from_the_future{99, start->position.epoch};
  EXPECT_FALSE(hub.subscribe(0, "c", c, keep, &from_the_future)->recovered);
  StreamPosition just_in_time{5, start->position.epoch};
  auto ok = hub.subscribe(0, "c", c, keep, &just_in_time);
  EXPECT_TRUE(ok->recovered);
  EXPECT_EQ(ok->missed.size(), 5u);
}

TEST_F(HubHistoryTest, HistoryPagesCarryTheChannelPosition) {
  for (int i = 1; i <= 3; ++i) publish("c", std::to_string(i));
  auto page = hub.history("c", keep, HistoryQuery{0, 0, 2, true});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->position.offset, 3u);
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].offset, 3u);
  auto none = hub.history("plain", HistoryPolicy{}, HistoryQuery{});
  EXPECT_TRUE(none->messages.empty());
}

}  // namespace
}  // namespace sb::core
