// Tags and filters over real sockets (docs/filters.md): each subscriber gets only what its filter
// matches, with the exact bytes; malformed filters and oversize tags are refused; recovery and
// history apply the filter; tags survive a restart on the same SQLite file.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>

#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

void dashboard(server::Config& c) {
  core::NamespaceOptions board{"board", true};
  board.history.size = 100;
  c.namespaces.push_back(board);
}

client::HttpResult post(std::uint16_t port, const std::string& body) {
  return http_request("127.0.0.1", port, "POST", "/api/publish", body);
}

// A raw subscriber: it reads the exact frames the server sent.
std::unique_ptr<RawWs> subscriber(std::uint16_t port, const std::string& subscribe) {
  auto ws = std::make_unique<RawWs>(port);
  ws->upgrade();
  EXPECT_TRUE(ws->read_frame());  // connected
  ws->send_text(subscribe);
  auto reply = ws->read_frame();
  EXPECT_TRUE(reply && reply->payload.find(R"("type":"subscribed")") != std::string::npos)
      << (reply ? reply->payload : "no reply");
  return ws;
}

std::string code_of(WsClient& c, json::object request) {
  auto r = c.request(std::move(request));
  if (!r) return "no reply";
  if (r->at("type") != "error") return std::string(r->at("type").as_string());
  return std::string(r->at("code").as_string());
}

TEST(Filters, EachSubscriberGetsOnlyItsMatchesWithTheExactBytes) {
  TestServer server(dashboard);
  auto twelve = subscriber(server.port(), R"({"type":"subscribe","id":1,"channel":"board:1","filter":{"eq":["circle","12"]}})");
  auto seven_or_not_twelve = subscriber(
      server.port(),
      R"({"type":"subscribe","id":1,"channel":"board:1","filter":{"or":[{"in":["project",["7","9"]]},{"not":{"exists":"circle"}}]}})");
  ASSERT_EQ(post(server.port(), R"({"channel":"board:1","data":{"n":1},"tags":{"circle":"12","project":"1"}})").status, 200);
  ASSERT_EQ(post(server.port(), R"({"channel":"board:1","data":{"n":2},"tags":{"circle":"13","project":"7"}})").status, 200);
  ASSERT_EQ(post(server.port(), R"({"channel":"board:1","data":{"n":3}})").status, 200);
  ASSERT_EQ(post(server.port(), R"({"channel":"board:1","data":{"n":4},"tags":{"circle":"12"}})").status, 200);

  auto a1 = twelve->read_frame();
  auto a2 = twelve->read_frame();
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(a1->payload.substr(0, a1->payload.find(R"(,"ts":)")),
            R"({"type":"message","channel":"board:1","data":{"n":1},"offset":1)");
  EXPECT_NE(a1->payload.find(R"(,"tags":{"circle":"12","project":"1"}})"), std::string::npos) << a1->payload;
  EXPECT_NE(a2->payload.find(R"("data":{"n":4},"offset":4)"), std::string::npos) << a2->payload;
  EXPECT_NE(a2->payload.find(R"("tags":{"circle":"12"}})"), std::string::npos) << a2->payload;

  auto b1 = seven_or_not_twelve->read_frame();
  auto b2 = seven_or_not_twelve->read_frame();
  ASSERT_TRUE(b1 && b2);
  EXPECT_NE(b1->payload.find(R"("data":{"n":2},"offset":2)"), std::string::npos) << b1->payload;
  EXPECT_NE(b2->payload.find(R"("data":{"n":3},"offset":3)"), std::string::npos) << b2->payload;
  EXPECT_EQ(b2->payload.find("tags"), std::string::npos) << "a message without tags has no `tags`";
  // Nothing else came: a ping is answered next.
  twelve->send_text(R"({"type":"ping","id":9})");
  auto pong = twelve->read_frame();
  ASSERT_TRUE(pong);
  EXPECT_NE(pong->payload.find(R"("type":"pong")"), std::string::npos) << pong->payload;
}

TEST(Filters, MalformedFiltersAndOversizeTagsAreRefused) {
  TestServer server(dashboard);
  auto c = WsClient::connect("127.0.0.1", server.port());
  EXPECT_EQ(code_of(*c, {{"type", "subscribe"}, {"channel", "board:2"}, {"filter", json::object{{"like", "x"}}}}),
            "INVALID_FILTER");
  EXPECT_EQ(code_of(*c, {{"type", "subscribe"}, {"channel", "board:2"}, {"filter", json::object{{"eq", json::array{"a"}}}}}),
            "INVALID_FILTER");
  json::value deep = json::object{{"exists", "a"}};
  for (int i = 0; i < 9; ++i) deep = json::object{{"not", deep}};
  auto reply = c->request({{"type", "subscribe"}, {"channel", "board:2"}, {"filter", deep}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("code"), "INVALID_FILTER");
  EXPECT_NE(std::string(reply->at("message").as_string()).find("deeper than 8"), std::string::npos);
  // Refused, not subscribed: a publication does not reach it.
  EXPECT_EQ(code_of(*c, {{"type", "history"}, {"channel", "board:2"}, {"filter", "x"}}), "INVALID_FILTER");

  json::object many;
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(code_of(*c, {{"type", "publish"}, {"channel", "board:2"}, {"data", 1}, {"tags", many}}), "INVALID_MESSAGE");
  EXPECT_EQ(code_of(*c, {{"type", "publish"}, {"channel", "board:2"}, {"data", 1}, {"tags", json::object{{"n", 1}}}}),
            "INVALID_MESSAGE");
  const std::string big = R"({"channel":"board:2","data":1,"tags":{"k":")" + std::string(300, 'v') + R"("}})";
  auto r = post(server.port(), big);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("256 bytes"), std::string::npos) << r.body;
  // Broadcast checks them too, before publishing anywhere.
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "POST", "/api/broadcast",
                         R"({"channels":["board:2"],"data":1,"tags":[]})").status,
            400);
  EXPECT_EQ(code_of(*c, {{"type", "history"}, {"channel", "board:2"}}), "history");
}

