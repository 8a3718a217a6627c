// session::Streams against a real hub: the frames a channel's subscribers get for a stream's start,
// deltas and end, the finished text published as one message, and the limits.
#include "session/streams.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "core/local_broker.hpp"
#include "protocol/native/encoder.hpp"
#include "support/waiting.hpp"

namespace sb::session {
namespace {

namespace json = boost::json;

// A subscriber that keeps what it got: the frame's JSON, its stream and its offset or sequence.
class Recorder : public core::Subscriber {
 public:
  struct Received {
    json::object frame;
    std::string stream;
    std::uint64_t offset;
  };
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t offset, std::string_view stream) override {
    const std::size_t length = static_cast<unsigned char>((*frame)[1]) & 0x7F;
    const std::size_t header = length == 126 ? 4 : length == 127 ? 10 : 2;
    got.push_back(Received{json::parse(frame->substr(header)).as_object(), std::string(stream), offset});
  }
  std::vector<Received> got;
};

struct Webhook {
  std::string url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class StreamsTest : public ::testing::Test {
 protected:
  StreamsTest() { namespaces.add(core::NamespaceOptions{"ai", true}); }

  // Streams with `options`, their webhooks recorded; `subscriber` on channel "ai:chat".
  Streams& make(StreamOptions options = {}) {
    streams = std::make_unique<Streams>(hub, namespaces, std::move(options),
                                        [this](const std::string& url, std::string body,
                                               std::vector<std::pair<std::string, std::string>> headers) {
                                          std::lock_guard lock(webhooks_mutex);
                                          webhooks.push_back(Webhook{url, std::move(body), std::move(headers)});
                                        });
    EXPECT_TRUE(hub.subscribe(0, "ai:chat", subscriber).ok());
    return *streams;
  }
  void run() {
    shard.restart();
    shard.poll();
  }
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& r : subscriber.got) out.emplace_back(r.frame.at("type").as_string());
    return out;
  }

  boost::asio::io_context shard;
  protocol::native::NativeEncoder encoder;
  core::LocalBroker broker;
  core::Hub hub{{&shard}, encoder, broker};
  core::Namespaces namespaces;
  Recorder subscriber;
  std::mutex webhooks_mutex;
  std::vector<Webhook> webhooks;
  std::unique_ptr<Streams> streams;  // last: its expirer thread stops before the rest goes
};

TEST_F(StreamsTest, StartDeltasAndEndReachSubscribersAndTheTextIsPublishedOnce) {
  auto& s = make();
  auto id = s.start("ai:chat", R"({"model":"m"})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 16u);
  EXPECT_EQ(*s.append(*id, "Hel"), 1u);
  EXPECT_EQ(*s.append(*id, "lo"), 2u);
  EXPECT_EQ(s.counters().running, 1u);
  EXPECT_EQ(s.counters().bytes, 5u);
  std::promise<Result<core::StreamPosition>> published;
  ASSERT_TRUE(s.end(*id, "done", [&](Result<core::StreamPosition> p) { published.set_value(std::move(p)); }).ok());
  auto position = published.get_future().get();
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->offset, 1u);
  run();

  ASSERT_EQ(types(), (std::vector<std::string>{"stream_start", "stream_delta", "stream_delta", "stream_end", "message"}));
  const auto& got = subscriber.got;
  EXPECT_EQ(got[0].frame.at("stream"), json::string_view(*id));
  EXPECT_EQ(json::serialize(got[0].frame.at("meta")), R"({"model":"m"})");
  EXPECT_EQ(got[1].frame.at("delta"), "Hel");
  EXPECT_EQ(got[1].frame.at("seq"), 1);
  EXPECT_EQ(got[2].frame.at("delta"), "lo");
  EXPECT_EQ(got[3].frame.at("seq"), 3);
  EXPECT_EQ(got[3].frame.at("reason"), "done");
  // Stream frames carry their stream and sequence to the subscriber; the message its offset.
  EXPECT_EQ(got[2].stream, *id);
  EXPECT_EQ(got[2].offset, 2u);
  EXPECT_EQ(got[4].stream, "");
  EXPECT_EQ(got[4].offset, 1u);
  const auto& data = got[4].frame.at("data").as_object();
  EXPECT_EQ(data.at("stream"), json::string_view(*id));
  EXPECT_EQ(data.at("text"), "Hello");
  EXPECT_EQ(data.at("reason"), "done");
  EXPECT_EQ(json::serialize(data.at("meta")), R"({"model":"m"})");
  EXPECT_EQ(s.counters().running, 0u);
  EXPECT_EQ(s.counters().bytes, 0u);
}

TEST_F(StreamsTest, AStreamStartsOnlyOnAValidChannelOfAConfiguredNamespace) {
  auto& s = make();
  auto bad_name = s.start("a b", {});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().code, ErrorCode::unknown_channel);
  EXPECT_NE(bad_name.error().message.find("channel name may only hold"), std::string::npos);
  auto unknown = s.start("nowhere:x", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::unknown_channel);
  EXPECT_NE(unknown.error().message.find("'nowhere' is not configured"), std::string::npos);
  EXPECT_EQ(s.counters().running, 0u);
  EXPECT_EQ(s.counters().refused, 0u);  // refusals of capacity only
}

