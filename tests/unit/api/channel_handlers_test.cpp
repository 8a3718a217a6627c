#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

namespace json = boost::json;

TEST_F(HttpApiTest, HistoryPagesFromTheStore) {
  for (const char* data : {"1", "2", "3"})
    ASSERT_EQ(call("POST", "/api/publish", std::string(R"({"channel":"kept:h","data":)") + data + "}").status, 200);
  const auto r = call("GET", "/api/history?channel=kept:h&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object page = json_of(r).as_object();
  EXPECT_EQ(page.at("channel"), "kept:h");
  EXPECT_EQ(page.at("offset"), 3);
  EXPECT_EQ(page.at("first_offset"), 1);
  const json::array messages = page.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].at("offset"), 1);
  EXPECT_EQ(messages[1].at("data"), 2);
  EXPECT_EQ(page.at("next"), 2);
  const auto newest = json_of(call("GET", "/api/history?channel=kept:h&reverse=true&limit=1"));
  EXPECT_EQ(newest.at("messages").at(0).at("data"), 3);
}

TEST_F(HttpApiTest, HistoryRefusesBadQueries) {
  auto r = call("GET", "/api/history");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"missing query parameter 'channel'","retryable":false}})");
  r = call("GET", "/api/history?channel=kept:h&limit=0");
  EXPECT_EQ(json_of(r).at("error").at("message"), "query parameter 'limit' must be from 1 to 1000");
  r = call("GET", "/api/history?channel=kept:h&since=9007199254740992");
  EXPECT_EQ(json_of(r).at("error").at("message"),
            "query parameter 'since' must be an integer from 0 to 9007199254740991");
  r = call("GET", "/api/history?channel=kept:h&reverse=yes");
  EXPECT_EQ(json_of(r).at("error").at("message"), "'reverse' must be true or false");
  r = call("GET", "/api/history?channel=nowhere:h");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_of(r).at("error").at("code"), "UNKNOWN_CHANNEL");
}

TEST_F(HttpApiTest, PresenceListsTheMembersWhereItIsOn) {
  Recorder c1, c2;  // only subscribers are members
  ASSERT_TRUE(hub.subscribe(0, "rooms:lobby", c1));
  ASSERT_TRUE(hub.subscribe(1, "rooms:lobby", c2));
  ASSERT_TRUE(hub.presence_add("rooms:lobby", core::Member{"c1", "alice", R"({"n":1})"}));
  ASSERT_TRUE(hub.presence_add("rooms:lobby", core::Member{"c2", "alice", ""}));
  auto r = call("GET", "/api/presence?channel=rooms:lobby");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object body = json_of(r).as_object();
  EXPECT_EQ(body.at("channel"), "rooms:lobby");
  EXPECT_EQ(body.at("members").as_array().size(), 2u);
  r = call("GET", "/api/presence_stats?channel=rooms:lobby");
  EXPECT_EQ(r.body, R"({"channel":"rooms:lobby","clients":2,"users":1})");
  r = call("GET", "/api/presence?channel=news");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body,
            R"({"error":{"code":"PERMISSION_DENIED","message":"presence is off in this namespace","retryable":false}})");
  EXPECT_EQ(call("GET", "/api/presence_stats?channel=news").status, 403);
  EXPECT_EQ(call("GET", "/api/presence_stats").status, 400);
}

TEST_F(HttpApiTest, ChannelsListThisNodeOrTheClusterOfOne) {
  Recorder a, b;
  ASSERT_TRUE(hub.subscribe(0, "news", a));
  ASSERT_TRUE(hub.subscribe(1, "news", b));
  EXPECT_EQ(call("GET", "/api/channels").body, R"({"channels":[{"channel":"news","subscribers":2}]})");
  EXPECT_EQ(call("GET", "/api/channels?prefix=rooms").body, R"({"channels":[]})");
  EXPECT_EQ(call("GET", "/api/channels?scope=cluster").body,
            R"({"scope":"cluster","nodes_answered":1,"channels":[{"channel":"news","subscribers":2,)"
            R"("nodes":[{"node":"","subscribers":2}]}]})");
  const auto r = call("GET", "/api/channels?scope=world");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_of(r).at("error").at("message"), "'scope' is node or cluster, got 'world'");
}

}  // namespace
}  // namespace sb::api::test
