// The HTTP API over real sockets: status codes, bodies and their effect on WebSocket clients.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "support/ws_client.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

json::object error_of(const client::HttpResult& r) { return json::parse(r.body).at("error").as_object(); }

class HttpApi : public ::testing::Test {
 protected:
  TestServer server{[](server::Config& c) { c.api_keys = {"key-one-0123456789", "key-two-0123456789"}; }};
  client::HttpResult call(const std::string& method, const std::string& target, const std::string& body = {},
                          const std::string& key = "key-one-0123456789") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    return http_request("127.0.0.1", server.port(), method, target, body, headers);
  }
};

TEST_F(HttpApi, RequestsWithoutOrWithAWrongKeyGet401) {
  for (const std::string key : {"", "wrong"}) {
    auto r = call("POST", "/api/publish", R"({"channel":"a","data":1})", key);
    EXPECT_EQ(r.status, 401) << key;
    EXPECT_EQ(error_of(r).at("code"), "AUTH_FAILED");
    EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  }
  EXPECT_EQ(call("GET", "/metrics", {}, "").status, 401);
  // Both keys of a rotation work; /healthz needs none.
  EXPECT_EQ(call("GET", "/api/stats", {}, "key-two-0123456789").status, 200);
  EXPECT_EQ(call("GET", "/healthz", {}, "").status, 200);
}

TEST_F(HttpApi, PublishReturnsTheOffsetAndReachesSubscribers) {
  auto ws = WsClient::connect("127.0.0.1", server.port());
  ws->subscribe("orders");
  auto r = call("POST", "/api/publish", R"({"channel":"orders","data":{"id":7,"op":"created"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body.at("channel"), "orders");
  EXPECT_EQ(body.at("offset"), 1);
  EXPECT_EQ(body.at("epoch").as_string().size(), 12u);
  auto m = ws->receive_type("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("data"), (json::object{{"id", 7}, {"op", "created"}}));
  EXPECT_EQ(m->at("offset"), 1);
}

TEST_F(HttpApi, BadBodiesGet400WithACode) {
  struct Case {
    std::string body;
    std::string code;
  };
  for (const auto& c : {Case{"{", "INVALID_MESSAGE"}, Case{"[]", "INVALID_MESSAGE"},
                        Case{R"({"data":1})", "INVALID_MESSAGE"}, Case{R"({"channel":5,"data":1})", "INVALID_MESSAGE"},
                        Case{R"({"channel":"a"})", "INVALID_MESSAGE"},
                        Case{R"({"channel":"bad name","data":1})", "UNKNOWN_CHANNEL"},
                        Case{R"({"channel":"nons:x","data":1})", "UNKNOWN_CHANNEL"}}) {
    auto r = call("POST", "/api/publish", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(error_of(r).at("code").as_string(), c.code) << c.body;
    EXPECT_FALSE(error_of(r).at("message").as_string().empty());
  }
}

TEST_F(HttpApi, BroadcastAnswersPerChannel) {
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("a");
  a->subscribe("b");
  auto r = call("POST", "/api/broadcast", R"({"channels":["a","bad name","b"],"data":"x"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto results = json::parse(r.body).at("results").as_array();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].at("channel"), "a");
  EXPECT_EQ(results[0].at("offset"), 1);
  EXPECT_EQ(results[1].at("error").at("code"), "UNKNOWN_CHANNEL");
  EXPECT_EQ(results[2].at("offset"), 1);
  auto m1 = a->receive_type("message");
  auto m2 = a->receive_type("message");
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->at("channel"), "a");
  EXPECT_EQ(m2->at("channel"), "b");
  EXPECT_EQ(call("POST", "/api/broadcast", R"({"channels":"a","data":1})").status, 400);
  EXPECT_EQ(call("POST", "/api/broadcast", R"({"channels":[1],"data":1})").status, 400);
}

TEST_F(HttpApi, ChannelsAndStatsReflectSubscriptions) {
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto b = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("room.1");
  b->subscribe("room.1");
  a->subscribe("lobby");
  auto all = json::parse(call("GET", "/api/channels").body).at("channels").as_array();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (json::object{{"channel", "lobby"}, {"subscribers", 1}}));
  EXPECT_EQ(all[1], (json::object{{"channel", "room.1"}, {"subscribers", 2}}));
  auto rooms = json::parse(call("GET", "/api/channels?prefix=room.").body).at("channels").as_array();
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_EQ(rooms[0].at("channel"), "room.1");

  auto stats = json::parse(call("GET", "/api/stats").body).as_object();
  EXPECT_EQ(stats.at("connections"), 2);
  EXPECT_EQ(stats.at("subscriptions"), 3);
  EXPECT_EQ(stats.at("channels"), 2);
  for (const char* key : {"messages_in", "messages_out", "bytes_in", "bytes_out", "uptime_seconds"})
    EXPECT_TRUE(stats.contains(key)) << key;
  b.reset();  // b goes away: its subscription with it
  EXPECT_TRUE(eventually([&] {
    return json::parse(call("GET", "/api/channels?prefix=room.").body).at("channels").as_array()[0].at("subscribers") == 1;
  }));
}

TEST_F(HttpApi, UnknownRoutesAndWrongMethods) {
  auto r = call("GET", "/api/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r).at("code"), "NOT_FOUND");
  auto m = call("GET", "/api/publish");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.header("Allow"), "POST");
  EXPECT_EQ(call("GET", "/", {}, "").status, 404);
}

TEST_F(HttpApi, DisconnectByClientAndByUserClosesWith4000) {
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto b = WsClient::connect("127.0.0.1", server.port());
  auto c = WsClient::connect("127.0.0.1", server.port());
  ASSERT_TRUE(b->request(json::object{{"type", "connect"}, {"user", "bob"}}));
  ASSERT_TRUE(c->request(json::object{{"type", "connect"}, {"user", "bob"}}));

  auto r = call("POST", "/api/disconnect", json::serialize(json::object{{"client", a->client_id()}}));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).at("disconnected"), 1);
  EXPECT_EQ(a->wait_closed(), 4000);

  r = call("POST", "/api/disconnect", R"({"user":"bob"})");
  EXPECT_EQ(json::parse(r.body).at("disconnected"), 2);
  EXPECT_EQ(b->wait_closed(), 4000);
  EXPECT_EQ(c->wait_closed(), 4000);

  EXPECT_EQ(json::parse(call("POST", "/api/disconnect", R"({"user":"nobody"})").body).at("disconnected"), 0);
  EXPECT_EQ(call("POST", "/api/disconnect", R"({"client":"x","user":"y"})").status, 400);
  EXPECT_EQ(call("POST", "/api/disconnect", R"({})").status, 400);
  EXPECT_TRUE(eventually([&] { return json::parse(call("GET", "/api/stats").body).at("connections") == 0; }));
}

