// Tags (core/tags.hpp), filters (core/filter.hpp) and the hub's fan-out to filtered subscribers.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "core/filter.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "core/tags.hpp"
#include "storage/memory_history.hpp"

namespace sb::core {
namespace {

std::string tags(TagList list) { return *encode_tags(std::move(list)); }

FilterExpr eq(std::string k, std::string v) { return FilterExpr{FilterOp::eq, std::move(k), {std::move(v)}, {}}; }
FilterExpr in(std::string k, std::vector<std::string> v) { return FilterExpr{FilterOp::in, std::move(k), std::move(v), {}}; }
FilterExpr op(FilterOp o, std::vector<FilterExpr> children) { return FilterExpr{o, {}, {}, std::move(children)}; }
std::shared_ptr<const Filter> compile(const FilterExpr& e) { return *Filter::compile(e); }

TEST(Tags, EncodeSortsAndFindReads) {
  const std::string t = tags({{"project", "7"}, {"circle", "12"}});
  EXPECT_EQ(t, std::string("circle\0" "12\0" "project\0" "7\0", 20));
  EXPECT_EQ(find_tag(t, "circle"), "12");
  EXPECT_EQ(find_tag(t, "project"), "7");
  EXPECT_FALSE(find_tag(t, "urgent"));
  EXPECT_FALSE(find_tag("", "circle"));
  EXPECT_EQ(*encode_tags({}), "");
}

TEST(Tags, CapsAreEnforced) {
  TagList many;
  for (int i = 0; i < 33; ++i) many.emplace_back("k" + std::to_string(i), "v");
  EXPECT_EQ(encode_tags(many).error().code, ErrorCode::invalid_message);
  EXPECT_FALSE(encode_tags({{"", "v"}}));
  EXPECT_FALSE(encode_tags({{std::string(65, 'k'), "v"}}));
  EXPECT_FALSE(encode_tags({{"k", std::string(257, 'v')}}));
  EXPECT_FALSE(encode_tags({{"k", std::string("a\0b", 3)}}));
  EXPECT_FALSE(encode_tags({{"k", "1"}, {"k", "2"}}));
  TagList big;
  for (int i = 0; i < 10; ++i) big.emplace_back("key" + std::to_string(i), std::string(250, 'v'));
  EXPECT_NE(encode_tags(big).error().message.find("2048"), std::string::npos);
  EXPECT_TRUE(encode_tags({{std::string(64, 'k'), std::string(256, 'v')}}));
}

TEST(Filter, EvaluatesEachOperator) {
  const std::string t = tags({{"circle", "12"}, {"project", "7"}});
  EXPECT_TRUE(compile(eq("circle", "12"))->matches(t));
  EXPECT_FALSE(compile(eq("circle", "13"))->matches(t));
  EXPECT_FALSE(compile(eq("urgent", "1"))->matches(t));  // a message without the tag
  EXPECT_TRUE(compile(FilterExpr{FilterOp::neq, "circle", {"13"}, {}})->matches(t));
  EXPECT_TRUE(compile(FilterExpr{FilterOp::neq, "urgent", {"1"}, {}})->matches(t));
  EXPECT_FALSE(compile(FilterExpr{FilterOp::neq, "circle", {"12"}, {}})->matches(t));
  EXPECT_TRUE(compile(in("project", {"9", "7"}))->matches(t));
  EXPECT_FALSE(compile(in("project", {"9", "8"}))->matches(t));
  EXPECT_FALSE(compile(in("urgent", {"1"}))->matches(t));
  EXPECT_TRUE(compile(FilterExpr{FilterOp::nin, "project", {"9"}, {}})->matches(t));
  EXPECT_FALSE(compile(FilterExpr{FilterOp::nin, "project", {"7"}, {}})->matches(t));
  EXPECT_TRUE(compile(FilterExpr{FilterOp::exists, "circle", {}, {}})->matches(t));
  EXPECT_FALSE(compile(FilterExpr{FilterOp::exists, "urgent", {}, {}})->matches(t));
  EXPECT_TRUE(compile(op(FilterOp::all_of, {eq("circle", "12"), eq("project", "7")}))->matches(t));
  EXPECT_FALSE(compile(op(FilterOp::all_of, {eq("circle", "12"), eq("project", "8")}))->matches(t));
  EXPECT_TRUE(compile(op(FilterOp::any_of, {eq("circle", "1"), eq("project", "7")}))->matches(t));
  EXPECT_FALSE(compile(op(FilterOp::any_of, {eq("circle", "1"), eq("project", "8")}))->matches(t));
  EXPECT_TRUE(compile(op(FilterOp::negate, {eq("circle", "1")}))->matches(t));
  EXPECT_FALSE(compile(op(FilterOp::negate, {eq("circle", "12")}))->matches(t));
  // Nested: (circle=12 and not project in [8,9]) or exists urgent.
  auto nested = op(FilterOp::any_of, {op(FilterOp::all_of, {eq("circle", "12"), op(FilterOp::negate, {in("project", {"8", "9"})})}),
                                      FilterExpr{FilterOp::exists, "urgent", {}, {}}});
  EXPECT_TRUE(compile(nested)->matches(t));
  EXPECT_FALSE(compile(nested)->matches(tags({{"circle", "12"}, {"project", "9"}})));
  EXPECT_TRUE(compile(nested)->matches(tags({{"urgent", ""}})));
}

TEST(Filter, CanonicalTextIgnoresOrderAndRepeats) {
  auto a = compile(op(FilterOp::all_of, {eq("a", "1"), in("b", {"2", "3", "2"})}));
  auto b = compile(op(FilterOp::all_of, {in("b", {"3", "2"}), eq("a", "1")}));
  auto c = compile(op(FilterOp::any_of, {in("b", {"3", "2"}), eq("a", "1")}));
  EXPECT_EQ(a->canonical(), b->canonical());
  EXPECT_NE(a->canonical(), c->canonical());
  // Length-prefixed strings: no two different filters share a text by their separators.
  EXPECT_NE(compile(eq("a", "1,b"))->canonical(), compile(eq("a,1", "b"))->canonical());
}

TEST(Filter, ShapeAndSizeAreChecked) {
  EXPECT_EQ(Filter::compile(FilterExpr{FilterOp::eq, "", {"1"}, {}}).error().code, ErrorCode::invalid_filter);
  EXPECT_FALSE(Filter::compile(FilterExpr{FilterOp::eq, "k", {}, {}}));
  EXPECT_FALSE(Filter::compile(FilterExpr{FilterOp::in, "k", {}, {}}));
  EXPECT_FALSE(Filter::compile(op(FilterOp::all_of, {})));
  EXPECT_FALSE(Filter::compile(op(FilterOp::negate, {eq("a", "1"), eq("b", "2")})));
  FilterExpr deep = eq("a", "1");
  for (int i = 0; i < 7; ++i) deep = op(FilterOp::negate, {deep});
  EXPECT_TRUE(Filter::compile(deep));  // 8 levels
  deep = op(FilterOp::negate, {deep});
  EXPECT_NE(Filter::compile(deep).error().message.find("deeper than 8"), std::string::npos);
  std::vector<std::string> values(64, "v");
  EXPECT_NE(Filter::compile(in("k", values)).error().message.find("64"), std::string::npos);
  values.resize(63);
  EXPECT_TRUE(Filter::compile(in("k", values)));
}

// ---- the hub --------------------------------------------------------------------------------

class TextEncoder : public PublicationEncoder {
 public:
  SharedBytes encode(const Publication& p) const override {
    return make_shared_bytes(std::to_string(p.offset) + ":" + std::string(p.data));
  }
};

class Recorder : public Subscriber {
 public:
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t, std::string_view) override {
    frames.push_back(*frame);
  }
  std::vector<std::string> frames;
};

class HubFilterTest : public ::testing::Test {
 protected:
  boost::asio::io_context shard0, shard1;
  TextEncoder encoder;
  storage::MemoryHistory store;
  LocalBroker broker{&store};
  Hub hub{{&shard0, &shard1}, encoder, broker};
  HistoryPolicy keep{10, std::chrono::seconds(0)};

