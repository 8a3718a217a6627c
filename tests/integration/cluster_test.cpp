// Three Switchboard nodes (real processes) on one real redis-server: what a load balancer in
// front of them must not be able to tell apart from one server (docs/scaling.md).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "support/ws_client.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

// A node timeout short enough for a test, with heartbeats well inside it.
constexpr int node_timeout_ms = 1500;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sb-cluster-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "node.toml") << "[cluster]\n"
                                      << "broker = \"redis\"\n"
                                      << "redis_url = \"" << redis_.url() << "\"\n"
                                      << "heartbeat_ms = 200\n"
                                      << "node_timeout_ms = " << node_timeout_ms << "\n"
                                      << "[namespaces.chat]\n"
                                      << "history_size = 10000\n"
                                      << "presence = true\n"
                                      << "join_leave = true\n"
                                      << "client_publish = true\n"
                                      << "[limits]\nrate_per_connection = 1000000\nrate_burst = 1000000\n";
    for (int i = 0; i < 3; ++i) start_node(i);
    // A node takes part once it is listed (it can then hear the others' questions).
    ASSERT_TRUE(eventually([&] {
      auto r = call(0, "GET", "/api/nodes");
      return r.status == 200 && json::parse(r.body).at("nodes").as_array().size() == 3;
    }, std::chrono::seconds(10)));
  }
  void TearDown() override {
    for (auto& n : nodes_) n.reset();
    if (HasFailure())  // what the nodes said, for whoever reads a red CI run
      for (int i = 0; i < 3; ++i)
        std::cerr << "---- node" << i << ".log\n" << read_file((dir_ / ("node" + std::to_string(i) + ".log")).string());
    std::filesystem::remove_all(dir_);
  }
  void start_node(int i) {
    ports_[i] = free_port();
    const std::string name = "node" + std::to_string(i);
    nodes_[i] = std::make_unique<Child>(
        std::vector<std::string>{"serve", "--config", (dir_ / "node.toml").string(), "--listen",
                                 "127.0.0.1:" + std::to_string(ports_[i]), "--data-dir", (dir_ / name).string()},
        (dir_ / (name + ".log")).string());
    ASSERT_TRUE(Child::wait_healthy(ports_[i])) << read_file((dir_ / (name + ".log")).string());
  }
  std::unique_ptr<WsClient> connect(int node, const std::string& user = {}) {
    auto c = WsClient::connect("127.0.0.1", ports_[node]);
    if (!user.empty()) EXPECT_TRUE(c->request(json::object{{"type", "connect"}, {"user", user}}));
    return c;
  }
  json::object subscribe(WsClient& c, const std::string& channel, const json::object* since = nullptr) {
    json::object frame{{"type", "subscribe"}, {"channel", channel}};
    if (since) frame["since"] = *since;
    auto reply = c.request(frame);
    EXPECT_TRUE(reply);
    EXPECT_EQ(reply ? reply->at("type") : json::value("none"), "subscribed");
    return reply ? *reply : json::object{};
  }
  client::HttpResult call(int node, const std::string& method, const std::string& target, const std::string& body = {}) {
    return http_request("127.0.0.1", ports_[node], method, target, body);
  }
  json::object publish(int node, const std::string& channel, const json::value& data) {
    auto r = call(node, "POST", "/api/publish", json::serialize(json::object{{"channel", channel}, {"data", data}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).as_object();
  }

  RedisServer redis_;
  std::filesystem::path dir_;
  std::array<std::uint16_t, 3> ports_{};
  std::array<std::unique_ptr<Child>, 3> nodes_;
};

TEST_F(ClusterTest, PublishesOnEveryNodeReachEverySubscriberOnceInOneOrder) {
  std::vector<std::unique_ptr<WsClient>> subscribers;
  std::uint64_t start = 0;
  for (int node = 0; node < 3; ++node)
    for (int k = 0; k < 2; ++k) {
      subscribers.push_back(connect(node));
      start = subscribe(*subscribers.back(), "chat:order").at("offset").to_number<std::uint64_t>();
      ASSERT_EQ(start, 0u);
    }
  // Three publishers at once, one per node, each numbering its own messages.
  constexpr int per_node = 150;
  std::vector<std::thread> publishers;
  std::mutex acked_mutex;
  std::set<std::uint64_t> acked;
  for (int node = 0; node < 3; ++node)
    publishers.emplace_back([&, node] {
      for (int i = 0; i < per_node; ++i) {
        auto r = publish(node, "chat:order", json::value("n" + std::to_string(node) + "-" + std::to_string(i)));
        std::lock_guard lock(acked_mutex);
        acked.insert(r.at("offset").to_number<std::uint64_t>());
      }
    });
  for (auto& t : publishers) t.join();
  ASSERT_EQ(acked.size(), 3u * per_node) << "no duplicate offset";
  EXPECT_EQ(*acked.rbegin(), 3u * per_node) << "no gap";

  std::vector<std::string> reference;
  for (std::size_t s = 0; s < subscribers.size(); ++s) {
    std::vector<std::string> seen;
    std::array<int, 3> next_of_node{0, 0, 0};
    for (std::uint64_t offset = 1; offset <= 3 * per_node; ++offset) {
      auto m = subscribers[s]->receive_type("message");
      ASSERT_TRUE(m) << "subscriber " << s << " at offset " << offset;
      ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), offset) << "subscriber " << s;
      const std::string data(m->at("data").as_string());
      // Each publisher's messages in the order it sent them.
      const int node = data[1] - '0';
      ASSERT_EQ(data, "n" + std::to_string(node) + "-" + std::to_string(next_of_node[node]++));
      seen.push_back(data);
    }
    if (reference.empty()) reference = seen;
    else EXPECT_EQ(seen, reference) << "subscriber " << s << " saw another order";
  }
}

