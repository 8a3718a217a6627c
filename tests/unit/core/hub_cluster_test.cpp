// The hub with a broker: what it asks of the broker, and what it does with what arrives. The
// broker here is a scripted stand-in that answers at once; the Redis one is tested against a
// real redis-server in tests/unit/broker and tests/integration/cluster_test.cpp.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/hub.hpp"

namespace sb::core {
namespace {

class TextEncoder : public PublicationEncoder {
 public:
  SharedBytes encode(const Publication& p) const override {
    return make_shared_bytes(std::string(p.channel) + "|" + std::to_string(p.offset) + "|" + std::string(p.data));
  }
};

// Remembers calls; positions and publishes come from `where`.
class ScriptedBroker : public Broker {
 public:
  void set_listener(BrokerListener* l) override { listener = l; }
  void publish(std::string_view channel, std::string_view data, std::string_view from, std::string_view tags,
               std::int64_t ts,
               const HistoryPolicy&, const boost::asio::any_io_executor&, PublishDone done) override {
    auto& p = where[std::string(channel)];
    if (p.epoch.empty()) p.epoch = "e1";
    ++p.offset;
    done(p);
    listener->on_publication(channel, p.epoch, p.offset, ts, data, from, tags);  // as Redis would send it back
  }
  void relay(std::string_view channel, const SharedBytes& frame, std::string_view, std::uint64_t) override {
    relayed.push_back(std::string(channel) + ":" + *frame);
  }
  void watch(std::string_view channel, const HistoryPolicy&, WatchDone done) override {
    calls.push_back("watch " + std::string(channel));
    done(Ok{});
  }
  void unwatch(std::string_view channel) override { calls.push_back("unwatch " + std::string(channel)); }
  // As if everything in flight had arrived: the marker comes back at once.
  void send_sync_marker(std::string_view channel, const StreamPosition& p) override {
    listener->on_sync_marker(channel, p);
  }
  Result<std::vector<StreamPosition>> positions(std::span<const std::string> channels) override {
    std::vector<StreamPosition> out;
    for (const auto& c : channels) {
      auto& p = where[c];
      if (p.epoch.empty()) p.epoch = "e1";
      out.push_back(p);
    }
    return out;
  }
  Result<HistoryPage> read(std::string_view channel, const HistoryPolicy&, const HistoryQuery& q) override {
    HistoryPage page;
    page.position = where[std::string(channel)];
    for (const auto& m : stored[std::string(channel)])
      if (m.offset > q.after) page.messages.push_back(m);
    page.first_offset = stored[std::string(channel)].empty() ? 0 : stored[std::string(channel)].front().offset;
    return page;
  }
  Status presence_add(std::string_view, const Member&) override { return Ok{}; }
  void presence_remove(std::string_view, std::string_view) override {}
  Result<std::vector<Member>> presence(std::string_view) override { return std::vector<Member>{}; }

  BrokerListener* listener = nullptr;
  std::map<std::string, StreamPosition> where;
  std::map<std::string, std::vector<StoredMessage>> stored;
  std::vector<std::string> calls, relayed;
};

class Recorder : public Subscriber {
 public:
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t, std::string_view) override {
    events.push_back(*frame);
  }
  void on_gap(std::string_view channel, const StreamPosition& last) override {
    events.push_back("gap " + std::string(channel) + " after " + std::to_string(last.offset));
  }
  std::vector<std::string> events;
};

class HubClusterTest : public ::testing::Test {
 protected:
  boost::asio::io_context shard0;
  TextEncoder encoder;
  ScriptedBroker broker;
  Hub hub{{&shard0}, encoder, broker, 1 << 20};
  BrokerListener& from_redis() { return *broker.listener; }
  void run() {
    shard0.restart();
    shard0.poll();
  }
};

TEST_F(HubClusterTest, TheFirstSubscriberWatchesAndTakesTheClusterPositionTheLastUnwatches) {
  broker.where["room"] = StreamPosition{41, "e7"};
  Recorder a, b;
  auto first = hub.subscribe(0, "room", a);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->position.offset, 41u);
  EXPECT_EQ(first->position.epoch, "e7");
  ASSERT_TRUE(hub.subscribe(0, "room", b));
  EXPECT_EQ(broker.calls, (std::vector<std::string>{"watch room"})) << "one watch per node, not per subscriber";
  hub.unsubscribe(0, "room", a);
  EXPECT_EQ(broker.calls.size(), 1u);
  hub.unsubscribe(0, "room", b);
  EXPECT_EQ(broker.calls, (std::vector<std::string>{"watch room", "unwatch room"}));
}

