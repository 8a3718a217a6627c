#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

TEST(ClusterQuestion, WireNamesStayAndRoundTrip) {
  using core::ClusterQuestion;
  // The names other nodes (of other versions) send: never renamed.
  EXPECT_EQ(core::wire_name(ClusterQuestion::stats), "stats");
  EXPECT_EQ(core::wire_name(ClusterQuestion::channels), "channels");
  EXPECT_EQ(core::wire_name(ClusterQuestion::disconnect_user), "disconnect_user");
  EXPECT_EQ(core::wire_name(ClusterQuestion::disconnect_client), "disconnect_client");
  for (auto q : {ClusterQuestion::stats, ClusterQuestion::channels, ClusterQuestion::disconnect_user,
                 ClusterQuestion::disconnect_client})
    EXPECT_EQ(core::cluster_question_named(core::wire_name(q)), q);
  EXPECT_EQ(core::cluster_question_named("reboot"), std::nullopt);
  EXPECT_EQ(core::cluster_question_named(""), std::nullopt);
}

TEST_F(HttpApiTest, ThisNodeAnswersEachQuestion) {
  Recorder a;
  ASSERT_TRUE(hub.subscribe(0, "news", a));
  EXPECT_EQ(api.answer(core::ClusterQuestion::channels, "ne"), R"([{"channel":"news","subscribers":1}])");
  EXPECT_EQ(api.answer(core::ClusterQuestion::channels, "x"), "[]");
  EXPECT_EQ(api.answer(core::ClusterQuestion::stats, ""), call("GET", "/api/stats").body);
  EXPECT_EQ(api.answer(core::ClusterQuestion::disconnect_user, "nobody"), "0");
  EXPECT_EQ(api.answer(core::ClusterQuestion::disconnect_client, "nobody"), "0");
}

TEST_F(HttpApiTest, DisconnectNeedsExactlyOneOfClientOrUser) {
  EXPECT_EQ(call("POST", "/api/disconnect", R"({"user":"nobody"})").body, R"({"disconnected":0})");
  EXPECT_EQ(call("POST", "/api/disconnect", R"({"client":"nobody"})").body, R"({"disconnected":0})");
  auto r = call("POST", "/api/disconnect", R"({"client":"a","user":"b"})");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"give exactly one of 'client' or 'user'","retryable":false}})");
  r = call("POST", "/api/disconnect", R"({"user":5})");
  EXPECT_EQ(json_of(r).at("error").at("message"), "'user' must be a string");
}

}  // namespace
}  // namespace sb::api::test