TEST_F(ClusterTest, AClientThatLosesItsNodeRecoversEveryMissedMessageOnAnother) {
  std::uint64_t last = 0;
  std::string epoch;
  {
    auto c = connect(0);
    auto reply = subscribe(*c, "chat:recover");
    epoch = std::string(reply.at("epoch").as_string());
    for (int i = 1; i <= 20; ++i) publish(1, "chat:recover", json::value(i));
    for (int i = 1; i <= 20; ++i) {
      auto m = c->receive_type("message");
      ASSERT_TRUE(m);
      last = m->at("offset").to_number<std::uint64_t>();
    }
  }
  ASSERT_EQ(last, 20u);
  for (int i = 21; i <= 70; ++i) publish(i % 3, "chat:recover", json::value(i));  // while it is away

  auto c = connect(2);
  json::object since{{"offset", last}, {"epoch", epoch}};
  auto reply = subscribe(*c, "chat:recover", &since);
  EXPECT_EQ(reply.at("recovered"), true);
  EXPECT_EQ(reply.at("epoch").as_string(), epoch);
  publish(0, "chat:recover", json::value(71));  // and live after that, in the same sequence
  for (int i = 21; i <= 71; ++i) {
    auto m = c->receive_type("message");
    ASSERT_TRUE(m) << "offset " << i;
    ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), static_cast<std::uint64_t>(i));
    ASSERT_EQ(m->at("data").to_number<int>(), i);
  }
  // A position of another epoch cannot be recovered, and the client is told.
  auto d = connect(1);
  json::object stale{{"offset", 5}, {"epoch", "000000000000"}};
  EXPECT_EQ(subscribe(*d, "chat:recover", &stale).at("recovered"), false);
}

TEST_F(ClusterTest, PresenceIsTheSameOnEveryNodeAndAKilledNodesMembersLeaveOnce) {
  std::vector<std::unique_ptr<WsClient>> members;
  const char* users[] = {"ann", "ben", "cid"};
  for (int node = 0; node < 3; ++node) {
    members.push_back(connect(node, users[node]));
    subscribe(*members.back(), "chat:room");
  }
  const std::string killed_client = members[2]->client_id();
  for (int node = 0; node < 3; ++node) {
    auto r = call(node, "GET", "/api/presence?channel=chat:room");
    ASSERT_EQ(r.status, 200) << r.body;
    auto list = json::parse(r.body).at("members").as_array();
    std::set<std::string> seen;
    for (const auto& m : list) seen.insert(std::string(m.at("user").as_string()));
    EXPECT_EQ(seen, (std::set<std::string>{"ann", "ben", "cid"})) << "node " << node;
  }
  // ann (node 0) saw ben and cid join, once each.
  std::multiset<std::string> joins;
  for (int i = 0; i < 2; ++i) {
    auto j = members[0]->receive_type("join");
    ASSERT_TRUE(j);
    joins.insert(std::string(j->at("user").as_string()));
  }
  EXPECT_EQ(joins, (std::multiset<std::string>{"ben", "cid"}));

  const auto killed_at = std::chrono::steady_clock::now();
  nodes_[2]->signal(SIGKILL);
  nodes_[2]->wait_exit();
  for (int node = 0; node < 2; ++node) {
    auto leave = members[node]->receive_type("leave", std::chrono::milliseconds(node_timeout_ms * 4));
    ASSERT_TRUE(leave) << "node " << node << " never saw cid leave";
    EXPECT_EQ(leave->at("client").as_string(), killed_client);
    EXPECT_EQ(leave->at("user").as_string(), "cid");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::milliseconds(node_timeout_ms * 3));
  for (int node = 0; node < 2; ++node) {
    auto list = json::parse(call(node, "GET", "/api/presence?channel=chat:room").body).at("members").as_array();
    EXPECT_EQ(list.size(), 2u) << "node " << node;
    for (const auto& m : list) EXPECT_NE(m.at("client").as_string(), killed_client);
  }
  // Once: no second leave for the same member.
  EXPECT_FALSE(members[0]->receive_type("leave", std::chrono::milliseconds(node_timeout_ms)));
  auto nodes = json::parse(call(0, "GET", "/api/nodes").body).at("nodes").as_array();
  EXPECT_EQ(nodes.size(), 2u);
}

