#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

TEST_F(HttpApiTest, AStreamStartsTakesDeltasAndEndsInAPublication) {
  auto r = call("POST", "/api/streams", R"({"channel":"news","meta":{"model":"m"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id(json_of(r).at("stream").as_string());
  EXPECT_EQ(json_of(r).at("channel"), "news");
  r = call("POST", "/api/streams/" + id + "/append", R"({"delta":"Hel"})");
  EXPECT_EQ(r.body, R"({"stream":")" + id + R"(","seq":1})");
  // The whole body of a pipe at once: one delta per line, a JSON string literal decoded.
  r = call("POST", "/api/streams/" + id + "/pipe?end=false", "lo\n\"\\n!\"\n", {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.body, R"({"stream":")" + id + R"(","seq":3})");
  r = call("POST", "/api/streams/" + id + "/end", R"({"reason":"done"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r).at("stream").as_string(), id);
  EXPECT_EQ(json_of(r).at("offset"), 1);
  EXPECT_FALSE(json_of(r).as_object().contains("seq"));
  EXPECT_EQ(streams.channel_of(id), "");
}

TEST_F(HttpApiTest, StreamsRefuseWhatTheyCannotDo) {
  auto r = call("POST", "/api/streams/nope/pipe", "x\n", {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"NOT_FOUND","message":"no running stream 'nope'","retryable":false}})");
  r = call("POST", "/api/streams/nope", "{}");
  EXPECT_EQ(r.body, R"({"error":{"code":"NOT_FOUND","message":"no such endpoint","retryable":false}})");
  r = call("POST", "/api/streams/nope/rewind", "{}");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"NOT_FOUND","message":"no such endpoint: /api/streams/nope/rewind","retryable":false}})");
  r = call("POST", "/api/streams", R"({"channel":"news","meta":[]})");
  EXPECT_EQ(json_of(r).at("error").at("message"), "'meta' must be an object");
  r = call("POST", "/api/streams/nope/end", R"({"reason":""})");
  EXPECT_EQ(json_of(r).at("error").at("message"), "'reason' must be a string of 1 to 64 characters");
}

}  // namespace
}  // namespace sb::api::test
