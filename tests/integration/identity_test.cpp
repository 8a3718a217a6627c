// Publisher identity (`from`), events without publish rights, POST /api/event and the idle
// timeout, over real sockets (docs/protocol.md, "Publisher identity").
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>

#include "auth/jwt.hpp"
#include "common/clock.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

const std::string secret = "identity-secret-0123456789-0123456789-abc";

void chat(server::Config& c) {
  c.jwt_secret = secret;  // anonymous stays "loopback": both kinds of connection in one server
  core::NamespaceOptions room{"chat", true};
  room.history.size = 100;
  c.namespaces.push_back(room);
  // Reactions and typing, but messages only through the backend.
  core::NamespaceOptions live{"live", false};
  live.client_events = true;
  c.namespaces.push_back(live);
  // Neither: a read-only namespace as before the option existed.
  core::NamespaceOptions news{"news", false};
  c.namespaces.push_back(news);
}

std::string token(json::object claims) {
  claims["exp"] = unix_millis() / 1000 + 3600;
  return auth::sign_hs("HS256", secret, json::serialize(claims));
}

std::unique_ptr<WsClient> anonymous(std::uint16_t port, const std::string& user, const std::string& name) {
  auto c = WsClient::connect("127.0.0.1", port);
  EXPECT_TRUE(c->request(json::object{{"type", "connect"}, {"user", user}, {"info", json::object{{"name", name}}}}));
  return c;
}

client::HttpResult post(std::uint16_t port, const std::string& path, const std::string& body) {
  return http_request("127.0.0.1", port, "POST", path, body);
}

TEST(Identity, AClientThatSendsFromGetsItsOwnIdentityAndItsDataUntouched) {
  TestServer server(chat);
  auto ann = anonymous(server.port(), "ann", "Ann");
  RawWs bob(server.port());
  bob.upgrade();
  ASSERT_TRUE(bob.read_frame());  // connected
  bob.send_text(R"({"type":"subscribe","id":1,"channel":"chat:1"})");
  ASSERT_TRUE(bob.read_frame());  // subscribed
  // A forged `from` beside the data, and one inside it: the first is replaced, the second is data.
  const std::string data = R"({ "text" : "hi", "from" : {"user":"admin"}, "n": 1.50 })";
  ann->send_text(R"({"type":"publish","id":7,"channel":"chat:1","data":)" + data +
                 R"(,"from":{"user":"mallory","client":"x","info":{"role":"admin"}}})");
  ASSERT_TRUE(ann->receive_type("published"));
  auto frame = bob.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_NE(frame->payload.find(R"("data":)" + data + ","), std::string::npos) << frame->payload;
  auto message = json::parse(frame->payload).as_object();
  const auto& from = message.at("from").as_object();
  EXPECT_EQ(from.at("user"), "ann");
  EXPECT_EQ(from.at("client").as_string(), ann->client_id());
  EXPECT_EQ(from.at("info").at("name"), "Ann");
  EXPECT_EQ(from.at("verified"), false) << "an anonymous user is only what it declared";
  EXPECT_EQ(frame->payload.find("mallory"), std::string::npos);
}

TEST(Identity, ATokensUserAndInfoAreStampedOnMessagesEventsAndTyping) {
  TestServer server(chat);
  auto ann = WsClient::connect("127.0.0.1", server.port());
  ASSERT_EQ(ann->reply_code({{"type", "connect"},
                           {"token", token({{"sub", "u-ann"}, {"info", json::object{{"role", "coach"}}}})}}),
            "connected");
  auto bob = anonymous(server.port(), "bob", "Bob");
  ann->subscribe("chat:2");
  bob->subscribe("chat:2");
  ann->publish("chat:2", "hello");
  auto message = bob->receive_type("message");
  ASSERT_TRUE(message);
  const auto& from = message->at("from").as_object();
  EXPECT_EQ(from.at("user"), "u-ann");
  EXPECT_EQ(from.at("client").as_string(), ann->client_id());
  EXPECT_EQ(from.at("info").at("role"), "coach");
  EXPECT_FALSE(from.contains("verified")) << "verified by its token";

  EXPECT_EQ(ann->reply_code({{"type", "event"}, {"channel", "chat:2"}, {"event", "like"}, {"data", 3}}), "relayed");
  auto event = bob->receive_type("event");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->at("from").at("user"), "u-ann");
  EXPECT_EQ(event->at("user"), "u-ann") << "the fields from before `from` stay";
  EXPECT_EQ(ann->reply_code({{"type", "typing"}, {"channel", "chat:2"}, {"typing", true}}), "relayed");
  auto typing = bob->receive_type("typing");
  ASSERT_TRUE(typing);
  EXPECT_EQ(typing->at("from").at("info").at("role"), "coach");
}

