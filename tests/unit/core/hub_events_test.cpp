// What the hub tells a core::ChannelEvents: first subscriber and last one gone on this node,
// presence joins and leaves; nothing else, and nothing when no observer is set.
#include "core/channel_events.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace sb::core {
namespace {

class NullEncoder : public PublicationEncoder {
 public:
  SharedBytes encode(const Publication& p) const override { return make_shared_bytes(std::string(p.data)); }
};

class Quiet : public Subscriber {
 public:
  void deliver(const SharedBytes&, std::string_view, std::uint64_t, std::string_view) override {}
};

class EventLog : public ChannelEvents {
 public:
  void on_occupied(std::string_view channel) override { log.push_back("occupied " + std::string(channel)); }
  void on_vacated(std::string_view channel) override { log.push_back("vacated " + std::string(channel)); }
  void on_join(std::string_view channel, const Member& m) override {
    log.push_back("join " + std::string(channel) + " " + m.client + " " + m.user + " " + m.info);
  }
  void on_leave(std::string_view channel, const Member& m) override {
    log.push_back("leave " + std::string(channel) + " " + m.client + " " + m.user + " " + m.info);
  }
  std::vector<std::string> log;
};

class HubEventsTest : public ::testing::Test {
 protected:
  boost::asio::io_context shard0, shard1;
  NullEncoder encoder;
  LocalBroker broker;
  Hub hub{{&shard0, &shard1}, encoder, broker};
  EventLog events;
  void SetUp() override { hub.set_channel_events(&events); }
};

TEST_F(HubEventsTest, OccupiedOnTheFirstSubscriberAndVacatedAfterTheLastOnAnyShard) {
  Quiet a, b;
  ASSERT_TRUE(hub.subscribe(0, "room", a).ok());
  ASSERT_TRUE(hub.subscribe(1, "room", b).ok());  // second subscriber, other shard: nothing
  ASSERT_TRUE(hub.subscribe(1, "room", b).ok());  // already subscribed: nothing
  EXPECT_EQ(events.log, std::vector<std::string>{"occupied room"});
  EXPECT_TRUE(hub.unsubscribe(0, "room", a));
  EXPECT_EQ(events.log, std::vector<std::string>{"occupied room"});
  EXPECT_TRUE(hub.unsubscribe(1, "room", b));
  EXPECT_FALSE(hub.unsubscribe(1, "room", b));  // not subscribed any more: nothing
  EXPECT_EQ(events.log, (std::vector<std::string>{"occupied room", "vacated room"}));
  ASSERT_TRUE(hub.subscribe(1, "room", b).ok());
  EXPECT_EQ(events.log.back(), "occupied room");
}

TEST_F(HubEventsTest, PublishingTellsNothing) {
  Quiet a;
  ASSERT_TRUE(hub.subscribe(0, "room", a).ok());
  hub.publish("room", "1");
  hub.publish("elsewhere", "2");
  EXPECT_EQ(events.log, std::vector<std::string>{"occupied room"});
}

TEST_F(HubEventsTest, JoinAndLeaveCarryTheMemberOnceEach) {
  Quiet a;
  ASSERT_TRUE(hub.subscribe(0, "room", a).ok());
  EXPECT_TRUE(hub.presence_add("room", Member{"c1", "alice", R"({"n":1})"}));
  EXPECT_FALSE(hub.presence_add("room", Member{"c1", "alice", R"({"n":1})"}));  // already a member
  EXPECT_TRUE(hub.presence_remove("room", "c1"));
  EXPECT_FALSE(hub.presence_remove("room", "c1"));
  EXPECT_EQ(events.log, (std::vector<std::string>{"occupied room", R"(join room c1 alice {"n":1})",
                                                  R"(leave room c1 alice {"n":1})"}));
}

TEST(HubWithoutEvents, SubscribesAndPresenceWorkWithNoObserver) {
  boost::asio::io_context shard;
  NullEncoder encoder;
  LocalBroker broker;
  Hub hub({&shard}, encoder, broker);
  Quiet a;
  ASSERT_TRUE(hub.subscribe(0, "room", a).ok());
  EXPECT_TRUE(hub.presence_add("room", Member{"c1", "u", ""}));
  EXPECT_TRUE(hub.presence_remove("room", "c1"));
  EXPECT_TRUE(hub.unsubscribe(0, "room", a));
}

}  // namespace
}  // namespace sb::core
