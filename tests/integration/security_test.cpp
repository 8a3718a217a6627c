// Authentication, channel permissions, origins and limits, against hostile or careless clients.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/jwt.hpp"
#include "support/ws_client.hpp"
#include "common/clock.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::WsClient;

const std::string secret = "test-secret-0123456789-0123456789-abcdef";

std::int64_t now_s() { return unix_millis() / 1000; }

std::string token(json::object claims) {
  if (!claims.contains("exp")) claims["exp"] = now_s() + 3600;
  return auth::sign_hs("HS256", secret, json::serialize(claims));
}

void secure(server::Config& c) {
  c.jwt_secret = secret;
  c.jwt_leeway = std::chrono::seconds(1);
  c.anonymous = "never";
  core::NamespaceOptions team{"team", true};
  team.access = core::Access::protected_;
  team.presence = true;
  c.namespaces.push_back(team);
  core::NamespaceOptions dm{"dm", true};
  dm.access = core::Access::private_;
  c.namespaces.push_back(dm);
}

std::unique_ptr<WsClient> connect_with(std::uint16_t port, const std::string& t) {
  auto c = WsClient::connect("127.0.0.1", port);
  auto r = c->request(json::object{{"type", "connect"}, {"token", t}});
  EXPECT_TRUE(r);
  EXPECT_EQ(r->at("type"), "connected") << json::serialize(*r);
  return c;
}

TEST(Auth, ATokenInConnectSetsTheUserAndTheInfoShownInPresence) {
  TestServer server(secure);
  auto c = WsClient::connect("127.0.0.1", server.port());
  auto r = c->request(json::object{
      {"type", "connect"},
      {"token", token({{"sub", "u1"}, {"info", json::object{{"name", "Ann"}}}, {"channels", json::array{"team:*"}}})},
      {"user", "someone-else"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("user"), "u1");  // the token decides, not the request
  c->subscribe("team:alpha");
  auto members = c->request(json::object{{"type", "presence"}, {"channel", "team:alpha"}});
  EXPECT_EQ(members->at("members").as_array()[0].at("info").at("name"), "Ann");
}

TEST(Auth, TokensOnTheUpgradeQueryOrHeaderAreAccepted) {
  TestServer server(secure);
  const std::string t = token({{"sub", "q"}});
  auto by_query = WsClient::connect("127.0.0.1", server.port(), "/ws?token=" + t);
  EXPECT_EQ(by_query->greeting().at("user"), "q");
  RawWs by_header(server.port());
  std::string head = by_header.upgrade("/ws", "Authorization: Bearer " + t + "\r\n");
  EXPECT_NE(head.find("101"), std::string::npos) << head;
  auto greeting = by_header.read_frame();
  ASSERT_TRUE(greeting);
  EXPECT_NE(greeting->payload.find(R"("user":"q")"), std::string::npos);
}

TEST(Auth, BadTokensAreRefusedBeforeOrAtConnect) {
  TestServer server(secure);
  // On the upgrade: an HTTP 401, no WebSocket.
  for (const std::string& bad : {std::string("garbage"), token({{"sub", "x"}, {"exp", now_s() - 100}}),
                                 auth::sign_hs("HS256", secret + "-wrong", R"({"sub":"x"})"),
                                 auth::base64url_encode(R"({"alg":"none"})") + "." +
                                     auth::base64url_encode(R"({"sub":"x"})") + "."}) {
    RawWs raw(server.port());
    std::string head = raw.upgrade("/ws?token=" + bad);
    EXPECT_NE(head.find("401"), std::string::npos) << head;
  }
  // In connect: an AUTH_FAILED error, then close 4003.
  auto c = WsClient::connect("127.0.0.1", server.port());
  auto r = c->request(json::object{{"type", "connect"}, {"token", "not.a.token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("code"), "AUTH_FAILED");
  EXPECT_EQ(c->wait_closed(), 4003);
}

TEST(Auth, WithoutATokenNothingButConnectIsAllowedWhenAnonymousIsOff) {
  TestServer server(secure);
  auto c = WsClient::connect("127.0.0.1", server.port());
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "lobby"}}), "AUTH_FAILED");
  EXPECT_EQ(c->reply_code({{"type", "publish"}, {"channel", "lobby"}, {"data", 1}}), "AUTH_FAILED");
  EXPECT_EQ(c->reply_code({{"type", "ping"}}), "pong");
  EXPECT_EQ(c->reply_code({{"type", "connect"}, {"user", "me"}}), "AUTH_FAILED");
  EXPECT_EQ(c->wait_closed(), 4003);
}

TEST(Auth, AnonymousClientsAreLetInFromLoopbackByDefault) {
  TestServer server([](server::Config& c) { c.jwt_secret = secret; });  // anonymous = "loopback"
  auto c = WsClient::connect("127.0.0.1", server.port());
  c->subscribe("lobby");
  EXPECT_EQ(c->reply_code({{"type", "publish"}, {"channel", "lobby"}, {"data", 1}}), "published");
  // Relayed by a reverse proxy on this machine: not "loopback" any more.
  RawWs proxied(server.port());
  proxied.upgrade("/ws", "X-Forwarded-For: 203.0.113.9\r\n");
  ASSERT_TRUE(proxied.read_frame());  // connected
  proxied.send_text(R"({"type":"subscribe","id":1,"channel":"lobby"})");
  auto refused = proxied.read_frame();
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->payload.find("AUTH_FAILED"), std::string::npos) << refused->payload;
}

