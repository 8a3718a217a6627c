// Endpoint aliases (websocket_paths) and the subscriptions the server makes at connect: the
// token's `subs` claim and `?channel=` in namespaces with url_subscribe. Clients that never send
// a frame must still get messages.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "common/clock.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::WsClient;

const std::string secret = "test-secret-0123456789-0123456789-abcdef";

std::string token(json::object claims) {
  claims["exp"] = unix_millis() / 1000 + 3600;
  return auth::sign_hs("HS256", secret, json::serialize(claims));
}

// `dash` lets URLs subscribe; `room` does not; `team` is protected and `dm` private, both with
// url_subscribe, so only their own rules stand in the way.
void configure(server::Config& c) {
  c.websocket_paths = {"/ws", "/ws/dashboard"};
  c.jwt_secret = secret;
  core::NamespaceOptions dash{"dash"};
  dash.url_subscribe = true;
  core::NamespaceOptions room{"room"};
  core::NamespaceOptions team{"team"};
  team.access = core::Access::protected_;
  team.url_subscribe = true;
  core::NamespaceOptions dm{"dm"};
  dm.access = core::Access::private_;
  dm.url_subscribe = true;
  c.namespaces = {dash, room, team, dm};
}

void publish(std::uint16_t port, const std::string& channel, int value) {
  auto r = client::http_request("127.0.0.1", port, "POST", "/api/publish",
                                R"({"channel":")" + channel + R"(","data":)" + std::to_string(value) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
}

// The next text frame of a raw client, parsed.
json::object next_json(RawWs& ws) {
  auto frame = ws.read_frame();
  if (!frame || frame->opcode != 0x1) return {};
  return json::parse(frame->payload).as_object();
}

TEST(ServerSideSubscriptions, ARawClientOnAnAliasPathGetsMessagesWithoutSendingAnything) {
  TestServer server(configure);
  RawWs ws(server.port());
  ASSERT_NE(ws.upgrade("/ws/dashboard?client_id=abc&channel=dash:all").find(" 101 "), std::string::npos);
  EXPECT_EQ(next_json(ws)["type"], "connected");
  auto subscribed = next_json(ws);
  EXPECT_EQ(subscribed["type"], "subscribed");
  EXPECT_EQ(subscribed["channel"], "dash:all");
  EXPECT_FALSE(subscribed.contains("id"));
  publish(server.port(), "dash:all", 7);
  auto message = next_json(ws);
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["channel"], "dash:all");
  EXPECT_EQ(message["data"], 7);
}

TEST(ServerSideSubscriptions, ANamespaceWithoutUrlSubscribeRefusesAndTheConnectionStaysOpen) {
  TestServer server(configure);
  auto c = WsClient::connect("127.0.0.1", server.port(), "/ws?channel=room:lobby&channel=dash:ok");
  auto refused = c->receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["type"], "error");
  EXPECT_EQ((*refused)["channel"], "room:lobby");
  EXPECT_EQ((*refused)["code"], "PERMISSION_DENIED");
  EXPECT_FALSE(refused->contains("id"));
  auto accepted = c->receive();
  ASSERT_TRUE(accepted);
  EXPECT_EQ((*accepted)["type"], "subscribed");
  EXPECT_EQ((*accepted)["channel"], "dash:ok");
  publish(server.port(), "room:lobby", 1);
  publish(server.port(), "dash:ok", 2);
  auto message = c->receive_type("message");
  ASSERT_TRUE(message);
  EXPECT_EQ((*message)["channel"], "dash:ok");  // nothing from room:lobby came first
  auto pong = c->request(json::object{{"type", "ping"}});
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
  EXPECT_FALSE(c->closed());
}

// A malformed name is UNKNOWN_CHANNEL, as for a client's `subscribe` (there is no INVALID_CHANNEL).
TEST(ServerSideSubscriptions, MalformedAndUnknownUrlChannelsAreReportedByCode) {
  TestServer server(configure);
  auto c = WsClient::connect("127.0.0.1", server.port(), "/ws?channel=bad%20name&channel=nowhere:x");
  auto bad = c->receive();
  ASSERT_TRUE(bad);
  EXPECT_EQ((*bad)["code"], "UNKNOWN_CHANNEL");
  EXPECT_EQ((*bad)["channel"], "bad name");
  EXPECT_NE((*bad)["message"].as_string().find("may only hold"), std::string::npos);
  auto unknown = c->receive();
  ASSERT_TRUE(unknown);
  EXPECT_EQ((*unknown)["code"], "UNKNOWN_CHANNEL");
  EXPECT_EQ((*unknown)["message"], "namespace 'nowhere' is not configured");
  EXPECT_FALSE(c->closed());
}

