#include "protocol/native/codec.hpp"

#include <gtest/gtest.h>

#include "protocol/native/encoder.hpp"
#include "protocol/native/identity.hpp"

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

TEST(Codec, DecodesRpcAndConnectData) {
  std::string id;
  auto rpc = decode(R"({"type":"rpc","id":4,"method":"ask","data":{"q":"hi"}})", id);
  ASSERT_TRUE(rpc.ok());
  EXPECT_EQ(rpc->type, CommandType::rpc);
  EXPECT_EQ(rpc->method, "ask");
  EXPECT_EQ(rpc->data, R"({"q":"hi"})");
  auto no_data = decode(R"({"type":"rpc","id":5,"method":"ping"})", id);
  ASSERT_TRUE(no_data.ok());
  EXPECT_TRUE(no_data->data.empty());
  auto no_id = decode(R"({"type":"rpc","method":"ask"})", id);
  ASSERT_FALSE(no_id.ok());
  EXPECT_EQ(no_id.error().message, "an rpc needs an 'id': the answer is matched to it");
  auto no_method = decode(R"({"type":"rpc","id":6})", id);
  ASSERT_FALSE(no_method.ok());
  EXPECT_EQ(id, "6");
  EXPECT_FALSE(decode(R"({"type":"rpc","id":7,"method":""})", id).ok());
  EXPECT_FALSE(decode(R"({"type":"rpc","id":7,"method":")" + std::string(129, 'm') + R"("})", id).ok());
  auto con = decode(R"({"type":"connect","data":[1,"two"]})", id);
  ASSERT_TRUE(con.ok());
  EXPECT_EQ(con->data, R"([1,"two"])");
}

TEST(Codec, EncodesTheProxyFrames) {
  EXPECT_EQ(body(encode_rpc_result("4", R"({"a":1})")), R"({"type":"rpc_result","id":4,"data":{"a":1}})");
  EXPECT_EQ(body(encode_app_error("4", "NOT_A_MEMBER", "no")),
            R"({"type":"error","id":4,"code":"NOT_A_MEMBER","message":"no","retryable":false})");
  EXPECT_EQ(body(encode_published("9", "inbox:a")), R"({"type":"published","id":9,"channel":"inbox:a"})");
  EXPECT_EQ(body(encode_subscribed("1", "c", core::StreamPosition{3, "e"}, std::nullopt, R"({"t":1})")),
            R"({"type":"subscribed","id":1,"channel":"c","offset":3,"epoch":"e","info":{"t":1}})");
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
  EXPECT_EQ(body(encode_channel_error("room:\"x", make_error(ErrorCode::permission_denied, "no"))),
            R"({"type":"error","channel":"room:\"x","code":"PERMISSION_DENIED","message":"no","retryable":false})");
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

// Values whose bytes a parse-and-serialize round trip changes (digits lost, exponent rewritten,
// escapes re-encoded, whitespace dropped): `data` must come out exactly as it went in.
const char* const kept_values[] = {
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
    "1.0e+2",
    "-0.000000000000000000000000000001",
    R"("tab\there \"quoted\" back\\slash \u00e9\u20AC \ud83d\ude00 \/")",
    "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
    "{ \"a\" : [ 1 , 2.50 ,\n\t{\"b\":null} ] ,\"c\":\"x\" ,\"n\": 123456789012345678901234567890}",
    "[]",
    "true",
    "null",
};

TEST(Codec, PublishDataIsTheExactBytesSent) {
  for (const char* value : kept_values) {
    std::string id;
    // White space around the value is not part of it; inside it is kept.
    const std::string text = std::string(R"({"type":"publish","id":1,"channel":"c","data" :  )") + value + " \n}";
    auto pub = decode(text, id);
    ASSERT_TRUE(pub.ok()) << value << ": " << pub.error().message;
    EXPECT_EQ(pub->data, value);

    auto event = decode(std::string(R"({"type":"event","channel":"c","event":"e","data":)") + value + "}", id);
    ASSERT_TRUE(event.ok()) << value;
    EXPECT_EQ(event->data, value);
  }
}