TEST(Permissions, ProtectedNamespacesFollowTheChannelsAndPublishClaims) {
  TestServer server(secure);
  auto c = connect_with(server.port(),
                        token({{"sub", "u1"}, {"channels", json::array{"team:a*"}}, {"publish", json::array{"team:alpha"}}}));
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "team:alpha"}}), "subscribed");
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "team:beta"}}), "PERMISSION_DENIED");
  EXPECT_EQ(c->reply_code({{"type", "publish"}, {"channel", "team:alpha"}, {"data", 1}}), "published");
  EXPECT_EQ(c->reply_code({{"type", "publish"}, {"channel", "team:alpine"}, {"data", 1}}), "PERMISSION_DENIED");
  EXPECT_EQ(c->reply_code({{"type", "typing"}, {"channel", "team:alpha"}, {"typing", true}}), "relayed");
  // Reading rights without publishing rights: no typing, no events either.
  auto reader = connect_with(server.port(), token({{"sub", "u2"}, {"channels", json::array{"team:*"}}}));
  EXPECT_EQ(reader->reply_code({{"type", "subscribe"}, {"channel", "team:alpha"}}), "subscribed");
  EXPECT_EQ(reader->reply_code({{"type", "typing"}, {"channel", "team:alpha"}, {"typing", true}}), "PERMISSION_DENIED");
  EXPECT_EQ(reader->reply_code({{"type", "event"}, {"channel", "team:alpha"}, {"event", "x"}}), "PERMISSION_DENIED");
  // Denied requests leave the connection up.
  EXPECT_EQ(c->reply_code({{"type", "ping"}}), "pong");
}

TEST(Permissions, PrivateChannelsNeedASubscriptionTokenForThatChannelAndUser) {
  TestServer server(secure);
  auto c = connect_with(server.port(), token({{"sub", "u1"}}));
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "dm:u1-u2"}}), "PERMISSION_DENIED");
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "dm:u1-u2"},
                         {"token", token({{"sub", "u2"}, {"channel", "dm:u1-u2"}})}}),
            "PERMISSION_DENIED");
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "dm:u1-u2"},
                         {"token", token({{"sub", "u1"}, {"channel", "dm:u1-u3"}})}}),
            "PERMISSION_DENIED");
  EXPECT_EQ(c->reply_code({{"type", "subscribe"}, {"channel", "dm:u1-u2"},
                         {"token", token({{"sub", "u1"}, {"channel", "dm:u1-u2"}})}}),
            "subscribed");
}

TEST(Permissions, PersonalChannelsAreTheirUsersOnly) {
  TestServer server([](server::Config& c) {
    secure(c);
    c.anonymous = "always";
  });
  auto owner = connect_with(server.port(), token({{"sub", "42"}}));
  auto other = connect_with(server.port(), token({{"sub", "43"}}));
  auto anonymous = WsClient::connect("127.0.0.1", server.port());
  anonymous->request(json::object{{"type", "connect"}, {"user", "42"}});  // claims to be 42
  EXPECT_EQ(owner->reply_code({{"type", "subscribe"}, {"channel", "user#42"}}), "subscribed");
  EXPECT_EQ(other->reply_code({{"type", "subscribe"}, {"channel", "user#42"}}), "PERMISSION_DENIED");
  EXPECT_EQ(anonymous->reply_code({{"type", "subscribe"}, {"channel", "user#42"}}), "PERMISSION_DENIED");
  EXPECT_EQ(other->reply_code({{"type", "subscribe"}, {"channel", "team:user#42"}}), "PERMISSION_DENIED");
}

TEST(Auth, AnExpiringTokenAsksForARefreshAndClosesWith4004WithoutOne) {
  TestServer server(secure);
  // Expires in 2 s: well inside refresh_before (30 s), so refresh_required comes at once.
  auto c = connect_with(server.port(), token({{"sub", "u1"}, {"exp", now_s() + 2}}));
  auto asked = c->receive_type("refresh_required", std::chrono::seconds(3));
  ASSERT_TRUE(asked);
  EXPECT_LE(asked->at("expires_in").to_number<int>(), 2);
  auto refreshed = c->request(json::object{{"type", "refresh"}, {"token", token({{"sub", "u1"}})}});
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(refreshed->at("type"), "refreshed");
  EXPECT_GT(refreshed->at("expires_at").to_number<std::int64_t>(), now_s() + 3000);
  // A refresh for another user is refused (and ends the connection).
  auto d = connect_with(server.port(), token({{"sub", "u1"}, {"exp", now_s() + 2}}));
  EXPECT_EQ(d->reply_code({{"type", "refresh"}, {"token", token({{"sub", "mallory"}})}}), "AUTH_FAILED");
  EXPECT_EQ(d->wait_closed(), 4003);
  // Nobody refreshes: closed at expiry (plus the 1 s leeway).
  auto e = connect_with(server.port(), token({{"sub", "u2"}, {"exp", now_s() + 1}}));
  EXPECT_EQ(e->wait_closed(std::chrono::seconds(6)), 4004);
  EXPECT_FALSE(c->closed());
}