TEST_F(HttpApi, MetricsAreInPrometheusTextFormat) {
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("m");
  call("POST", "/api/publish", R"({"channel":"m","data":1})");
  ASSERT_TRUE(a->receive_type("message"));
  auto r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE switchboard_connections gauge\nswitchboard_connections 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("switchboard_messages_in_total 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("switchboard_messages_out_total 1\n"), std::string::npos);
}

TEST(HttpApiOpen, WithoutKeysTheApiAnswersOnLoopback) {
  TestServer server;
  auto r = http_request("127.0.0.1", server.port(), "POST", "/api/publish", R"({"channel":"a","data":1})");
  EXPECT_EQ(r.status, 200);
}

TEST(HttpApiOpen, ARequestRelayedByALocalProxyIsNotTreatedAsLoopback) {
  TestServer server;
  auto direct = http_request("127.0.0.1", server.port(), "GET", "/api/stats");
  EXPECT_EQ(direct.status, 200);
  for (const char* header : {"X-Forwarded-For", "Forwarded", "X-Real-IP"}) {
    auto relayed = http_request("127.0.0.1", server.port(), "GET", "/api/stats", {}, {{header, "203.0.113.9"}});
    EXPECT_EQ(relayed.status, 401) << header;
  }
}

TEST(HttpApiLimits, ABodyAboveTheLimitGets413) {
  TestServer server([](server::Config& c) { c.limits.max_http_body = 1000; });
  auto r = http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                        R"({"channel":"a","data":")" + std::string(2000, 'x') + "\"}");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace sb::test

namespace sb::test {
namespace {

TEST(WebPages, AreServedFromTheWebRootAndNothingOutsideIt) {
  const std::string root = ::testing::TempDir() + "webroot-" + std::to_string(::getpid());
  std::filesystem::create_directories(root + "/dashboard/assets");
  std::ofstream(root + "/dashboard/index.html") << "<h1>dash</h1>";
  std::ofstream(root + "/dashboard/assets/app.js") << "console.log(1)";
  std::ofstream(root + "/secret.txt") << "no";
  TestServer server([&](server::Config& c) { c.web_root = root; });
  auto get = [&](const std::string& target) { return http_request("127.0.0.1", server.port(), "GET", target); };
  auto redirect = get("/dashboard");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.header("Location"), "/dashboard/");
  auto index = get("/dashboard/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<h1>dash</h1>");
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  auto js = get("/dashboard/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/dashboard/../secret.txt").status, 404);
  EXPECT_EQ(get("/dashboard/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(get("/dashboard/missing.js").status, 404);
  auto demo = get("/demo/");
  EXPECT_EQ(demo.status, 404);
  EXPECT_NE(demo.body.find("not built"), std::string::npos);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace sb::test