TEST_F(ClusterTest, DisconnectingAUserClosesItsConnectionsOnEveryNode) {
  auto on0 = connect(0, "mallory");
  auto on1 = connect(1, "mallory");
  auto other = connect(1, "trent");
  auto r = call(2, "POST", "/api/disconnect", R"({"user":"mallory"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("disconnected"), 2);
  EXPECT_EQ(on0->wait_closed(), 4000);
  EXPECT_EQ(on1->wait_closed(), 4000);
  EXPECT_FALSE(other->closed());
  // One client by id, wherever it is.
  r = call(0, "POST", "/api/disconnect", json::serialize(json::object{{"client", other->client_id()}}));
  EXPECT_EQ(json::parse(r.body).at("disconnected"), 1);
  EXPECT_EQ(other->wait_closed(), 4000);
}

TEST_F(ClusterTest, StatsChannelsAndNodesAnswerForTheWholeCluster) {
  auto a = connect(0), b = connect(1), c = connect(1);
  subscribe(*a, "chat:x");
  subscribe(*b, "chat:x");
  subscribe(*c, "chat:y");
  ASSERT_TRUE(eventually([&] {
    auto nodes = json::parse(call(2, "GET", "/api/nodes").body).at("nodes").as_array();
    return nodes.size() == 3;
  }));
  auto channels = json::parse(call(2, "GET", "/api/channels?scope=cluster&prefix=chat:").body).as_object();
  EXPECT_EQ(channels.at("nodes_answered"), 3);
  auto list = channels.at("channels").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("channel"), "chat:x");
  EXPECT_EQ(list[0].at("subscribers"), 2);
  EXPECT_EQ(list[0].at("nodes").as_array().size(), 2u);
  EXPECT_EQ(list[1].at("subscribers"), 1);
  // Without scope: this node only (node 2 has nobody).
  EXPECT_TRUE(json::parse(call(2, "GET", "/api/channels").body).at("channels").as_array().empty());

  auto stats = json::parse(call(0, "GET", "/api/stats?scope=cluster").body).as_object();
  EXPECT_EQ(stats.at("connections"), 3);
  EXPECT_EQ(stats.at("subscriptions"), 3);
  EXPECT_EQ(stats.at("nodes").as_array().size(), 3u);
  EXPECT_EQ(call(0, "GET", "/api/stats?scope=galaxy").status, 400);
}

