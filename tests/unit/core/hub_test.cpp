#include "core/hub.hpp"
#include "core/local_broker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace sb::core {
namespace {

// Encodes "channel|offset|data" so tests can read what the hub produced.
class TextEncoder : public PublicationEncoder {
 public:
  SharedBytes encode(const Publication& p) const override {
    ++calls;
    return make_shared_bytes(std::string(p.channel) + "|" + std::to_string(p.offset) + "|" + std::string(p.data));
  }
  mutable int calls = 0;
};

class Recorder : public Subscriber {
 public:
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t, std::string_view) override {
    frames.push_back(*frame);
    pointers.push_back(frame.get());
  }
  std::vector<std::string> frames;
  std::vector<const std::string*> pointers;
};

class HubTest : public ::testing::Test {
 protected:
  boost::asio::io_context shard0, shard1;
  TextEncoder encoder;
  LocalBroker broker;
  Hub hub{{&shard0, &shard1}, encoder, broker};
  void run() {
    shard0.restart();
    shard0.poll();
    shard1.restart();
    shard1.poll();
  }
};

TEST_F(HubTest, DeliversToSubscribersOfTheChannelOnly) {
  Recorder a, b, other;
  bool added = false;
  added = hub.subscribe(0, "room", a)->added;
  EXPECT_TRUE(added);
  added = hub.subscribe(1, "room", b)->added;
  added = hub.subscribe(0, "elsewhere", other)->added;
  auto p = hub.publish("room", R"({"x":1})");
  run();
  EXPECT_EQ(p.offset, 1u);
  EXPECT_EQ(a.frames, std::vector<std::string>{R"(room|1|{"x":1})"});
  EXPECT_EQ(b.frames, std::vector<std::string>{R"(room|1|{"x":1})"});
  EXPECT_TRUE(other.frames.empty());
}

TEST_F(HubTest, EncodesOncePerPublicationAndSharesTheBytes) {
  Recorder a, b, c;
  (void)hub.subscribe(0, "room", a);
  (void)hub.subscribe(0, "room", b);
  (void)hub.subscribe(1, "room", c);
  hub.publish("room", "1");
  run();
  EXPECT_EQ(encoder.calls, 1);
  ASSERT_EQ(a.pointers.size(), 1u);
  EXPECT_EQ(a.pointers[0], b.pointers[0]);
  EXPECT_EQ(a.pointers[0], c.pointers[0]);
}

TEST_F(HubTest, OffsetsIncreaseByOneAndOrderIsKept) {
  Recorder a;
  auto start = hub.subscribe(1, "room", a)->position;
  EXPECT_EQ(start.offset, 0u);
  for (int i = 0; i < 100; ++i) hub.publish("room", std::to_string(i));
  run();
  ASSERT_EQ(a.frames.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.frames[i], "room|" + std::to_string(i + 1) + "|" + std::to_string(i));
}

TEST_F(HubTest, SubscribingTwiceIsOneSubscription) {
  Recorder a;
  bool added;
  added = hub.subscribe(0, "room", a)->added;
  added = hub.subscribe(0, "room", a)->added;
  EXPECT_FALSE(added);
  hub.publish("room", "x");
  run();
  EXPECT_EQ(a.frames.size(), 1u);
  EXPECT_EQ(hub.counters().subscriptions, 1u);
}

TEST_F(HubTest, UnsubscribedReceivesNothingAndEmptyChannelsVanish) {
  Recorder a, b;
  (void)hub.subscribe(0, "room", a);
  (void)hub.subscribe(1, "room", b);
  EXPECT_TRUE(hub.unsubscribe(0, "room", a));
  EXPECT_FALSE(hub.unsubscribe(0, "room", a));
  hub.publish("room", "x");
  run();
  EXPECT_TRUE(a.frames.empty());
  EXPECT_EQ(b.frames.size(), 1u);
  ASSERT_EQ(hub.channels().size(), 1u);
  EXPECT_EQ(hub.channels()[0].subscribers, 1u);
  hub.unsubscribe(1, "room", b);
  EXPECT_TRUE(hub.channels().empty());
  EXPECT_EQ(hub.counters().channels, 0u);
}

TEST_F(HubTest, AChannelThatStartsAgainGetsANewEpoch) {
  Recorder a;
  auto first = hub.subscribe(0, "room", a)->position;
  hub.publish("room", "x");
  hub.unsubscribe(0, "room", a);
  auto second = hub.subscribe(0, "room", a)->position;
  EXPECT_NE(first.epoch, second.epoch);
  EXPECT_EQ(second.offset, 0u);
  EXPECT_EQ(first.epoch.size(), 12u);
}

TEST_F(HubTest, ListsChannelsByPrefixWithCounts) {
  Recorder a, b;
  (void)hub.subscribe(0, "chat:1", a);
  (void)hub.subscribe(1, "chat:1", b);
  (void)hub.subscribe(0, "chat:2", a);
  (void)hub.subscribe(0, "news", a);
  auto chats = hub.channels("chat:");
  ASSERT_EQ(chats.size(), 2u);
  EXPECT_EQ(chats[0].channel, "chat:1");
  EXPECT_EQ(chats[0].subscribers, 2u);
  EXPECT_EQ(chats[1].channel, "chat:2");
  EXPECT_EQ(hub.channels().size(), 3u);
  hub.publish("news", "n");
  run();
  auto c = hub.counters();
  EXPECT_EQ(c.publications, 1u);
  EXPECT_EQ(c.deliveries, 1u);
  EXPECT_EQ(c.subscriptions, 4u);
}

TEST_F(HubTest, PublishingWithoutSubscribersDeliversNothingAndKeepsNoState) {
  auto p = hub.publish("nobody", "x");
  EXPECT_EQ(p.offset, 1u);
  EXPECT_EQ(encoder.calls, 0);
  EXPECT_EQ(hub.counters().channels, 0u);
}

}  // namespace
}  // namespace sb::core
