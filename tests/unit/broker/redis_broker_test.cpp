// Two Redis brokers (two nodes) on one real redis-server: offsets, order, history, presence,
// dead nodes and questions to the cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <thread>

#include "broker/redis_broker.hpp"
#include "common/clock.hpp"
#include "support/redis_server.hpp"

namespace sb::broker {
namespace {

using test::eventually;
using test::RedisServer;

// What a hub would get from its broker.
class Recorder final : public core::BrokerListener {
 public:
  void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset, std::int64_t,
                      std::string_view data, std::string_view, std::string_view) override {
    std::lock_guard lock(mutex);
    publications.push_back({std::string(channel), std::string(epoch), offset, std::string(data)});
  }
  void on_relay(std::string_view channel, SharedBytes frame, std::string_view, std::uint64_t) override {
    std::lock_guard lock(mutex);
    relays.push_back(std::string(channel) + ":" + *frame);
  }
  void on_reconnected() override { ++reconnections; }
  void on_sync_marker(std::string_view channel, const core::StreamPosition& p) override {
    std::lock_guard lock(mutex);
    markers.push_back(std::string(channel) + "@" + std::to_string(p.offset));
  }
  struct Seen {
    std::string channel, epoch;
    std::uint64_t offset;
    std::string data;
  };
  std::size_t count() {
    std::lock_guard lock(mutex);
    return publications.size();
  }
  std::mutex mutex;
  std::vector<Seen> publications;
  std::vector<std::string> relays;
  std::vector<std::string> markers;
  std::atomic<int> reconnections{0};
};

struct Node {
  Node(const RedisServer& redis, std::string id, const RedisServer* second = nullptr) {
    RedisBrokerOptions options;
    options.redis.push_back(*parse_redis_url(redis.url()));
    if (second) options.redis.push_back(*parse_redis_url(second->url()));
    options.node_id = std::move(id);
    options.heartbeat = std::chrono::milliseconds(100);
    options.node_timeout = std::chrono::milliseconds(500);
    broker = std::make_unique<RedisBroker>(options);
    broker->set_listener(&recorder);
  }
  void start() {
    broker->start();
    ASSERT_TRUE(eventually([&] { return broker->connected(); }));
  }
  Status watch(const std::string& channel) {
    std::promise<Status> p;
    broker->watch(channel, {}, [&](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  Result<core::StreamPosition> publish(const std::string& channel, const std::string& data, core::HistoryPolicy policy = {},
                                       std::int64_t ts = 1000) {
    std::promise<Result<core::StreamPosition>> p;
    broker->publish(channel, data, {}, {}, ts, policy, {}, [&](Result<core::StreamPosition> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Recorder recorder;
  std::unique_ptr<RedisBroker> broker;
};

TEST(RedisBroker, TwoNodesPublishingIntoOneChannelGetContiguousOffsetsAndTheSameOrder) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  a.start();
  b.start();
  ASSERT_TRUE(a.watch("room"));
  ASSERT_TRUE(b.watch("room"));
  constexpr int per_node = 400;
  std::vector<std::uint64_t> acked;
  std::mutex acked_mutex;
  std::string epoch;
  auto publisher = [&](Node& node, const std::string& tag) {
    std::vector<std::future<Result<core::StreamPosition>>> pending;
    for (int i = 0; i < per_node; ++i) {
      auto p = std::make_shared<std::promise<Result<core::StreamPosition>>>();
      pending.push_back(p->get_future());
      node.broker->publish("room", "\"" + tag + std::to_string(i) + "\"", {}, {}, 1000, {}, {},
                           [p](Result<core::StreamPosition> r) { p->set_value(std::move(r)); });
    }
    for (auto& f : pending) {
      auto r = f.get();
      ASSERT_TRUE(r);
      std::lock_guard lock(acked_mutex);
      acked.push_back(r->offset);
      epoch = r->epoch;
    }
  };
  std::thread ta(publisher, std::ref(a), "a"), tb(publisher, std::ref(b), "b");
  ta.join();
  tb.join();
  std::sort(acked.begin(), acked.end());
  ASSERT_EQ(acked.size(), 2u * per_node);
  for (std::size_t i = 0; i < acked.size(); ++i) ASSERT_EQ(acked[i], i + 1) << "no gap, no duplicate";

  ASSERT_TRUE(eventually([&] { return a.recorder.count() == 2 * per_node && b.recorder.count() == 2 * per_node; }));
  for (std::size_t i = 0; i < 2 * per_node; ++i) {
    ASSERT_EQ(a.recorder.publications[i].offset, i + 1) << "each node receives in offset order";
    ASSERT_EQ(a.recorder.publications[i].data, b.recorder.publications[i].data) << "the same message at the same offset";
    ASSERT_EQ(a.recorder.publications[i].epoch, epoch);
  }
}

TEST(RedisBroker, HistoryIsBoundedAndReadsBothWaysWithThePosition) {
  RedisServer redis;
  Node a(redis, "a");
  a.start();
  core::HistoryPolicy policy{10, std::chrono::seconds(0)};
  for (int i = 1; i <= 25; ++i) ASSERT_TRUE(a.publish("log", std::to_string(i), policy));

  core::HistoryQuery oldest{20, 0, 100, false};
  auto page = a.broker->read("log", policy, oldest);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->position.offset, 25u);
  EXPECT_EQ(page->first_offset, 16u) << "only the newest 10 are kept";
  ASSERT_EQ(page->messages.size(), 5u);
  EXPECT_EQ(page->messages.front().offset, 21u);
  EXPECT_EQ(page->messages.front().data, "21");

  core::HistoryQuery newest{0, 0, 3, true};
  page = a.broker->read("log", policy, newest);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->messages.size(), 3u);
  EXPECT_EQ(page->messages[0].offset, 25u);
  EXPECT_EQ(page->messages[2].offset, 23u);

  core::HistoryQuery before{0, 18, 100, false};
  page = a.broker->read("log", policy, before);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->messages.size(), 2u);  // 16 and 17
  EXPECT_EQ(page->messages.back().offset, 17u);
}

TEST(RedisBroker, MessagesOlderThanTheTtlAreNeitherReadNorKept) {
  RedisServer redis;
  Node a(redis, "a");
  a.start();
  core::HistoryPolicy policy{100, std::chrono::seconds(5)};
  const std::int64_t now = unix_millis();
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(a.publish("ttl", std::to_string(i), policy, now - 10'000));
  auto page = a.broker->read("ttl", policy, core::HistoryQuery{});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->position.offset, 5u);
  EXPECT_TRUE(page->messages.empty()) << "older than the TTL";
  // The next publication trims the expired head of the stream.
  ASSERT_TRUE(a.publish("ttl", "6", policy, now));
  EXPECT_EQ(redis.command({"XLEN", "sb:{ttl}:h"}), ":1");
  page = a.broker->read("ttl", policy, core::HistoryQuery{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].offset, 6u);
  EXPECT_EQ(page->first_offset, 6u);
}

TEST(RedisBroker, EveryNodeGetsTheSameEpochForAChannelNeverPublished) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  a.start();
  b.start();
  const std::vector<std::string> channels{"fresh", "other"};
  auto pa = a.broker->positions(channels);
  auto pb = b.broker->positions(channels);
  ASSERT_TRUE(pa);
  ASSERT_TRUE(pb);
  for (std::size_t i = 0; i < channels.size(); ++i) {
    EXPECT_EQ((*pa)[i].offset, 0u);
    EXPECT_FALSE((*pa)[i].epoch.empty());
    EXPECT_EQ((*pa)[i].epoch, (*pb)[i].epoch);
  }
  auto published = b.publish("fresh", "1");
  ASSERT_TRUE(published);
  EXPECT_EQ(published->epoch, (*pa)[0].epoch);
  EXPECT_EQ(published->offset, 1u);
}

TEST(RedisBroker, PresenceIsSharedAndTheMembersOfADeadNodeAreRemovedOnce) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  std::mutex mutex;
  std::vector<std::string> lost;
  auto record = [&](const std::string& channel, const core::Member& m) {
    std::lock_guard lock(mutex);
    lost.push_back(channel + "/" + m.client + "/" + m.user);
  };
  a.broker->set_member_lost(record);
  b.broker->set_member_lost(record);
  a.start();
  b.start();
  ASSERT_TRUE(a.broker->presence_add("room", core::Member{"ca", "alice", ""}));
  ASSERT_TRUE(b.broker->presence_add("room", core::Member{"cb", "bob", R"({"n":1})"}));
  auto members = a.broker->presence("room");
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);