TEST_F(ClusterTest, RedisDownAndBackDuringTrafficLosesNothingAcknowledged) {
  auto subscriber = connect(0);
  auto first = subscribe(*subscriber, "chat:outage");
  const std::string epoch(first.at("epoch").as_string());

  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::set<std::uint64_t> acked;
  std::atomic<int> refused{0}, other_failures{0};
  std::string other_failure;
  std::thread publisher([&] {
    int n = 0;
    while (!stop) {
      auto r = call(1, "POST", "/api/publish", json::serialize(json::object{{"channel", "chat:outage"}, {"data", ++n}}));
      if (r.status == 200) {
        std::lock_guard lock(mutex);
        acked.insert(json::parse(r.body).at("offset").to_number<std::uint64_t>());
      } else if (r.status == 503 && json::parse(r.body).at("error").at("retryable") == true) {
        ++refused;
      } else {
        ++other_failures;
        std::lock_guard lock(mutex);
        other_failure = std::to_string(r.status) + " " + r.body;
      }
    }
  });
  auto acked_count = [&] {
    std::lock_guard lock(mutex);
    return acked.size();
  };
  ASSERT_TRUE(eventually([&] { return acked_count() > 100; }));
  auto victim = connect(1, "victim");
  redis_.kill_now();
  // Publishes fail fast with a retryable 503 while Redis is away (each one would otherwise wait
  // for a timeout): many of them in a short outage.
  ASSERT_TRUE(eventually([&] { return refused.load() > 200; })) << "publishes fail fast with a retryable 503";
  const std::size_t acked_before_restart = acked_count();
  // Clients stay connected meanwhile, and the node still answers what it can alone.
  auto pong = subscriber->request(json::object{{"type", "ping"}});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->at("type"), "pong");
  // Disconnecting a user cannot reach the other nodes: the node asked closes its own, and says so.
  auto cut = call(1, "POST", "/api/disconnect", R"({"user":"victim"})");
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(json::parse(cut.body).at("disconnected"), 1);
  EXPECT_EQ(json::parse(cut.body).at("scope"), "node");
  EXPECT_EQ(victim->wait_closed(), 4000);
  redis_.start();
  ASSERT_TRUE(eventually([&] { return acked_count() > acked_before_restart + 100; }, std::chrono::seconds(15)));
  stop = true;
  publisher.join();
  EXPECT_EQ(other_failures.load(), 0) << other_failure;

  std::vector<std::uint64_t> expected(acked.begin(), acked.end());
  // Every acknowledged offset is in Redis, in one epoch, contiguous (a refused publish took no offset).
  // Read back from another node, page by page (node 2 may still be in its reconnection backoff:
  // it answers 503 until it is back).
  std::set<std::uint64_t> stored;
  std::string stored_epoch;
  for (std::uint64_t after = 0;;) {
    client::HttpResult history;
    ASSERT_TRUE(eventually([&] {
      history = call(2, "GET", "/api/history?channel=chat:outage&limit=1000&since=" + std::to_string(after));
      return history.status == 200;
    }, std::chrono::seconds(10))) << history.body;
    auto page = json::parse(history.body).as_object();
    stored_epoch = std::string(page.at("epoch").as_string());
    const auto& messages = page.at("messages").as_array();
    if (messages.empty()) break;
    for (const auto& m : messages) stored.insert(m.at("offset").to_number<std::uint64_t>());
    after = messages.back().at("offset").to_number<std::uint64_t>();
  }
  EXPECT_EQ(stored_epoch, epoch);
  for (auto offset : expected) ASSERT_TRUE(stored.count(offset)) << "acknowledged offset " << offset << " lost";
  EXPECT_EQ(stored.size(), expected.back());

  // The subscriber gets every acknowledged message, once, in order: live, or recovered by its
  // node from Redis where the node missed some while it was cut off. Nothing to do client-side.
  std::uint64_t last = 0;
  std::set<std::uint64_t> got;
  while (last < expected.back()) {
    auto frame = subscriber->receive(std::chrono::seconds(5));
    ASSERT_TRUE(frame) << "stuck after offset " << last;
    ASSERT_NE(frame->at("type"), "reset") << "history covers the outage: " << json::serialize(*frame);
    if (frame->at("type") != "message") continue;
    const auto offset = frame->at("offset").to_number<std::uint64_t>();
    ASSERT_EQ(offset, last + 1) << "in order, once, without a hole";
    last = offset;
    got.insert(offset);
  }
  for (auto offset : expected) EXPECT_TRUE(got.count(offset)) << "offset " << offset << " never reached the subscriber";
}

