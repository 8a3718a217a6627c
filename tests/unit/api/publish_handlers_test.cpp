#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

namespace json = boost::json;

TEST_F(HttpApiTest, PublishAnswersThePositionAndDeliversTheDataAsSent) {
  Recorder subscriber;
  ASSERT_TRUE(hub.subscribe(0, "news", subscriber));
  const auto r = call("POST", "/api/publish", R"({"channel":"news","data":{"price": 1.50, "x" :[ ]}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  const json::object body = json_of(r).as_object();
  EXPECT_EQ(body.size(), 3u);
  EXPECT_EQ(body.at("channel"), "news");
  EXPECT_EQ(body.at("offset"), 1);
  EXPECT_TRUE(body.at("epoch").is_string());
  run_shards();
  // The bytes the client sent, spaces and all: never re-serialized.
  EXPECT_EQ(subscriber.frames, std::vector<std::string>{R"(news|1|{"price": 1.50, "x" :[ ]})"});
}

TEST_F(HttpApiTest, PublishIntoAChannelWithHistoryAnswersOnceStored) {
  const auto r = call("POST", "/api/publish", R"({"channel":"kept:a","data":"one"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r).at("offset"), 1);
  const auto page = call("GET", "/api/history?channel=kept:a");
  ASSERT_EQ(page.status, 200) << page.body;
  const json::array messages = json_of(page).at("messages").as_array();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].at("data"), "one");
}

TEST_F(HttpApiTest, PublishRefusesWhatItCannotPublish) {
  auto r = call("POST", "/api/publish", R"({"channel":"news"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":"INVALID_MESSAGE","message":"missing field 'data'","retryable":false}})");
  r = call("POST", "/api/publish", R"({"channel":7,"data":1})");
  EXPECT_EQ(r.body, R"({"error":{"code":"INVALID_MESSAGE","message":"'channel' must be a string","retryable":false}})");
  r = call("POST", "/api/publish", R"({"channel":"nowhere:x","data":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_of(r).at("error").at("code"), "UNKNOWN_CHANNEL");
  r = call("POST", "/api/publish", R"({"channel":"news","data":1e999})");
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/api/publish", "[1]");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"the body must be a JSON object","retryable":false}})");
}

TEST_F(HttpApiTest, PublishHandsOnTheBackendsFromInTheServersFormAndStoresIt) {
  Recorder subscriber;
  ASSERT_TRUE(hub.subscribe(0, "news", subscriber));
  auto r = call("POST", "/api/publish", R"({"channel":"news","data":1,"from":{ "info" : {"a": 1}, "user":"bot" }})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(call("POST", "/api/publish", R"({"channel":"news","data":2})").status, 200);
  run_shards();
  EXPECT_EQ(subscriber.frames, (std::vector<std::string>{R"(news|1|1|{"user":"bot","client":"","info":{"a": 1}})",
                                                         "news|2|2"}));
  ASSERT_EQ(call("POST", "/api/publish", R"({"channel":"kept:f","data":1,"from":{"user":"bot"}})").status, 200);
  const json::array messages = json_of(call("GET", "/api/history?channel=kept:f")).at("messages").as_array();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].at("from"), (json::value{{"user", "bot"}, {"client", ""}}));
  r = call("POST", "/api/publish", R"({"channel":"news","data":1,"from":{"user":["bot"]}})");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"field 'from.user' must be a string","retryable":false}})");
}

TEST_F(HttpApiTest, EventIsRelayedWithoutOffsetAndNotStored) {
  Recorder subscriber;
  ASSERT_TRUE(hub.subscribe(0, "kept:e", subscriber));
  auto r = call("POST", "/api/event", R"({"channel":"kept:e","event":"reload","data":[1],"from":{"user":"ops"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r), (json::value{{"channel", "kept:e"}}));
  run_shards();
  ASSERT_EQ(subscriber.frames.size(), 1u);
  EXPECT_EQ(subscriber.frames[0].substr(2),  // after the WebSocket header
            R"({"type":"event","channel":"kept:e","event":"reload","data":[1],"from":{"user":"ops","client":""}})");
  EXPECT_TRUE(json_of(call("GET", "/api/history?channel=kept:e")).at("messages").as_array().empty());
  for (const char* bad : {R"({"channel":"kept:e"})", R"({"channel":"kept:e","event":""})",
                          R"({"channel":"kept:e","event":7})", R"({"channel":"kept:e","event":"x","from":1})"}) {
    r = call("POST", "/api/event", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(json_of(r).at("error").at("code"), "INVALID_MESSAGE") << bad;
  }
}

TEST_F(HttpApiTest, BroadcastAnswersOneResultPerChannelInOrder) {
  Recorder a, b;
  ASSERT_TRUE(hub.subscribe(0, "a", a));
  ASSERT_TRUE(hub.subscribe(1, "b", b));
  const auto r = call("POST", "/api/broadcast", R"({"channels":["a","nowhere:x","b","kept:c"],"data":[1, 2]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::array results = json_of(r).at("results").as_array();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].at("channel"), "a");
  EXPECT_EQ(results[0].at("offset"), 1);
  EXPECT_EQ(results[1].as_object().size(), 2u);
  EXPECT_EQ(results[1].at("channel"), "nowhere:x");
  EXPECT_EQ(results[1].at("error").at("code"), "UNKNOWN_CHANNEL");
  EXPECT_FALSE(results[1].at("error").as_object().contains("retryable"));
  EXPECT_EQ(results[2].at("channel"), "b");
  EXPECT_EQ(results[3].at("channel"), "kept:c");  // answered after the history write
  EXPECT_EQ(results[3].at("offset"), 1);
  run_shards();
  EXPECT_EQ(a.frames, std::vector<std::string>{"a|1|[1, 2]"});
  EXPECT_EQ(b.frames, std::vector<std::string>{"b|1|[1, 2]"});
}

TEST_F(HttpApiTest, BroadcastNeedsAnArrayOfNames) {
  for (const char* body : {R"({"channels":"a","data":1})", R"({"channels":["a",1],"data":1})", R"({"data":1})"}) {
    const auto r = call("POST", "/api/broadcast", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(json_of(r).at("error").at("message"), "'channels' must be an array of strings") << body;
  }
  const auto empty = call("POST", "/api/broadcast", R"({"channels":[],"data":1})");
  EXPECT_EQ(empty.body, R"({"results":[]})");
}

}  // namespace
}  // namespace sb::api::test
