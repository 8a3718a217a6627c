#include "protocol/native/codec.hpp"

#include <gtest/gtest.h>

#include "protocol/native/encoder.hpp"

namespace sb::protocol::native {
namespace {

// The JSON inside a server frame (frames here are all shorter than 126 bytes).
std::string body(const std::string& frame) {
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x81);
  return frame.substr(2);
}

TEST(Codec, DecodesEachRequestType) {
  std::string id;
  auto sub = decode(R"({"type":"subscribe","id":7,"channel":"chat:1"})", id);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->type, CommandType::subscribe);
  EXPECT_EQ(sub->channel, "chat:1");
  EXPECT_EQ(sub->id, "7");

  auto pub = decode(R"({"type":"publish","id":"a1","channel":"c","data":{"text":"hi","n":[1,2]}})", id);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->type, CommandType::publish);
  EXPECT_EQ(pub->id, R"("a1")");
  EXPECT_EQ(pub->data, R"({"text":"hi","n":[1,2]})");

  auto con = decode(R"({"type":"connect","user":"u1","info":{"name":"Ann"}})", id);
  ASSERT_TRUE(con.ok());
  EXPECT_EQ(con->user, "u1");
  EXPECT_EQ(con->info, R"({"name":"Ann"})");
  EXPECT_TRUE(con->id.empty());

  EXPECT_EQ(decode(R"({"type":"ping"})", id)->type, CommandType::ping);
  EXPECT_EQ(decode(R"({"type":"unsubscribe","channel":"c"})", id)->type, CommandType::unsubscribe);
}

TEST(Codec, RejectsMalformedInputWithInvalidMessageAndKeepsTheId) {
  struct Case {
    const char* text;
    const char* id;
    const char* message_part;
  };
  for (const Case& c : {Case{"{not json", "", "malformed JSON"}, Case{"[1,2]", "", "JSON object"},
                        Case{R"({"id":3})", "3", "missing field 'type'"},
                        Case{R"({"id":4,"type":5})", "4", "'type' must be a string"},
                        Case{R"({"id":5,"type":"dance"})", "5", "unknown type 'dance'"},
                        Case{R"({"id":6,"type":"subscribe"})", "6", "missing field 'channel'"},
                        Case{R"({"id":7,"type":"subscribe","channel":12})", "7", "'channel' must be a string"},
                        Case{R"({"id":8,"type":"publish","channel":"c"})", "8", "missing field 'data'"},
                        Case{R"({"id":{"x":1},"type":"ping"})", "", "'id' must be"},
                        Case{R"({"id":9,"type":"connect","info":"str"})", "9", "'info' must be an object"}}) {
    std::string id;
    auto r = decode(c.text, id);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_message);
    EXPECT_EQ(id, c.id) << c.text;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST(Codec, EncodesRepliesExactly) {
  core::StreamPosition p{5, "00000000000000ab"};
  EXPECT_EQ(body(encode_subscribed("1", "c", p)),
            R"({"type":"subscribed","id":1,"channel":"c","offset":5,"epoch":"00000000000000ab"})");
  EXPECT_EQ(body(encode_unsubscribed("", "c")), R"({"type":"unsubscribed","channel":"c"})");
  EXPECT_EQ(body(encode_pong(R"("x")")), R"({"type":"pong","id":"x"})");
  EXPECT_EQ(body(encode_error("2", make_error(ErrorCode::rate_limit, "slow \"down\""))),
            R"({"type":"error","id":2,"code":"RATE_LIMIT","message":"slow \"down\"","retryable":true})");
  EXPECT_EQ(body(encode_connected("abc", "", "u1", 25)),
            R"({"type":"connected","client":"abc","user":"u1","version":1,"ping_interval":25})");
}

TEST(Codec, MessageFrameHoldsTheHeaderAndTheJson) {
  NativeEncoder encoder;
  std::string data(200, 'x');
  data = "\"" + data + "\"";
  SharedBytes frame = encoder.encode(core::Publication{"room", data, 9, 1700000000000});
  std::string expected_json = R"({"type":"message","channel":"room","data":)" + data + R"(,"offset":9,"ts":1700000000000})";
  ASSERT_EQ(frame->size(), 4 + expected_json.size());
  EXPECT_EQ(static_cast<unsigned char>((*frame)[1]), 126);
  EXPECT_EQ(frame->substr(4), expected_json);
}

}  // namespace
}  // namespace sb::protocol::native