TEST_F(ClusterTest, WhatANodeMissedWithoutHistoryEndsInAResetAndTheStreamGoesOn) {
  // The default namespace keeps no history: what a node misses while its pub/sub link is down
  // cannot be replayed, and its subscribers are told so, with the position live messages go on from.
  auto subscriber = connect(0);
  subscribe(*subscriber, "lobby");
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    for (int n = 1; !stop; ++n)
      call(1, "POST", "/api/publish", json::serialize(json::object{{"channel", "lobby"}, {"data", n}}));
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop = true;
      thread.join();
    }
  } joiner{stop, publisher};
  std::uint64_t last = 0;
  bool reset = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!reset && std::chrono::steady_clock::now() < deadline) {
    // Cut every node's pub/sub link; they reconnect within the backoff, while node 1 publishes.
    redis_.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < until) {
      auto frame = subscriber->receive(std::chrono::milliseconds(300));
      if (!frame) continue;
      if (frame->at("type") == "reset") {
        EXPECT_EQ(frame->at("channel"), "lobby");
        const auto from = frame->at("offset").to_number<std::uint64_t>();
        EXPECT_GT(from, last + 1) << "a reset says messages were lost";
        last = from;
        reset = true;
        break;
      }
      if (frame->at("type") != "message") continue;
      const auto offset = frame->at("offset").to_number<std::uint64_t>();
      if (last != 0) ASSERT_EQ(offset, last + 1) << "a hole without a reset";
      last = offset;
    }
  }
  ASSERT_TRUE(reset) << "no message was ever published while node 0 was cut off";
  // Live messages go on right after the reset's position.
  // (A second reset may follow, from the last cut before the first reset came: each one moves
  // the position on.)
  for (int i = 0; i < 20;) {
    auto m = subscriber->receive();
    ASSERT_TRUE(m);
    if (m->at("type") == "reset") {
      ASSERT_GE(m->at("offset").to_number<std::uint64_t>(), last);
      last = m->at("offset").to_number<std::uint64_t>();
      continue;
    }
    if (m->at("type") != "message") continue;
    ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), last + 1) << json::serialize(*m);
    last = m->at("offset").to_number<std::uint64_t>();
    ++i;
  }
}

TEST_F(ClusterTest, WhenRedisLosesAChannelItsSubscribersAreResetToTheNewEpochAndMissNothingAfter) {
  for (int i = 1; i <= 3; ++i) publish(1, "lobby", json::value(i));
  auto subscriber = connect(0);
  auto reply = subscribe(*subscriber, "lobby");
  ASSERT_EQ(reply.at("offset"), 3);
  const std::string old_epoch(reply.at("epoch").as_string());
  // Redis loses everything (restarted without persistence, say); publishing goes on.
  ASSERT_EQ(redis_.command({"FLUSHALL"}), "+OK");
  for (int i = 1; i <= 5; ++i) publish(1, "lobby", json::value(100 + i));
  auto reset = subscriber->receive_type("reset");
  ASSERT_TRUE(reset);
  EXPECT_NE(reset->at("epoch").as_string(), old_epoch);
  std::uint64_t last = reset->at("offset").to_number<std::uint64_t>();
  ASSERT_LE(last, 5u);
  // Everything after the reset's position comes, though the new epoch's offsets are below the
  // ones this subscriber saw before.
  for (int i = 6; i <= 8; ++i) publish(1, "lobby", json::value(100 + i));
  while (last < 8) {
    auto m = subscriber->receive_type("message");
    ASSERT_TRUE(m) << "the new epoch's offset " << last + 1 << " never came";
    ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), last + 1);
    ASSERT_EQ(m->at("data").to_number<int>(), 100 + static_cast<int>(last + 1));
    last = m->at("offset").to_number<std::uint64_t>();
  }
}

TEST_F(ClusterTest, ANamedNodeGetsAnIdOfItsOwnPerProcess) {
  std::string config = read_file((dir_ / "node.toml").string());
  config.insert(config.find("heartbeat_ms"), "node_name = \"ws-x\"\n");
  std::ofstream(dir_ / "named.toml", std::ios::trunc) << config;
  const auto port = free_port();
  Child named({"serve", "--config", (dir_ / "named.toml").string(), "--listen", "127.0.0.1:" + std::to_string(port),
               "--data-dir", (dir_ / "named").string()},
              (dir_ / "named.log").string());
  ASSERT_TRUE(Child::wait_healthy(port));
  std::string id;
  ASSERT_TRUE(eventually([&] {
    const json::value nodes = json::parse(call(0, "GET", "/api/nodes").body);
    for (const auto& n : nodes.at("nodes").as_array())
      if (n.at("node").as_string().starts_with("ws-x-")) id = std::string(n.at("node").as_string());
    return !id.empty();
  }, std::chrono::seconds(10)));
  EXPECT_EQ(id.size(), std::string("ws-x-").size() + 6) << id;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << id;
}