TEST(ServerSideSubscriptions, UrlChannelsKeepTheirNamespacesRules) {
  TestServer server(configure);
  // No token: the protected namespace refuses; the private one always needs a subscription token.
  auto anonymous = WsClient::connect("127.0.0.1", server.port(), "/ws?channel=team:a&channel=dm:a");
  for (const char* channel : {"team:a", "dm:a"}) {
    auto e = anonymous->receive();
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["type"], "error");
    EXPECT_EQ((*e)["channel"], channel);
    EXPECT_EQ((*e)["code"], "PERMISSION_DENIED");
  }
  // A token whose `channels` allows team:a: the URL may subscribe it.
  auto t = token({{"sub", "u1"}, {"channels", json::array{"team:a"}}});
  auto member = WsClient::connect("127.0.0.1", server.port(), "/ws?token=" + t + "&channel=team:a");
  auto ok = member->receive();
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)["type"], "subscribed");
  EXPECT_EQ((*ok)["channel"], "team:a");
}

TEST(ServerSideSubscriptions, TheTokensSubsClaimSubscribesEvenInProtectedAndPrivateNamespaces) {
  TestServer server(configure);
  // `room` has no url_subscribe and `team` is protected with no `channels` claim: the claim is
  // the authorization.
  auto t = token({{"sub", "u2"}, {"subs", json::array{"room:lobby", "team:ops", "dm:u2-u3"}}});
  auto c = WsClient::connect("127.0.0.1", server.port(), "/ws?token=" + t);
  for (const char* channel : {"room:lobby", "team:ops", "dm:u2-u3"}) {
    auto s = c->receive();
    ASSERT_TRUE(s);
    EXPECT_EQ((*s)["type"], "subscribed") << json::serialize(*s);
    EXPECT_EQ((*s)["channel"], channel);
  }
  publish(server.port(), "team:ops", 3);
  auto message = c->receive_type("message");
  ASSERT_TRUE(message);
  EXPECT_EQ((*message)["channel"], "team:ops");
  EXPECT_EQ((*message)["data"], 3);
}

TEST(ServerSideSubscriptions, TheSubsClaimOfAConnectTokenSubscribesToo) {
  TestServer server([](server::Config& c) {
    configure(c);
    c.anonymous = "never";
  });
  auto c = WsClient::connect("127.0.0.1", server.port(), "/ws?channel=dash:late");
  auto connected = c->request(json::object{{"type", "connect"}, {"token", token({{"sub", "u4"}, {"subs", json::array{"room:x"}}})}});
  ASSERT_TRUE(connected);
  EXPECT_EQ((*connected)["type"], "connected");
  std::vector<std::string> channels;
  for (int i = 0; i < 2; ++i) {
    auto s = c->receive();
    ASSERT_TRUE(s);
    EXPECT_EQ((*s)["type"], "subscribed");
    channels.emplace_back((*s)["channel"].as_string());
  }
  EXPECT_EQ(channels, (std::vector<std::string>{"room:x", "dash:late"}));
}

TEST(ServerSideSubscriptions, OverMaxSubscriptionsTheRestAreRefusedOneByOne) {
  TestServer server([](server::Config& c) {
    configure(c);
    c.max_subscriptions = 2;
  });
  auto t = token({{"sub", "u5"}, {"subs", json::array{"dash:1"}}});
  auto c = WsClient::connect("127.0.0.1", server.port(),
                             "/ws?token=" + t + "&channel=dash:2&channel=dash:3&channel=dash:4");
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto f = c->receive();
    ASSERT_TRUE(f);
    seen.push_back(std::string((*f)["type"].as_string()) + " " + std::string((*f)["channel"].as_string()));
    if ((*f)["type"] == "error") {
      EXPECT_NE((*f)["message"].as_string().find("max_subscriptions"), std::string::npos);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"subscribed dash:1", "subscribed dash:2", "error dash:3", "error dash:4"}));
  EXPECT_FALSE(c->closed());
}

TEST(ServerSideSubscriptions, UnknownPathsAre404AndEveryAliasAnswers426ToAPlainGet) {
  TestServer server(configure);
  auto refused = client::http_request("127.0.0.1", server.port(), "GET", "/ws/other", {},
                                      {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}});
  EXPECT_EQ(refused.status, 404);
  EXPECT_NE(refused.body.find("WebSocket endpoints are /ws, /ws/dashboard"), std::string::npos) << refused.body;
  for (const char* path : {"/ws", "/ws/dashboard"}) {
    auto r = client::http_request("127.0.0.1", server.port(), "GET", path);
    EXPECT_EQ(r.status, 426) << path;
    EXPECT_EQ(r.header("Upgrade"), "websocket");
  }
  EXPECT_EQ(client::http_request("127.0.0.1", server.port(), "GET", "/ws/other").status, 404);
}

}  // namespace
}  // namespace sb::test