TEST(Identity, ABackendPublishCarriesTheFromItGivesAndNoneOtherwise) {
  TestServer server(chat);
  auto bob = anonymous(server.port(), "bob", "Bob");
  bob->subscribe("chat:3");
  auto r = post(server.port(), "/api/publish",
                R"({"channel":"chat:3","data":"from the agent","from":{"user":"agent-7","info":{"kind":"ai"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto named = bob->receive_type("message");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->at("from"), (json::value{{"user", "agent-7"}, {"client", ""}, {"info", {{"kind", "ai"}}}}));
  ASSERT_EQ(post(server.port(), "/api/publish", R"({"channel":"chat:3","data":"system"})").status, 200);
  auto plain = bob->receive_type("message");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->contains("from"));
  ASSERT_EQ(post(server.port(), "/api/broadcast", R"({"channels":["chat:3"],"data":2,"from":{"user":"ops"}})").status,
            200);
  auto broadcast = bob->receive_type("message");
  ASSERT_TRUE(broadcast);
  EXPECT_EQ(broadcast->at("from").at("user"), "ops");

  for (const char* bad : {R"({"channel":"chat:3","data":1,"from":"ann"})",
                          R"({"channel":"chat:3","data":1,"from":{"user":7}})",
                          R"({"channel":"chat:3","data":1,"from":{"info":[]}})"}) {
    auto refused = post(server.port(), "/api/publish", bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_NE(refused.body.find("INVALID_MESSAGE"), std::string::npos) << refused.body;
  }
  const std::string big = R"({"channel":"chat:3","data":1,"from":{"user":")" + std::string(5000, 'x') + R"("}})";
  EXPECT_EQ(post(server.port(), "/api/publish", big).status, 400);
}

TEST(Identity, HistoryAndRecoveryReturnFromAfterARestart) {
  const std::string dir = ::testing::TempDir() + "identity-restart-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto same_dir = [&](server::Config& c) {
    chat(c);
    c.data_dir = dir;
  };
  std::string epoch;
  std::string ann_id;
  {
    TestServer server(same_dir);
    auto ann = anonymous(server.port(), "ann", "Ann");
    ann_id = ann->client_id();
    ann->publish("chat:h", 1);
    auto r = post(server.port(), "/api/publish", R"({"channel":"chat:h","data":2})");
    epoch = std::string(json::parse(r.body).at("epoch").as_string());
  }
  TestServer again(same_dir);
  auto page = json::parse(http_request("127.0.0.1", again.port(), "GET", "/api/history?channel=chat:h").body);
  ASSERT_EQ(page.at("epoch").as_string(), epoch) << "the same SQLite file";
  const auto& messages = page.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("from").at("user"), "ann");
  EXPECT_EQ(messages[0].at("from").at("client").as_string(), ann_id);
  EXPECT_FALSE(messages[1].as_object().contains("from"));

  auto bob = anonymous(again.port(), "bob", "Bob");
  auto reply = bob->request(json::object{
      {"type", "subscribe"}, {"channel", "chat:h"}, {"since", json::object{{"offset", 0}, {"epoch", epoch}}}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("recovered"), true);
  auto first = bob->receive_type("message");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->at("from").at("info").at("name"), "Ann");
  auto protocol_page = bob->request(json::object{{"type", "history"}, {"channel", "chat:h"}});
  ASSERT_TRUE(protocol_page);
  EXPECT_EQ(protocol_page->at("messages").at(0).at("from").at("user"), "ann");
  std::filesystem::remove_all(dir);
}