TEST(Permissions, HistoryAndPresenceFollowTheSubscribeRules) {
  TestServer server([](server::Config& c) {
    secure(c);
    c.namespaces[0].history.size = 10;  // team: protected, with presence
    c.namespaces[1].history.size = 10;  // dm: private
    c.namespaces[1].presence = true;
  });
  auto member = connect_with(server.port(), token({{"sub", "u1"}, {"channels", json::array{"team:*"}}}));
  EXPECT_EQ(member->reply_code({{"type", "subscribe"}, {"channel", "dm:u1-u2"},
                              {"token", token({{"sub", "u1"}, {"channel", "dm:u1-u2"}})}}),
            "subscribed");
  auto outsider = connect_with(server.port(), token({{"sub", "u3"}}));
  for (const char* type : {"history", "presence", "presence_stats"}) {
    EXPECT_EQ(outsider->reply_code({{"type", type}, {"channel", "dm:u1-u2"}}), "PERMISSION_DENIED") << type;
    EXPECT_EQ(outsider->reply_code({{"type", type}, {"channel", "team:alpha"}}), "PERMISSION_DENIED") << type;
    EXPECT_EQ(member->reply_code({{"type", type}, {"channel", "dm:u1-u2"}}), type) << type;  // subscribed
    EXPECT_EQ(member->reply_code({{"type", type}, {"channel", "team:alpha"}}), type) << type;  // may subscribe
  }
  EXPECT_EQ(outsider->reply_code({{"type", "history"}, {"channel", "user#u1"}}), "PERMISSION_DENIED");
}

TEST(Auth, ATokenWithoutSubIsRefused) {
  TestServer server(secure);
  RawWs raw(server.port());
  EXPECT_NE(raw.upgrade("/ws?token=" + token({{"channels", json::array{"*"}}})).find("401"), std::string::npos);
}

TEST(Origins, BrowsersFromOtherSitesAreRefusedBeforeTheUpgrade) {
  TestServer server([](server::Config& c) { c.allowed_origins = {"https://app.example.com", "https://*.example.org"}; });
  auto status = [&](const std::string& origin) {
    RawWs raw(server.port());
    std::string head = raw.upgrade("/ws", origin.empty() ? "" : "Origin: " + origin + "\r\n");
    return head.substr(9, 3);
  };
  EXPECT_EQ(status(""), "101");  // not a browser
  EXPECT_EQ(status("https://app.example.com"), "101");
  EXPECT_EQ(status("https://eu.example.org"), "101");
  EXPECT_EQ(status("http://localhost"), "101");  // same host: the test's Host header is localhost
  EXPECT_EQ(status("https://evil.com"), "403");
  EXPECT_EQ(status("https://example.org"), "403");
  EXPECT_EQ(status("https://app.example.com.evil.com"), "403");
}

TEST(Limits, RequestsAboveTheRateGetRateLimitWithRetryAfter) {
  TestServer server([](server::Config& c) {
    c.rate_per_connection = 5;
    c.rate_burst = 5;
  });
  auto c = WsClient::connect("127.0.0.1", server.port());
  int limited = 0;
  std::int64_t retry_after = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = c->request(json::object{{"type", "ping"}});
    ASSERT_TRUE(r);
    if (r->at("type") == "error") {
      EXPECT_EQ(r->at("code"), "RATE_LIMIT");
      EXPECT_EQ(r->at("retryable"), true);
      retry_after = r->at("retry_after").to_number<std::int64_t>();
      ++limited;
    }
  }
  EXPECT_GE(limited, 4);
  EXPECT_GT(retry_after, 0);
  EXPECT_LE(retry_after, 200);
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(server.app().stats().rate_limited, static_cast<std::uint64_t>(limited));
}

TEST(Limits, ConnectionsPerAddressAreCapped) {
  TestServer server([](server::Config& c) { c.max_connections_per_ip = 2; });
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto b = WsClient::connect("127.0.0.1", server.port());
  RawWs third(server.port());
  EXPECT_NE(third.upgrade().find("429"), std::string::npos);
  EXPECT_EQ(server.app().stats().upgrades_refused, 1u);
  a.reset();
  EXPECT_TRUE(eventually([&] {
    RawWs again(server.port());
    return again.upgrade().find("101") != std::string::npos;
  }));
}

}  // namespace
}  // namespace sb::test