  // A node that died without a word: a member, its channel noted, a heartbeat long ago.
  ASSERT_EQ(redis.command({"HSET", "sb:{room}:u", "cg", "ghost\ncarol\n"}), ":1");
  ASSERT_EQ(redis.command({"SADD", "sb:node:ghost:ch", "room"}), ":1");
  ASSERT_EQ(redis.command({"ZADD", "sb:nodes", "1", "ghost"}), ":1");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !lost.empty();
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // both nodes beat meanwhile
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(lost, (std::vector<std::string>{"room/cg/carol"})) << "one node claims the dead one";
  }
  members = b.broker->presence("room");
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  for (const auto& m : *members) EXPECT_NE(m.client, "cg");

  b.broker->presence_remove("room", "cb");
  ASSERT_TRUE(eventually([&] {
    auto m = a.broker->presence("room");
    return m && m->size() == 1 && m->front().client == "ca";
  }));
}

TEST(RedisBroker, ASyncMarkerComesBackToItsNodeOnlyAfterWhatWasPublishedBeforeIt) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  a.start();
  b.start();
  ASSERT_TRUE(a.watch("room"));
  ASSERT_TRUE(b.watch("room"));
  // The marker goes after what Redis ran before it: the 50 publications, acknowledged.
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE(b.publish("room", std::to_string(i)));
  a.broker->send_sync_marker("room", core::StreamPosition{50, "e"});
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(a.recorder.mutex);
    return !a.recorder.markers.empty();
  }));
  {
    std::lock_guard lock(a.recorder.mutex);
    EXPECT_EQ(a.recorder.markers, (std::vector<std::string>{"room@50"}));
    EXPECT_EQ(a.recorder.publications.size(), 50u) << "the marker came after the 50 publications";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard lock(b.recorder.mutex);
  EXPECT_TRUE(b.recorder.markers.empty()) << "another node's marker";
}

