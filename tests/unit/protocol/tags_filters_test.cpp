// `tags` and `filter` on the wire: parsing, refusals, and tags on message frames and in history.
#include "protocol/native/tags_filters.hpp"

#include <gtest/gtest.h>

#include "core/tags.hpp"
#include "protocol/native/codec.hpp"

namespace sb::protocol::native {
namespace {

std::string tags_of(std::string_view json) { return *parse_tags(json); }

TEST(Tags, ParsedIntoCoreEncodingAndWrittenBack) {
  const std::string t = tags_of(R"({"project":"7","circle":"12"})");
  EXPECT_EQ(core::find_tag(t, "circle"), "12");
  std::string out;
  append_tags_json(out, t);
  EXPECT_EQ(out, R"(,"tags":{"circle":"12","project":"7"})");
  out.clear();
  append_tags_json(out, "");
  EXPECT_EQ(out, "");
  EXPECT_EQ(tags_of("{}"), "");
}

TEST(Tags, RefusedWhenNotAnObjectOfStringsOrTooLarge) {
  EXPECT_EQ(parse_tags(R"(["a"])").error().code, ErrorCode::invalid_message);
  EXPECT_NE(parse_tags(R"({"n":1})").error().message.find("'n' must be a string"), std::string::npos);
  EXPECT_FALSE(parse_tags(R"({"k":"a\u0000b"})"));
  std::string big = "{";
  for (int i = 0; i < 33; ++i) big += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  big += "}";
  EXPECT_NE(parse_tags(big).error().message.find("32"), std::string::npos);
  EXPECT_FALSE(parse_tags("{\"k\":\"" + std::string(5000, 'v') + "\"}"));
}

TEST(Filter, EachOperatorParses) {
  const std::string t = tags_of(R"({"circle":"12","project":"7"})");
  auto yes = [&](std::string_view f) {
    auto filter = parse_filter(f);
    EXPECT_TRUE(filter) << f << ": " << (filter ? "" : filter.error().message);
    return filter && (*filter)->matches(t);
  };
  EXPECT_TRUE(yes(R"({"eq":["circle","12"]})"));
  EXPECT_FALSE(yes(R"({"neq":["circle","12"]})"));
  EXPECT_TRUE(yes(R"({"in":["project",["7","9"]]})"));
  EXPECT_TRUE(yes(R"({"nin":["project",["8","9"]]})"));
  EXPECT_TRUE(yes(R"({"exists":"circle"})"));
  EXPECT_FALSE(yes(R"({"exists":"urgent"})"));
  EXPECT_TRUE(yes(R"({"and":[{"eq":["circle","12"]},{"not":{"eq":["project","8"]}}]})"));
  EXPECT_TRUE(yes(R"({"or":[{"eq":["circle","1"]},{"eq":["project","7"]}]})"));
  EXPECT_EQ((*parse_filter(R"({"in":["p",["9","7"]]})"))->canonical(),
            (*parse_filter(R"({"in":["p",["7","9","7"]]})"))->canonical());
}

TEST(Filter, MalformedFiltersAreRefusedWithTheirProblem) {
  auto problem = [](std::string_view f) {
    auto r = parse_filter(f);
    EXPECT_FALSE(r) << f;
    if (r) return std::string();
    EXPECT_EQ(r.error().code, ErrorCode::invalid_filter) << f;
    return r.error().message;
  };
  EXPECT_NE(problem(R"({"like":["a","b"]})").find("unknown filter operator 'like'"), std::string::npos);
  EXPECT_NE(problem(R"({"eq":["a"]})").find("'eq' takes [key, value]"), std::string::npos);
  EXPECT_NE(problem(R"({"eq":["a",1]})").find("string"), std::string::npos);
  EXPECT_NE(problem(R"({"in":["a","b"]})").find("[values]"), std::string::npos);
  EXPECT_NE(problem(R"({"eq":["a","1"],"neq":["b","2"]})").find("one operator"), std::string::npos);
  EXPECT_NE(problem(R"("circle")").find("one operator"), std::string::npos);
  EXPECT_NE(problem(R"({"and":[]})").find("at least one"), std::string::npos);
  EXPECT_NE(problem(R"({"exists":5})").find("tag name"), std::string::npos);
  std::string deep = R"({"exists":"a"})";
  for (int i = 0; i < 20; ++i) deep = R"({"not":)" + deep + "}";
  EXPECT_NE(problem(deep).find("deeper than 8"), std::string::npos);
  std::string wide = R"({"or":[)";
  for (int i = 0; i < 70; ++i) wide += std::string(i ? "," : "") + R"({"exists":"a"})";
  EXPECT_NE(problem(wide + "]}").find("64"), std::string::npos);
  EXPECT_NE(problem(R"({"eq":["k",")" + std::string(3000, 'v') + R"("]})").find("2048 bytes"), std::string::npos);
}

TEST(Codec, SubscribeHistoryAndPublishCarryFilterAndTags) {
  std::string id;
  auto sub = decode(R"({"type":"subscribe","id":1,"channel":"c","filter":{"eq":["circle","12"]}})", id);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(sub->filter);
  EXPECT_TRUE(sub->filter->matches(tags_of(R"({"circle":"12"})")));
  auto plain = decode(R"({"type":"subscribe","id":1,"channel":"c","filter":null})", id);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->filter);
  auto bad = decode(R"({"type":"subscribe","id":7,"channel":"c","filter":{"eq":1}})", id);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_filter);
  EXPECT_EQ(id, "7");
  auto history = decode(R"({"type":"history","id":2,"channel":"c","filter":{"exists":"x"}})", id);
  ASSERT_TRUE(history);
  EXPECT_TRUE(history->filter);
  auto pub = decode(R"({"type":"publish","channel":"c","data":1,"tags":{"circle":"12"}})", id);
  ASSERT_TRUE(pub);
  EXPECT_EQ(core::find_tag(pub->tags, "circle"), "12");
  EXPECT_EQ(decode(R"({"type":"publish","channel":"c","data":1,"tags":{"n":2}})", id).error().code,
            ErrorCode::invalid_message);
}

TEST(Codec, MessagesCarryTheirTags) {
  const std::string t = tags_of(R"({"circle":"12"})");
  EXPECT_EQ(message_json(core::Publication{"c", "1", 3, 9, {}, t}),
            R"({"type":"message","channel":"c","data":1,"offset":3,"ts":9,"tags":{"circle":"12"}})");
  EXPECT_EQ(message_json(core::Publication{"c", "1", 3, 9, {}, {}}),
            R"({"type":"message","channel":"c","data":1,"offset":3,"ts":9})");
  core::StoredMessage m{3, 9, "1", {}, t};
  EXPECT_EQ(messages_json({m}), R"([{"offset":3,"ts":9,"tags":{"circle":"12"},"data":1}])");
}

}  // namespace
}  // namespace sb::protocol::native