TEST(Codec, ConnectInfoIsTheExactBytesSent) {
  std::string id;
  const std::string info = R"({ "score": 123456789012345678901234567890, "name": "\u0041nn" })";
  auto con = decode(R"({"type":"connect","info":)" + info + "}", id);
  ASSERT_TRUE(con.ok());
  EXPECT_EQ(con->info, info);
}

TEST(Codec, RefusesNonFiniteNumbersAndKeepsTheId) {
  for (const char* value : {"1e999999", "-1e400", "[1, {\"x\": 1e309}]", "1" /* 400 digits, below */}) {
    std::string data = value;
    if (data == "1") data = std::string(400, '9');
    std::string id;
    auto r = decode(R"({"type":"publish","id":"p1","channel":"c","data":)" + data + "}", id);
    ASSERT_FALSE(r.ok()) << data;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_message);
    EXPECT_NE(r.error().message.find("finite"), std::string::npos) << r.error().message;
    EXPECT_EQ(id, R"("p1")");
  }
  // Anywhere in a frame, not only in `data`.
  std::string id;
  EXPECT_FALSE(decode(R"({"type":"connect","info":{"n":-1e400}})", id).ok());
  EXPECT_FALSE(decode(R"({"type":"event","channel":"c","event":"e","data":1e999999})", id).ok());
  // The largest finite double is fine, and kept as written.
  auto max = decode(R"({"type":"publish","channel":"c","data":1.7976931348623157e308})", id);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->data, "1.7976931348623157e308");
}

TEST(Codec, ReadsFieldsAsBoostJsonWould) {
  std::string id;
  // A key written with escapes is the same key.
  auto escaped = decode(R"({"type":"publish","channel":"c","\u0064ata":[1]})", id);
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->data, "[1]");
  // A repeated key: the last one counts.
  auto repeated = decode(R"({"type":"publish","channel":"a","data":1,"channel":"b","data":{"k":2}})", id);
  ASSERT_TRUE(repeated.ok());
  EXPECT_EQ(repeated->channel, "b");
  EXPECT_EQ(repeated->data, R"({"k":2})");
  // Strings with escapes are read as text.
  auto channel = decode(R"({"type":"subscribe","channel":"ch\u0061t\/1","since":{"offset":3,"epoch":"e\u0031"}})", id);
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ(channel->channel, "chat/1");
  EXPECT_EQ(channel->since->offset, 3u);
  EXPECT_EQ(channel->since->epoch, "e1");
  // The id is echoed as written; an integer must fit 64 bits.
  EXPECT_TRUE(decode(R"({"type":"ping","id":18446744073709551615})", id).ok());
  EXPECT_EQ(id, "18446744073709551615");
  EXPECT_TRUE(decode(R"({"type":"ping","id":"\u0041"})", id).ok());
  EXPECT_EQ(id, R"("\u0041")");
  for (const char* bad : {R"({"type":"ping","id":18446744073709551616})", R"({"type":"ping","id":1.5})",
                          R"({"type":"ping","id":1e2})"})
    EXPECT_FALSE(decode(bad, id).ok()) << bad;
  // Offsets are integers without fraction or exponent, as before.
  for (const char* bad : {R"({"type":"history","channel":"c","limit":1e2})",
                          R"({"type":"history","channel":"c","since":-1})",
                          R"({"type":"history","channel":"c","since":18446744073709551616})"})
    EXPECT_FALSE(decode(bad, id).ok()) << bad;
  auto history = decode(R"({"type":"history","channel":"c","since":18446744073709551615,"limit":7,"reverse":true})", id);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->after, 18446744073709551615u);
  EXPECT_EQ(history->limit, 7u);
  EXPECT_TRUE(history->newest_first);
}

