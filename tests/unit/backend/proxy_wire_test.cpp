// The backend's answers as the proxy layer reads them, and the bodies it sends.
#include "backend/proxy_wire.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "backend/proxy.hpp"

namespace sb::backend {
namespace {

namespace json = boost::json;

TEST(ProxyAnswer, HoldsExactlyOneOfResultErrorDisconnect) {
  auto result = parse_answer(R"({"result":{"user":"u"}})");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->kind, ProxyAnswer::Kind::result);
  EXPECT_EQ(json::serialize(result->result), R"({"user":"u"})");

  auto error = parse_answer(R"({"error":{"code":"NOT_A_MEMBER","message":"no"}})");
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->kind, ProxyAnswer::Kind::error);
  EXPECT_EQ(error->code, "NOT_A_MEMBER");
  EXPECT_EQ(error->message, "no");

  auto disconnect = parse_answer(R"({"disconnect":{"code":4403,"reason":"bye"}})");
  ASSERT_TRUE(disconnect.ok());
  EXPECT_EQ(disconnect->kind, ProxyAnswer::Kind::disconnect);
  EXPECT_EQ(disconnect->close_code, 4403);
  EXPECT_EQ(disconnect->reason, "bye");
}

TEST(ProxyAnswer, AnythingElseIsABackendError) {
  for (const char* bad : {"", "nope", "[]", "{}", R"({"result":1,"error":{"code":"A"}})", R"({"error":"A"})",
                          R"({"error":{"message":"no code"}})", R"({"disconnect":{"code":1000}})",
                          R"({"disconnect":{"code":5000}})", R"({"disconnect":{"code":"4000"}})",
                          R"({"disconnect":{"code":4000,"reason":7}})"}) {
    auto a = parse_answer(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.error().code, ErrorCode::backend_error) << bad;
  }
}

TEST(ProxyAnswer, AnErrorCodeOutsideTheAppsPatternBecomesBackendError) {
  for (const char* code : {"lower", "1ST", "A-B", "", "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDE"}) {
    auto a = parse_answer(std::string(R"({"error":{"code":")") + code + R"(","message":"m"}})");
    ASSERT_TRUE(a.ok()) << code;
    EXPECT_EQ(a->code, "BACKEND_ERROR") << code;
  }
  EXPECT_EQ(parse_answer(R"({"error":{"code":"A_1","message":"m"}})")->code, "A_1");
}

TEST(ProxyAnswer, ADisconnectReasonIsCutToFitACloseFrame) {
  auto a = parse_answer(R"({"disconnect":{"code":4000,"reason":")" + std::string(200, 'x') + R"("}})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->reason.size(), 123u);
}

TEST(ProxyResults, ConnectReadsEachFieldAndRefusesWrongTypes) {
  auto r = connect_result(json::parse(R"({"user":"u","info":{"n":1},"channels":["a","b"],"expire_at":1700000000})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->user, "u");
  EXPECT_EQ(r->info, R"({"n":1})");
  EXPECT_EQ(r->channels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->expire_at, 1700000000);
  EXPECT_TRUE(connect_result(json::parse("{}")).ok());
  for (const char* bad : {R"({"user":1})", R"({"info":"x"})", R"({"channels":"a"})", R"({"channels":[1]})",
                          R"({"expire_at":"soon"})", R"([])"})
    EXPECT_FALSE(connect_result(json::parse(bad)).ok()) << bad;
}

TEST(ProxyResults, RefreshSubscribePublishRpc) {
  auto refresh = refresh_result(json::parse(R"({"expire_at":5,"info":{"a":1}})"));
  ASSERT_TRUE(refresh.ok());
  EXPECT_EQ(refresh->expire_at, 5);
  EXPECT_EQ(*refresh->info, R"({"a":1})");
  EXPECT_FALSE(refresh_result(json::parse("{}")).ok());
  EXPECT_EQ(*subscribe_result(json::parse(R"({"info":{"t":"x"}})")), R"({"t":"x"})");
  EXPECT_EQ(*subscribe_result(json::parse("{}")), "");
  EXPECT_FALSE(publish_result(json::parse("{}"))->has_value());
  EXPECT_EQ(**publish_result(json::parse(R"({"data":[1]})")), "[1]");
  EXPECT_EQ(*rpc_result(json::parse("{}")), "null");
  EXPECT_EQ(*rpc_result(json::parse(R"({"data":"x"})")), R"("x")");
  EXPECT_FALSE(rpc_result(json::parse("3")).ok());
}

TEST(ProxyBodies, AreTheDocumentedJson) {
  EXPECT_EQ(connect_body("c1", "10.0.0.1", "", ""),
            R"({"client":"c1","transport":"websocket","remote_addr":"10.0.0.1"})");
  EXPECT_EQ(connect_body("c1", "10.0.0.1", "al\"ice", R"({"x":1})"),
            R"({"client":"c1","user":"al\"ice","transport":"websocket","remote_addr":"10.0.0.1","data":{"x":1}})");
  EXPECT_EQ(refresh_body("c1", "u"), R"({"client":"c1","user":"u"})");
  EXPECT_EQ(subscribe_body("c1", "", "chat:a", ""), R"({"client":"c1","user":"","channel":"chat:a"})");
  EXPECT_EQ(publish_body("c1", "u", "chat:a", R"({"t":1})"), R"({"client":"c1","user":"u","channel":"chat:a","data":{"t":1}})");
  EXPECT_EQ(rpc_body("c1", "u", "ask", ""), R"({"client":"c1","user":"u","method":"ask","data":null})");
}

}  // namespace
}  // namespace sb::backend