// Publisher identity and backend events cross nodes through Redis like the rest: a client's
// `from` on another node's subscribers and in Redis's history, a backend's event everywhere.
TEST_F(ClusterTest, FromAndBackendEventsReachEveryNodeAndHistoryKeepsFrom) {
  auto ann = WsClient::connect("127.0.0.1", ports_[0]);
  // A newline inside `info` (kept as sent) is inside `from` too: Redis's message must not split there.
  ann->send_text("{\"type\":\"connect\",\"id\":1,\"user\":\"ann\",\"info\":{\"name\":\n\"Ann\"}}");
  ASSERT_TRUE(ann->receive_type("connected"));
  auto bob = connect(1, "bob");
  subscribe(*bob, "chat:who");
  ann->send_text(R"({"type":"publish","id":1,"channel":"chat:who","data":{"t":"hi\nthere"},"from":{"user":"eve"}})");
  auto published = ann->receive_type("published");
  ASSERT_TRUE(published);
  auto message = bob->receive_type("message");
  ASSERT_TRUE(message);
  EXPECT_EQ(message->at("data").at("t"), "hi\nthere");
  EXPECT_EQ(message->at("from").at("user"), "ann");
  EXPECT_EQ(message->at("from").at("client").as_string(), ann->client_id());
  EXPECT_EQ(message->at("from").at("info").at("name"), "Ann");
  publish(0, "chat:who", "plain");
  auto plain = bob->receive_type("message");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->contains("from"));

  auto page = json::parse(call(2, "GET", "/api/history?channel=chat:who").body);
  const auto& messages = page.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("from").at("user"), "ann");
  EXPECT_FALSE(messages[1].as_object().contains("from"));

  auto r = call(2, "POST", "/api/event", R"({"channel":"chat:who","event":"reload","from":{"user":"backend"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto event = bob->receive_type("event");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->at("event"), "reload");
  EXPECT_EQ(event->at("from").at("user"), "backend");
}

TEST_F(ClusterTest, TagsCrossRedisAndFiltersApplyOnEveryNode) {
  auto twelve = connect(1, "bob");
  auto reply = twelve->request(json::object{
      {"type", "subscribe"}, {"channel", "chat:tags"}, {"filter", json::object{{"eq", json::array{"circle", "12"}}}}});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->at("type"), "subscribed");
  const std::string epoch(reply->at("epoch").as_string());
  // Tags with and without `from` (a client's publish, a backend's), and a newline in a value.
  auto ann = connect(0, "ann");
  ann->send_text(R"({"type":"publish","id":1,"channel":"chat:tags","data":1,"tags":{"circle":"13"}})");
  ASSERT_TRUE(ann->receive_type("published"));
  ann->send_text(R"({"type":"publish","id":2,"channel":"chat:tags","data":2,"tags":{"circle":"12","note":"a\nb"}})");
  ASSERT_TRUE(ann->receive_type("published"));
  auto r = call(2, "POST", "/api/publish", R"({"channel":"chat:tags","data":3,"tags":{"circle":"12"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  publish(2, "chat:tags", 4);  // no tags: the plain form on Redis

  auto first = twelve->receive_type("message");
  auto second = twelve->receive_type("message");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->at("data"), 2);
  EXPECT_EQ(first->at("tags").at("note"), "a\nb");
  EXPECT_EQ(first->at("from").at("user"), "ann");
  EXPECT_EQ(second->at("data"), 3);
  EXPECT_FALSE(second->contains("from"));
  EXPECT_FALSE(twelve->receive_type("message", std::chrono::milliseconds(300)));

  // History from Redis keeps the tags; a filtered recovery on another node sends the matches.
  auto page = json::parse(call(0, "GET", "/api/history?channel=chat:tags").body);
  const auto& messages = page.at("messages").as_array();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[1].at("tags"), (json::object{{"circle", "12"}, {"note", "a\nb"}}));
  EXPECT_FALSE(messages[3].as_object().contains("tags"));
  auto late = connect(2, "carol");
  auto recovered = late->request(json::object{{"type", "subscribe"},
                                              {"channel", "chat:tags"},
                                              {"filter", json::object{{"neq", json::array{"circle", "12"}}}},
                                              {"since", json::object{{"offset", 0}, {"epoch", epoch}}}});
  ASSERT_TRUE(recovered);
  EXPECT_EQ(recovered->at("recovered"), true);
  auto m1 = late->receive_type("message");
  auto m2 = late->receive_type("message");
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->at("data"), 1);
  EXPECT_EQ(m2->at("data"), 4);
}

}  // namespace
}  // namespace sb::test