TEST(Codec, RefusesWhatIsNotStrictJson) {
  for (const char* bad : {R"({"type":"ping"} x)", R"({"type":"ping",})", R"({"type":"ping"} {})",
                          R"({"type":"publish","channel":"c","data":NaN})",
                          R"({"type":"publish","channel":"c","data":Infinity})",
                          R"({"type":"publish","channel":"c","data":01})",
                          R"({"type":"publish","channel":"c","data":"\ud800"})",
                          "{\"type\":\"publish\",\"channel\":\"c\",\"data\":\"\xff\"}",
                          R"({"type":"publish","channel":"c","data":[1,2,]})",
                          R"({"type":"publish","channel":"c","data":/* */1})"}) {
    std::string id;
    auto r = decode(bad, id);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_message);
  }
  std::string id;
  EXPECT_TRUE(decode(" \r\n\t{\"type\":\"ping\"} \n", id).ok());
}

TEST(Codec, MessageFrameCarriesDataVerbatim) {
  NativeEncoder encoder;
  const std::string data = "{ \"n\" : 123456789012345678901234567890 }";
  SharedBytes frame = encoder.encode(core::Publication{"c", data, 1, 2});
  EXPECT_EQ(body(*frame), R"({"type":"message","channel":"c","data":)" + data + R"(,"offset":1,"ts":2})");
}

TEST(Identity, AMessageCarriesItsFromOnlyWhenItHasOne) {
  NativeEncoder encoder;
  const std::string from = R"({"user":"ann","client":"c1"})";
  EXPECT_EQ(body(*encoder.encode(core::Publication{"c", "1", 1, 2, from})),
            R"({"type":"message","channel":"c","data":1,"offset":1,"ts":2,"from":{"user":"ann","client":"c1"}})");
  EXPECT_EQ(body(encode_message("c", core::StoredMessage{1, 2, "1", from})),
            R"({"type":"message","channel":"c","data":1,"offset":1,"ts":2,"from":{"user":"ann","client":"c1"}})");
  EXPECT_EQ(messages_json({core::StoredMessage{1, 2, "1", from}, core::StoredMessage{2, 3, "2", ""}}),
            R"([{"offset":1,"ts":2,"from":{"user":"ann","client":"c1"},"data":1},{"offset":2,"ts":3,"data":2}])");
}

TEST(Identity, AConnectionIsNamedWithItsInfoAndAnAnonymousOneSaysSo) {
  EXPECT_EQ(from_json(core::Member{"c1", "ann", R"({"name":"Ann"})"}, true),
            R"({"user":"ann","client":"c1","info":{"name":"Ann"}})");
  EXPECT_EQ(from_json(core::Member{"c2", "guest\"1", ""}, false),
            R"({"user":"guest\"1","client":"c2","verified":false})");
}

TEST(Identity, EventsAndTypingCarryFrom) {
  const core::Member ann{"c1", "ann", ""};
  const std::string from = from_json(ann, true);
  EXPECT_EQ(body(encode_event("r", "like", "{}", &ann, from)),
            R"({"type":"event","channel":"r","event":"like","data":{},"client":"c1","user":"ann",)"
            R"("from":{"user":"ann","client":"c1"}})");
  EXPECT_EQ(body(encode_event("r", "like", "", nullptr, "")), R"({"type":"event","channel":"r","event":"like"})");
  EXPECT_EQ(body(encode_typing("r", ann, true, from)),
            R"({"type":"typing","channel":"r","client":"c1","user":"ann","typing":true,)"
            R"("from":{"user":"ann","client":"c1"}})");
}

TEST(Identity, ABackendsFromIsCheckedAndRewritten) {
  auto ok = check_from(R"({ "info" : {"role": "bot"}, "user":"agent-7", "extra": 1 })");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, R"({"user":"agent-7","client":"","info":{"role": "bot"}})");
  for (const char* bad : {R"("ann")", R"({"user":1})", R"({"client":[]})", R"({"info":"x"})", "[]"}) {
    auto r = check_from(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_message) << bad;
  }
  const std::string big = R"({"user":")" + std::string(max_from_bytes, 'x') + R"("})";
  EXPECT_FALSE(check_from(big));
}

}  // namespace
}  // namespace sb::protocol::native