TEST(Identity, ClientEventsLetSubscribersSendTypingAndEventsButNotPublish) {
  TestServer server(chat);
  auto ann = anonymous(server.port(), "ann", "Ann");
  auto bob = anonymous(server.port(), "bob", "Bob");
  ann->subscribe("live:1");
  bob->subscribe("live:1");
  EXPECT_EQ(ann->reply_code({{"type", "publish"}, {"channel", "live:1"}, {"data", 1}}), "PERMISSION_DENIED");
  EXPECT_EQ(ann->reply_code({{"type", "typing"}, {"channel", "live:1"}, {"typing", true}}), "relayed");
  auto typing = bob->receive_type("typing");
  ASSERT_TRUE(typing);
  EXPECT_EQ(typing->at("from").at("user"), "ann");
  EXPECT_EQ(ann->reply_code({{"type", "event"}, {"channel", "live:1"}, {"event", "clap"}}), "relayed");
  auto event = bob->receive_type("event");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->at("event"), "clap");

  // Without the option, events follow client_publish as before.
  ann->subscribe("news:1");
  EXPECT_EQ(ann->reply_code({{"type", "event"}, {"channel", "news:1"}, {"event", "clap"}}), "PERMISSION_DENIED");
  EXPECT_EQ(ann->reply_code({{"type", "typing"}, {"channel", "news:1"}, {"typing", true}}), "PERMISSION_DENIED");
}

TEST(Identity, ApiEventReachesSubscribersAndIsNotStored) {
  TestServer server(chat);
  auto bob = anonymous(server.port(), "bob", "Bob");
  bob->subscribe("chat:e");
  auto r = post(server.port(), "/api/event",
                R"({"channel":"chat:e","event":"progress","data":{"done":0.5},"from":{"user":"agent"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto event = bob->receive_type("event");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->at("event"), "progress");
  EXPECT_EQ(event->at("data").at("done"), 0.5);
  EXPECT_EQ(event->at("from").at("user"), "agent");
  EXPECT_FALSE(event->contains("offset"));
  EXPECT_FALSE(event->contains("client")) << "no connection sent it";
  ASSERT_EQ(post(server.port(), "/api/event", R"({"channel":"chat:e","event":"ping"})").status, 200);
  auto bare = bob->receive_type("event");
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->contains("from"));
  EXPECT_FALSE(bare->contains("data"));

  auto page = json::parse(http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=chat:e").body);
  EXPECT_EQ(page.at("offset"), 0);
  EXPECT_TRUE(page.at("messages").as_array().empty());
  EXPECT_EQ(post(server.port(), "/api/event", R"({"channel":"chat:e","event":""})").status, 400);
  EXPECT_EQ(post(server.port(), "/api/event", R"({"channel":"chat:e"})").status, 400);
  auto unknown = post(server.port(), "/api/event", R"({"channel":"nowhere:e","event":"x"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("UNKNOWN_CHANNEL"), std::string::npos) << unknown.body;
}

TEST(Identity, AnIdleConnectionIsClosedWith4008AndAnActiveOneStays) {
  TestServer server([](server::Config& c) {
    c.idle_timeout = std::chrono::seconds(2);
    // Pings and pongs every second: keepalive traffic must not count as activity.
    c.limits.ping_interval = std::chrono::seconds(1);
  });
  auto idle = WsClient::connect("127.0.0.1", server.port());
  auto pinging = WsClient::connect("127.0.0.1", server.port());
  auto active = WsClient::connect("127.0.0.1", server.port());
  active->subscribe("lobby");
  std::optional<int> idle_code;
  std::optional<int> pinging_code;
  // The active client publishes every 300 ms; the pinging one sends only JSON pings.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while ((!idle_code || !pinging_code) && std::chrono::steady_clock::now() < deadline) {
    active->publish("lobby", 1);
    if (!pinging->closed()) pinging->send_json(json::object{{"type", "ping"}});
    if (!idle_code) idle_code = idle->wait_closed(std::chrono::milliseconds(150));
    if (!pinging_code) pinging_code = pinging->wait_closed(std::chrono::milliseconds(150));
  }
  EXPECT_EQ(idle_code, 4008);
  EXPECT_EQ(pinging_code, 4008) << "a JSON ping is a keepalive, not activity";
  EXPECT_FALSE(active->closed());
  EXPECT_EQ(active->reply_code({{"type", "publish"}, {"channel", "lobby"}, {"data", 2}}), "published");
}

TEST(Identity, WithoutIdleTimeoutAQuietConnectionStays) {
  TestServer server([](server::Config& c) { c.limits.ping_interval = std::chrono::seconds(1); });
  auto quiet = WsClient::connect("127.0.0.1", server.port());
  EXPECT_FALSE(quiet->wait_closed(std::chrono::milliseconds(2500)));
  EXPECT_EQ(quiet->reply_code({{"type", "ping"}}), "pong");
}

}  // namespace
}  // namespace sb::test
