// Publish and subscribe over real sockets, against the real server in process.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <atomic>
#include <set>
#include <thread>

#include "support/ws_client.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::WsClient;

TEST(PubSub, TheServerGreetsEachConnectionWithItsId) {
  TestServer server;
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto b = WsClient::connect("127.0.0.1", server.port());
  EXPECT_EQ(a->greeting().at("type"), "connected");
  EXPECT_EQ(a->greeting().at("version"), 1);
  EXPECT_EQ(a->client_id().size(), 15u);
  EXPECT_NE(a->client_id(), b->client_id());
}

TEST(PubSub, TwoClientsInAChannelSeeEachOthersPublishesAndNothingElse) {
  TestServer server;
  auto alice = WsClient::connect("127.0.0.1", server.port());
  auto bob = WsClient::connect("127.0.0.1", server.port());
  alice->subscribe("room-1");
  bob->subscribe("room-1");
  bob->subscribe("room-2");

  auto outsider = WsClient::connect("127.0.0.1", server.port());
  outsider->subscribe("room-3");
  outsider->publish("room-3", "noise");  // received by the outsider only

  std::uint64_t o1 = alice->publish("room-1", json::object{{"text", "hi bob"}});
  std::uint64_t o2 = bob->publish("room-1", json::object{{"text", "hi alice"}});
  EXPECT_EQ(o2, o1 + 1);

  for (auto* c : {alice.get(), bob.get()}) {
    auto m1 = c->receive_type("message");
    auto m2 = c->receive_type("message");
    ASSERT_TRUE(m1 && m2);
    EXPECT_EQ(m1->at("channel"), "room-1");
    EXPECT_EQ(m1->at("data").at("text"), "hi bob");
    EXPECT_EQ(m1->at("offset"), o1);
    EXPECT_EQ(m2->at("data").at("text"), "hi alice");
    EXPECT_TRUE(m1->at("ts").is_int64());
  }
  // Nothing from room-3 reached them: the next frame they get is the pong of a ping sent now.
  for (auto* c : {alice.get(), bob.get()}) {
    auto reply = c->request(json::object{{"type", "ping"}});
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->at("type"), "pong");
    EXPECT_EQ(c->queued(), 0u);
  }
  auto own = outsider->receive_type("message");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->at("channel"), "room-3");
}

TEST(PubSub, UnsubscribedClientsStopReceiving) {
  TestServer server;
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("room");
  auto reply = a->request(json::object{{"type", "unsubscribe"}, {"channel", "room"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("type"), "unsubscribed");
  client::http_request("127.0.0.1", server.port(), "POST", "/api/publish", R"({"channel":"room","data":1})");
  auto pong = a->request(json::object{{"type", "ping"}});
  ASSERT_TRUE(pong);
  EXPECT_EQ(a->queued(), 0u);
  auto again = a->request(json::object{{"type", "unsubscribe"}, {"channel", "room"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at("type"), "error");
}

TEST(PubSub, OneHttpPublishReachesEachOfAThousandSubscribersExactlyOnce) {
  TestServer server;
  auto io = std::make_shared<client::IoThread>();
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(WsClient::connect("127.0.0.1", server.port(), "/ws", io));
    clients.back()->subscribe("wide");
  }
  auto r = client::http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                R"({"channel":"wide","data":{"n":42}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto offset = json::parse(r.body).at("offset");
  for (auto& c : clients) {
    auto m = c->receive_type("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->at("data").at("n"), 42);
    EXPECT_EQ(m->at("offset"), offset);
  }
  // Exactly once: a ping's pong is the next thing each one receives.
  for (auto& c : clients) {
    auto pong = c->request(json::object{{"type", "ping"}});
    ASSERT_TRUE(pong);
    EXPECT_EQ(c->queued(), 0u);
  }
  auto stats = json::parse(client::http_request("127.0.0.1", server.port(), "GET", "/api/stats").body);
  EXPECT_EQ(stats.at("messages_out"), 1000);
  EXPECT_EQ(stats.at("subscriptions"), 1000);
}

TEST(PubSub, ManyPublishersKeepPerChannelOrder) {
  TestServer server;
  auto reader = WsClient::connect("127.0.0.1", server.port());
  reader->subscribe("ordered");
  // Four publishers on their own connections (spread over both workers) publish concurrently.
  std::vector<std::thread> publishers;
  for (int p = 0; p < 4; ++p) {
    publishers.emplace_back([&, p] {
      auto c = WsClient::connect("127.0.0.1", server.port());
      for (int i = 0; i < 250; ++i) c->publish("ordered", json::array{p, i});
    });
  }
  for (auto& t : publishers) t.join();
  std::uint64_t last = 0;
  std::vector<int> next(4, 0);
  for (int n = 0; n < 1000; ++n) {
    auto m = reader->receive_type("message");
    ASSERT_TRUE(m) << n;
    std::uint64_t offset = m->at("offset").to_number<std::uint64_t>();
    EXPECT_EQ(offset, last + 1);
    last = offset;
    const auto& data = m->at("data").as_array();
    int p = static_cast<int>(data[0].as_int64());
    EXPECT_EQ(data[1].as_int64(), next[p]++);  // each publisher's messages in its order
  }
}

TEST(PubSub, SubscribingAgainToTheSameChannelLosesNothing) {
  TestServer server;
  auto reader = WsClient::connect("127.0.0.1", server.port());
  reader->subscribe("steady");
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    auto p = WsClient::connect("127.0.0.1", server.port());
    for (int i = 0; i < 2000 && !stop; ++i) p->publish("steady", i);
  });
  // Repeated subscribes while messages flow: each is answered, none drops a message.
  for (int i = 0; i < 50; ++i) reader->send_json(json::object{{"type", "subscribe"}, {"channel", "steady"}});
  std::uint64_t last = 0;
  for (int n = 0; n < 2000; ++n) {
    auto m = reader->receive_type("message");
    ASSERT_TRUE(m) << "after offset " << last;
    ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), last + 1);
    last = m->at("offset").to_number<std::uint64_t>();
  }
  stop = true;
  publisher.join();
}

TEST(PubSub, ClientPublishIsRefusedWhereTheNamespaceForbidsIt) {
  TestServer server([](server::Config& c) { c.namespaces.push_back(core::NamespaceOptions{"news", false}); });
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("news:today");
  auto reply = a->request(json::object{{"type", "publish"}, {"channel", "news:today"}, {"data", 1}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("code"), "PERMISSION_DENIED");
  // The backend still publishes there.
  auto r = client::http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                R"({"channel":"news:today","data":"headline"})");
  EXPECT_EQ(r.status, 200);
  auto m = a->receive_type("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("data"), "headline");
}

TEST(PubSub, TheSubscriptionLimitIsEnforced) {
  TestServer server([](server::Config& c) { c.max_subscriptions = 2; });
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("one");
  a->subscribe("two");
  auto third = a->request(json::object{{"type", "subscribe"}, {"channel", "three"}});
  ASSERT_TRUE(third);
  EXPECT_EQ(third->at("code"), "PERMISSION_DENIED");
  a->subscribe("two");  // already there: still fine
}

TEST(PubSub, ConnectSetsTheUserShownInTheReply) {
  TestServer server;
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto reply = a->request(json::object{{"type", "connect"}, {"user", "ann"}, {"info", json::object{{"name", "Ann"}}}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("type"), "connected");
  EXPECT_EQ(reply->at("user"), "ann");
  EXPECT_EQ(reply->at("client").as_string(), a->client_id());
}

}  // namespace
}  // namespace sb::test