  StreamPosition publish(const std::string& data, TagList t, const HistoryPolicy& policy = {}) {
    std::atomic<bool> done{false};
    StreamPosition position;
    const std::string encoded = tags(std::move(t));
    hub.publish("room", data, policy, [&](Result<StreamPosition> r) {
      position = *r;
      done = true;
    }, {}, encoded);
    while (!done) std::this_thread::yield();
    return position;
  }
  void run() {
    shard0.restart();
    shard0.poll();
    shard1.restart();
    shard1.poll();
  }
};

TEST_F(HubFilterTest, EachSubscriberGetsWhatItsFilterMatches) {
  Recorder all, twelve, twelve_too, seven_or_nine, not_twelve;
  ASSERT_TRUE(hub.subscribe(0, "room", all));
  ASSERT_TRUE(hub.subscribe(0, "room", twelve, {}, nullptr, compile(eq("circle", "12"))));
  ASSERT_TRUE(hub.subscribe(1, "room", twelve_too, {}, nullptr, compile(eq("circle", "12"))));
  ASSERT_TRUE(hub.subscribe(1, "room", seven_or_nine, {}, nullptr, compile(in("project", {"7", "9"}))));
  ASSERT_TRUE(hub.subscribe(0, "room", not_twelve, {}, nullptr, compile(op(FilterOp::negate, {eq("circle", "12")}))));
  publish("a", {{"circle", "12"}, {"project", "7"}});
  publish("b", {{"circle", "13"}});
  publish("c", {});
  run();
  EXPECT_EQ(all.frames, (std::vector<std::string>{"1:a", "2:b", "3:c"}));
  EXPECT_EQ(twelve.frames, (std::vector<std::string>{"1:a"}));
  EXPECT_EQ(twelve_too.frames, (std::vector<std::string>{"1:a"}));
  EXPECT_EQ(seven_or_nine.frames, (std::vector<std::string>{"1:a"}));
  EXPECT_EQ(not_twelve.frames, (std::vector<std::string>{"2:b", "3:c"}));
  EXPECT_EQ(hub.counters().deliveries, 3u + 1 + 1 + 1 + 2);
}

TEST_F(HubFilterTest, UnsubscribingFreesTheFilterAndRelaysReachEveryone) {
  Recorder a, b;
  ASSERT_TRUE(hub.subscribe(0, "room", a, {}, nullptr, compile(eq("circle", "12"))));
  EXPECT_TRUE(hub.unsubscribe(0, "room", a));
  EXPECT_FALSE(hub.unsubscribe(0, "room", a));
  ASSERT_TRUE(hub.subscribe(0, "room", b, {}, nullptr, compile(eq("circle", "13"))));
  publish("x", {{"circle", "13"}});
  hub.relay("room", make_shared_bytes(std::string("typing")));
  run();
  EXPECT_TRUE(a.frames.empty());
  EXPECT_EQ(b.frames, (std::vector<std::string>{"1:x", "typing"}));
}

TEST_F(HubFilterTest, DistinctFiltersPerChannelAreBounded) {
  std::vector<Recorder> subscribers(max_filters_per_channel + 1);
  for (std::size_t i = 0; i < max_filters_per_channel; ++i)
    ASSERT_TRUE(hub.subscribe(0, "room", subscribers[i], {}, nullptr, compile(eq("n", std::to_string(i)))));
  auto refused = hub.subscribe(0, "room", subscribers.back(), {}, nullptr, compile(eq("n", "new")));
  EXPECT_EQ(refused.error().code, ErrorCode::limit_exceeded);
  // The same filter as one already there shares its slot.
  EXPECT_TRUE(hub.subscribe(0, "room", subscribers.back(), {}, nullptr, compile(eq("n", "0"))));
}

TEST_F(HubFilterTest, RecoveryAndHistoryApplyTheFilter) {
  Recorder early;
  auto start = hub.subscribe(0, "room", early, keep)->position;
  publish("a", {{"circle", "12"}}, keep);
  publish("b", {{"circle", "13"}}, keep);
  publish("c", {{"circle", "12"}}, keep);
  Recorder late;
  auto twelve = compile(eq("circle", "12"));
  auto result = hub.subscribe(1, "room", late, keep, &start, twelve);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->recovered);
  ASSERT_EQ(result->missed.size(), 2u);
  EXPECT_EQ(result->missed[0].data, "a");
  EXPECT_EQ(result->missed[1].data, "c");
  EXPECT_EQ(find_tag(result->missed[0].tags, "circle"), "12");

  HistoryQuery query;
  query.limit = 2;
  auto page = hub.history("room", keep, query, twelve.get());
  ASSERT_TRUE(page);
  ASSERT_EQ(page->messages.size(), 1u);  // a, b read; b dropped
  EXPECT_EQ(page->messages[0].data, "a");
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->next(), 2u);  // after what was read, not after what was kept
}

}  // namespace
}  // namespace sb::core
