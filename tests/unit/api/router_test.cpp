#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

TEST_F(HttpApiTest, OpenPathsAnswerWithoutTheGate) {
  auto r = call("GET", "/healthz", {}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  r = call("GET", "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(header(r, "Upgrade"), "websocket");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"/ws is a WebSocket endpoint: send an upgrade request",)"
            R"("retryable":false}})");
  r = call("GET", "/elsewhere");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"NOT_FOUND","message":"no such endpoint: /elsewhere","retryable":false}})");
}

TEST_F(HttpApiTest, AWrongMethodIs405WithAllow) {
  struct Case {
    const char* method;
    const char* target;
    const char* allowed;
  };
  for (const Case& c : {Case{"GET", "/api/publish", "POST"}, Case{"GET", "/api/broadcast", "POST"},
                        Case{"GET", "/api/streams/x/append", "POST"}, Case{"POST", "/api/history", "GET"},
                        Case{"POST", "/api/stats", "GET"}, Case{"DELETE", "/metrics", "GET"},
                        Case{"GET", "/api/disconnect", "POST"}, Case{"POST", "/api/presence_stats", "GET"}}) {
    const auto r = call(c.method, c.target);
    EXPECT_EQ(r.status, 405) << c.target;
    EXPECT_EQ(header(r, "Allow"), c.allowed) << c.target;
    EXPECT_EQ(r.body, std::string(R"({"error":{"code":"INVALID_MESSAGE","message":"method not allowed; use )") +
                          c.allowed + R"(","retryable":false}})")
        << c.target;
  }
}

TEST_F(HttpApiTest, TheGateComesBeforeTheEndpoint) {
  // Unknown API paths are 404 only past the gate.
  auto r = call("GET", "/api/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"NOT_FOUND","message":"no such endpoint: /api/nothing","retryable":false}})");
  r = call("GET", "/api/nothing", {}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json_of(r).at("error").at("code"), "PERMISSION_DENIED");
  r = call("POST", "/api/publish", R"({"channel":"news","data":1})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.body,
            R"({"error":{"code":"INVALID_MESSAGE","message":"wrong content type (Content-Type 'text/plain'): send the )"
            R"x(JSON body with Content-Type: application/json (curl --json)","retryable":false}})x");
}

TEST(RefusalResponse, RendersTransportsRefusalsAsTheApiError) {
  auto r = refusal_response(transport::Refusal{503, "UNAVAILABLE", "server out of file descriptors", true});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/json");
  // The bytes transport used to write itself (server.cpp, Content-Length: 92).
  EXPECT_EQ(r.body, R"({"error":{"code":"UNAVAILABLE","message":"server out of file descriptors","retryable":true}})");
  EXPECT_EQ(r.body.size(), 92u);
  r = refusal_response(transport::Refusal{431, "INVALID_MESSAGE", "request head too large"});
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.body, R"({"error":{"code":"INVALID_MESSAGE","message":"request head too large","retryable":false}})");
  EXPECT_TRUE(r.headers.empty());
}

TEST(ErrorResponse, TakesTheStatusOfTheCodeUnlessGivenOne) {
  const Error busy = make_error(ErrorCode::unavailable, "busy");
  auto r = error_response(busy);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"error":{"code":"UNAVAILABLE","message":"busy","retryable":true}})");
  r = error_response(make_error(ErrorCode::invalid_message, "say \"hi\"\n"), 415);
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.body, R"({"error":{"code":"INVALID_MESSAGE","message":"say \"hi\"\n","retryable":false}})");
}

}  // namespace
}  // namespace sb::api::test