TEST(RedisBroker, ChannelsAreShardedOverSeveralRedisServersTheSameWayOnEveryNode) {
  RedisServer first, second;
  Node a(first, "a", &second), b(first, "b", &second);
  a.start();
  b.start();
  std::vector<std::string> channels;
  for (int i = 0; i < 20; ++i) channels.push_back("room" + std::to_string(i));
  for (const auto& c : channels) ASSERT_TRUE(a.watch(c));
  // Published through b, delivered to a: both nodes pick the same Redis for each channel.
  for (const auto& c : channels)
    for (int i = 1; i <= 2; ++i) {
      auto r = b.publish(c, std::to_string(i), core::HistoryPolicy{10, {}});
      ASSERT_TRUE(r);
      ASSERT_EQ(r->offset, static_cast<std::uint64_t>(i));
    }
  ASSERT_TRUE(eventually([&] { return a.recorder.count() == 40; }));
  // Each channel is on exactly one of them, both hold some, and the registry is on the first.
  auto channels_on = [](const RedisServer& r) {
    const std::string reply = r.command({"KEYS", "sb:{room*}:m"});  // "*<count>"
    return std::stoi(reply.substr(1));
  };
  EXPECT_GT(channels_on(first), 0);
  EXPECT_GT(channels_on(second), 0);
  EXPECT_EQ(channels_on(first) + channels_on(second), 20);
  EXPECT_EQ(first.command({"EXISTS", "sb:nodes"}), ":1");
  EXPECT_EQ(second.command({"EXISTS", "sb:nodes"}), ":0");
  for (const auto& c : channels) {
    auto page = b.broker->read(c, core::HistoryPolicy{10, {}}, core::HistoryQuery{});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->messages.size(), 2u) << c;
  }
}

TEST(RedisBroker, AMemberThatLeftWhileRedisWasDownIsRemovedWhenItIsBack) {
  RedisServer redis;
  Node a(redis, "a");
  a.start();
  ASSERT_TRUE(a.broker->presence_add("room", core::Member{"ca", "alice", ""}));
  redis.kill_now();
  ASSERT_TRUE(eventually([&] { return !a.broker->connected(); }));
  a.broker->presence_remove("room", "ca");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // refused meanwhile
  redis.start();  // with the member, from its append-only file
  ASSERT_TRUE(eventually([&] {
    auto m = a.broker->presence("room");
    return m && m->empty();
  }, std::chrono::seconds(10)));
}

TEST(RedisBroker, NodesAreListedAndEveryNodeAnswersAQuestion) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  a.broker->set_answerer([](core::ClusterQuestion q, std::string_view arg) {
    return "a:" + std::string(core::wire_name(q)) + ":" + std::string(arg);
  });
  b.broker->set_answerer([](core::ClusterQuestion q, std::string_view arg) {
    return "b:" + std::string(core::wire_name(q)) + ":" + std::string(arg);
  });
  a.start();
  b.start();
  ASSERT_TRUE(eventually([&] {
    auto n = a.broker->nodes();
    return n && n->size() == 2;
  }));
  std::size_t expected = 0;
  auto answers = b.broker->ask(core::ClusterQuestion::stats, "x\ny", &expected);
  ASSERT_TRUE(answers);
  EXPECT_EQ(expected, 2u);
  std::vector<std::string> got;
  for (const auto& answer : *answers) got.push_back(answer.node + "=" + answer.answer);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a=a:stats:x\ny", "b=b:stats:x\ny"}));

  // A node that stops cleanly leaves the registry at once.
  a.broker->stop();
  auto n = b.broker->nodes();
  ASSERT_TRUE(n);
  ASSERT_EQ(n->size(), 1u);
  EXPECT_EQ(n->front().id, "b");
}

TEST(RedisBroker, PublishingFailsFastWhileRedisIsDownAndTheNodeResubscribesWhenItIsBack) {
  RedisServer redis;
  Node a(redis, "a"), b(redis, "b");
  a.start();
  b.start();
  ASSERT_TRUE(a.watch("room"));
  ASSERT_TRUE(b.publish("room", "1"));
  ASSERT_TRUE(eventually([&] { return a.recorder.count() == 1; }));
  redis.kill_now();
  ASSERT_TRUE(eventually([&] { return !b.broker->connected(); }));
  auto failed = b.publish("room", "2");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::unavailable);
  redis.start();
  ASSERT_TRUE(eventually([&] { return a.broker->connected() && b.broker->connected(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] { return a.recorder.reconnections.load() == 1; }));
  auto again = b.publish("room", "3");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->offset, 2u) << "the offset survived in Redis's append-only file";
  ASSERT_TRUE(eventually([&] { return a.recorder.count() == 2; }));
  EXPECT_EQ(a.recorder.publications.back().data, "3");
}

}  // namespace
}  // namespace sb::broker