TEST(Filters, RecoveryAndHistoryApplyTheFilter) {
  TestServer server(dashboard);
  auto c = WsClient::connect("127.0.0.1", server.port());
  const json::object twelve{{"eq", json::array{"circle", "12"}}};
  auto first = c->request({{"type", "subscribe"}, {"channel", "board:3"}, {"filter", twelve}});
  ASSERT_TRUE(first);
  const std::string epoch(first->at("epoch").as_string());
  c->close();
  // While away: four messages, two of them for circle 12.
  for (const char* circle : {"12", "13", "12", "14"})
    ASSERT_EQ(post(server.port(), std::string(R"({"channel":"board:3","data":")") + circle + R"(","tags":{"circle":")" +
                                      circle + R"("}})")
                  .status,
              200);
  auto again = WsClient::connect("127.0.0.1", server.port());
  auto reply = again->request({{"type", "subscribe"},
                               {"channel", "board:3"},
                               {"filter", twelve},
                               {"since", json::object{{"offset", 0}, {"epoch", epoch}}}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->at("recovered"), true);
  auto m1 = again->receive_type("message");
  auto m2 = again->receive_type("message");
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->at("offset"), 1);
  EXPECT_EQ(m2->at("offset"), 3);
  EXPECT_EQ(m2->at("tags").at("circle"), "12");
  EXPECT_FALSE(again->receive_type("message", std::chrono::milliseconds(200)));
  // The live flow goes on filtered.
  ASSERT_EQ(post(server.port(), R"({"channel":"board:3","data":"x","tags":{"circle":"13"}})").status, 200);
  ASSERT_EQ(post(server.port(), R"({"channel":"board:3","data":"y","tags":{"circle":"12"}})").status, 200);
  auto live = again->receive_type("message");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->at("data"), "y");

  // History: the subscription's filter, or the request's own.
  auto page = again->request({{"type", "history"}, {"channel", "board:3"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->at("messages").as_array().size(), 3u);  // 1, 3, 6
  auto other = WsClient::connect("127.0.0.1", server.port());
  auto fourteen = other->request({{"type", "history"},
                                  {"channel", "board:3"},
                                  {"limit", 3},
                                  {"filter", json::object{{"in", json::array{"circle", json::array{"14", "13"}}}}}});
  ASSERT_TRUE(fourteen);
  const auto& messages = fourteen->at("messages").as_array();
  ASSERT_EQ(messages.size(), 1u);  // of 1, 2, 3 read, 2 matches
  EXPECT_EQ(messages[0].at("offset"), 2);
  EXPECT_EQ(messages[0].at("tags").at("circle"), "13");
  EXPECT_EQ(fourteen->at("next"), 3) << "the next page starts after what was read";
}

TEST(Filters, TagsSurviveARestartOnTheSameFile) {
  const std::string dir = ::testing::TempDir() + "filters-restart-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto same_dir = [&](server::Config& c) {
    dashboard(c);
    c.data_dir = dir;
  };
  {
    TestServer server(same_dir);
    auto c = WsClient::connect("127.0.0.1", server.port());
    ASSERT_EQ(code_of(*c, {{"type", "publish"}, {"channel", "board:r"}, {"data", 1},
                           {"tags", json::object{{"circle", "12"}, {"kind", "alert"}}}}),
              "published");
    ASSERT_EQ(post(server.port(), R"({"channel":"board:r","data":2})").status, 200);
  }
  TestServer again(same_dir);
  auto page = json::parse(http_request("127.0.0.1", again.port(), "GET", "/api/history?channel=board:r").body);
  const auto& messages = page.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("tags"), (json::object{{"circle", "12"}, {"kind", "alert"}}));
  EXPECT_FALSE(messages[1].as_object().contains("tags"));
  auto c = WsClient::connect("127.0.0.1", again.port());
  auto filtered = c->request({{"type", "history"}, {"channel", "board:r"}, {"filter", json::object{{"exists", "kind"}}}});
  ASSERT_TRUE(filtered);
  EXPECT_EQ(filtered->at("messages").as_array().size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sb::test