TEST_F(HubClusterTest, PublishingGoesThroughTheBrokerAndDeliveryComesBackFromIt) {
  Recorder a;
  ASSERT_TRUE(hub.subscribe(0, "room", a));
  StreamPosition acked;
  hub.publish("room", "hi", HistoryPolicy{}, [&](Result<StreamPosition> r) { acked = *r; });
  EXPECT_EQ(acked.offset, 1u);
  run();
  EXPECT_EQ(a.events, (std::vector<std::string>{"room|1|hi"}));
  // A copy that arrives twice, or one at or below the position, is not delivered again.
  from_redis().on_publication("room", "e1", 1, 0, "hi", "", "");
  run();
  EXPECT_EQ(a.events.size(), 1u);
}

TEST_F(HubClusterTest, AHoleInTheOffsetsIsAnnouncedBeforeTheMessageAfterIt) {
  broker.where["room"] = StreamPosition{10, "e1"};
  Recorder a;
  ASSERT_TRUE(hub.subscribe(0, "room", a));
  from_redis().on_publication("room", "e1", 11, 0, "a", "", "");
  from_redis().on_publication("room", "e1", 14, 0, "d", "", "");  // 12 and 13 never came
  run();
  EXPECT_EQ(a.events, (std::vector<std::string>{"room|11|a", "gap room after 11", "room|14|d"}));
}

TEST_F(HubClusterTest, ANewEpochIsAGapForTheSubscribers) {
  broker.where["room"] = StreamPosition{5, "e1"};
  Recorder a;
  ASSERT_TRUE(hub.subscribe(0, "room", a));
  from_redis().on_publication("room", "e2", 1, 0, "fresh", "", "");
  run();
  EXPECT_EQ(a.events, (std::vector<std::string>{"gap room after 5", "room|1|fresh"}));
}

TEST_F(HubClusterTest, AfterAReconnectionChannelsThatMovedAreAnnouncedAndTheOthersAreNot) {
  broker.where["moved"] = StreamPosition{3, "e1"};
  broker.where["still"] = StreamPosition{8, "e1"};
  broker.where["behind"] = StreamPosition{20, "e1"};
  Recorder a;
  ASSERT_TRUE(hub.subscribe(0, "moved", a));
  ASSERT_TRUE(hub.subscribe(0, "still", a));
  ASSERT_TRUE(hub.subscribe(0, "behind", a));
  broker.where["moved"].offset = 6;   // published while this node was cut off
  broker.where["behind"].offset = 17;  // Redis lost its last writes
  from_redis().on_reconnected();
  run();
  std::sort(a.events.begin(), a.events.end());
  EXPECT_EQ(a.events, (std::vector<std::string>{"gap behind after 20", "gap moved after 3"}));
  // The node goes on from where Redis is.
  from_redis().on_publication("behind", "e1", 18, 0, "x", "", "");
  run();
  EXPECT_EQ(a.events.back(), "behind|18|x");
}

TEST_F(HubClusterTest, RecoveryReadsFromTheBrokerAndAClientAheadOfThisNodeIsNotReset) {
  broker.where["room"] = StreamPosition{3, "e1"};
  broker.stored["room"] = {{1, 0, "a"}, {2, 0, "b"}, {3, 0, "c"}};
  Recorder a, b;
  StreamPosition since{1, "e1"};
  auto r = hub.subscribe(0, "room", a, HistoryPolicy{100, {}}, &since);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->recovered);
  ASSERT_EQ(r->missed.size(), 2u);
  EXPECT_EQ(r->missed[0].data, "b");
  // Offset 4 is in Redis but not yet here: a client holding it is not told to reload.
  broker.where["room"].offset = 4;
  StreamPosition ahead{4, "e1"};
  r = hub.subscribe(0, "room", b, HistoryPolicy{100, {}}, &ahead);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->recovered);
  EXPECT_TRUE(r->missed.empty());
  StreamPosition never{9, "e1"};
  r = hub.subscribe(0, "room", b, HistoryPolicy{100, {}}, &never);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->recovered) << "an offset Redis never handed out";
}

TEST_F(HubClusterTest, RelayedFramesGoToTheOtherNodesAndToLocalSubscribers) {
  Recorder a, b;
  ASSERT_TRUE(hub.subscribe(0, "room", a));
  ASSERT_TRUE(hub.subscribe(0, "room", b));
  hub.relay("room", make_shared_bytes("typing"), &a);
  from_redis().on_relay("room", make_shared_bytes("from elsewhere"), {}, 0);
  run();
  EXPECT_EQ(broker.relayed, (std::vector<std::string>{"room:typing"}));
  EXPECT_EQ(a.events, (std::vector<std::string>{"from elsewhere"}));
  EXPECT_EQ(b.events, (std::vector<std::string>{"typing", "from elsewhere"}));
}

}  // namespace
}  // namespace sb::core