TEST_F(StreamsTest, UnknownStreamsAreNotFound) {
  auto& s = make();
  EXPECT_EQ(s.append("nope", "x").error().code, ErrorCode::not_found);
  EXPECT_EQ(s.end("nope", "done").error().code, ErrorCode::not_found);
  EXPECT_EQ(s.cancel("nope").error().code, ErrorCode::not_found);
  EXPECT_EQ(s.channel_of("nope"), "");
}

TEST_F(StreamsTest, MaxStreamsRefusesOneMoreUntilOneEnds) {
  StreamOptions options;
  options.max_streams = 2;
  auto& s = make(options);
  auto a = s.start("ai:chat", {});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(s.start("ai:chat", {}).ok());
  auto third = s.start("ai:chat", {});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::limit_exceeded);
  EXPECT_NE(third.error().message.find("max_streams"), std::string::npos);
  EXPECT_EQ(s.counters().refused, 1u);
  ASSERT_TRUE(s.end(*a, "done").ok());
  EXPECT_TRUE(s.start("ai:chat", {}).ok());
}

TEST_F(StreamsTest, MaxStreamBytesBoundsOneStreamsText) {
  StreamOptions options;
  options.max_stream_bytes = 5;
  auto& s = make(options);
  auto id = s.start("ai:chat", {});
  ASSERT_TRUE(s.append(*id, "abc").ok());
  auto over = s.append(*id, "def");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::message_too_large);
  EXPECT_NE(over.error().message.find("max_stream_bytes"), std::string::npos);
  EXPECT_EQ(s.counters().refused, 0u);  // the backend's own stream, not the server's capacity
  EXPECT_EQ(*s.append(*id, "de"), 2u);  // exactly the limit
  auto snapshot = s.active("ai:chat");
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].text, "abcde");
  EXPECT_EQ(snapshot[0].seq, 2u);
}

TEST_F(StreamsTest, MaxTotalBytesBoundsWhatAllStreamsHoldTogether) {
  StreamOptions options;
  options.max_total_bytes = 8;
  auto& s = make(options);
  auto a = s.start("ai:chat", {});
  auto b = s.start("ai:chat", {});
  ASSERT_TRUE(s.append(*a, "12345").ok());
  auto over = s.append(*b, "6789");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::limit_exceeded);
  EXPECT_NE(over.error().message.find("max_total_bytes"), std::string::npos);
  EXPECT_EQ(s.counters().refused, 1u);
  EXPECT_TRUE(s.append(*b, "678").ok());
  EXPECT_EQ(s.counters().bytes, 8u);
  // An ended stream gives its bytes back.
  ASSERT_TRUE(s.end(*a, "done").ok());
  EXPECT_EQ(s.counters().bytes, 3u);
  EXPECT_TRUE(s.append(*b, "abcde").ok());
}

TEST_F(StreamsTest, AnIdleStreamEndsWithTimeout) {
  StreamOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  auto& s = make(options);
  auto id = s.start("ai:chat", {});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(test::eventually([&] { return s.counters().running == 0; }, std::chrono::seconds(5)));
  run();
  ASSERT_EQ(types(), (std::vector<std::string>{"stream_start", "stream_end", "message"}));
  EXPECT_EQ(subscriber.got[1].frame.at("reason"), "timeout");
}

TEST_F(StreamsTest, ACancelEndsTheStreamAndTellsTheBackend) {
  StreamOptions options;
  options.cancel_url = "http://backend.test/cancel";
  options.cancel_secret = "s3cret";
  auto& s = make(options);
  auto id = s.start("ai:chat", {});
  // A caller subscribed elsewhere may not cancel it.
  EXPECT_EQ(s.cancel(*id, "ai:other").error().code, ErrorCode::permission_denied);
  ASSERT_TRUE(s.cancel(*id, "ai:chat").ok());
  run();
  ASSERT_EQ(types(), (std::vector<std::string>{"stream_start", "stream_end", "message"}));
  EXPECT_EQ(subscriber.got[1].frame.at("reason"), "cancelled");
  std::lock_guard lock(webhooks_mutex);
  ASSERT_EQ(webhooks.size(), 1u);
  EXPECT_EQ(webhooks[0].url, "http://backend.test/cancel");
  auto body = json::parse(webhooks[0].body).as_object();
  EXPECT_EQ(body.at("stream"), json::string_view(*id));
  EXPECT_EQ(body.at("channel"), "ai:chat");
  EXPECT_EQ(body.at("reason"), "cancelled");
  EXPECT_EQ(webhooks[0].headers, (std::vector<std::pair<std::string, std::string>>{{"X-Switchboard-Secret", "s3cret"}}));
}

TEST_F(StreamsTest, EndAllEndsEveryRunningStreamWithTheReasonGiven) {
  auto& s = make();
  ASSERT_TRUE(s.start("ai:chat", {}).ok());
  ASSERT_TRUE(s.start("other", {}).ok());
  EXPECT_EQ(s.active("other").size(), 1u);
  s.end_all("shutdown");
  EXPECT_EQ(s.counters().running, 0u);
  run();
  ASSERT_EQ(types(), (std::vector<std::string>{"stream_start", "stream_end", "message"}));
  EXPECT_EQ(subscriber.got[1].frame.at("reason"), "shutdown");
}

}  // namespace
}  // namespace sb::session
