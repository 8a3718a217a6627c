// The JSON of each webhook event, and which are sent: the bytes a backend gets.
#include "backend/webhooks.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "support/waiting.hpp"

namespace sb::backend {
namespace {

namespace json = boost::json;

class WebhooksTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  std::mutex mutex;
  std::vector<json::object> events;  // every event received, in order

  std::unique_ptr<Webhooks> make(unsigned types = all_webhook_events) {
    WebhookOptions options;
    options.delivery.urls = {"http://backend.test/"};
    options.delivery.secret = "0123456789abcdef";
    options.delivery.batch_size = 1000;
    options.delivery.batch_interval = std::chrono::milliseconds(1);
    options.events = types;
    return std::make_unique<Webhooks>(io, options, [this](std::string, std::string body, Headers,
                                                          std::function<void(bool)> done) {
      std::lock_guard lock(mutex);
      const json::value parsed = json::parse(body);
      for (const auto& e : parsed.at("events").as_array()) events.push_back(e.as_object());
      done(true);
    });
  }
  // Runs the io_context until `n` events arrived (or 5 s passed).
  void receive(std::size_t n) {
    ASSERT_TRUE(test::eventually([&] {
      io.restart();
      io.poll();
      std::lock_guard lock(mutex);
      return events.size() >= n;
    }));
  }
};

TEST_F(WebhooksTest, EachEventHasItsShape) {
  auto hooks = make();
  const std::int64_t before = unix_millis();
  const core::Member alice{"c1", "alice", R"({"name":"Alice"})"};
  const core::Member anonymous{"c2", "", ""};
  hooks->on_occupied("chat:1");
  hooks->on_join("chat:1", alice);
  hooks->client_event("chat:1", "reaction", R"({"emoji":"+1"})", alice);
  hooks->typing("chat:1", anonymous, true);
  hooks->stream_cancelled("s1", "ai:1");
  hooks->on_leave("chat:1", alice);
  hooks->on_vacated("chat:1");
  hooks->connection_closed("c1", "alice", 1000, 1234);
  receive(8);
  ASSERT_EQ(events.size(), 8u);
  std::set<std::string> ids;
  for (auto& e : events) {
    ids.insert(std::string(e.at("id").as_string()));
    EXPECT_EQ(e.at("id").as_string().size(), 16u);
    EXPECT_GE(e.at("time_ms").as_int64(), before);
    e.erase("id");
    e.erase("time_ms");
  }
  EXPECT_EQ(ids.size(), 8u);  // one id per event
  EXPECT_EQ(events[0], json::parse(R"({"type":"channel_occupied","channel":"chat:1"})"));
  EXPECT_EQ(events[1], json::parse(R"({"type":"presence_join","channel":"chat:1",
      "member":{"client":"c1","user":"alice","info":{"name":"Alice"}}})"));
  EXPECT_EQ(events[2], json::parse(R"({"type":"client_event","channel":"chat:1","event":"reaction",
      "data":{"emoji":"+1"},"from":{"client":"c1","user":"alice","info":{"name":"Alice"}}})"));
  EXPECT_EQ(events[3], json::parse(R"({"type":"typing","channel":"chat:1","typing":true,
      "from":{"client":"c2","user":""}})"));
  EXPECT_EQ(events[4], json::parse(R"({"type":"stream_cancelled","stream":"s1","channel":"ai:1","reason":"cancelled"})"));
  EXPECT_EQ(events[5], json::parse(R"({"type":"presence_leave","channel":"chat:1",
      "member":{"client":"c1","user":"alice","info":{"name":"Alice"}}})"));
  EXPECT_EQ(events[6], json::parse(R"({"type":"channel_vacated","channel":"chat:1"})"));
  EXPECT_EQ(events[7], json::parse(R"({"type":"connection_closed","client":"c1","user":"alice","code":1000,
      "duration_ms":1234})"));
}

TEST_F(WebhooksTest, NamesAreEscapedIntoValidJson) {
  auto hooks = make();
  hooks->on_join("chat:\"1\"", core::Member{"c\\1", "a\nb", ""});
  receive(1);
  EXPECT_EQ(events[0].at("channel"), "chat:\"1\"");
  EXPECT_EQ(events[0].at("member").at("user"), "a\nb");
}

TEST_F(WebhooksTest, OnlyTheEnabledTypesAreSent) {
  auto hooks = make(channel_occupied | connection_closed);
  hooks->on_join("chat:1", core::Member{"c1", "", ""});
  hooks->on_occupied("chat:1");
  hooks->typing("chat:1", core::Member{"c1", "", ""}, true);
  hooks->on_vacated("chat:1");
  hooks->connection_closed("c1", "", 1006, 5);
  receive(2);
  io.restart();
  io.poll();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("type"), "channel_occupied");
  EXPECT_EQ(events[1].at("type"), "connection_closed");
}

TEST(WebhookEventTypes, NamesMapToTheirBits) {
  EXPECT_EQ(webhook_event_type("channel_occupied"), channel_occupied);
  EXPECT_EQ(webhook_event_type("typing"), typing_event);
  EXPECT_EQ(webhook_event_type("connection_closed"), connection_closed);
  EXPECT_FALSE(webhook_event_type("occupied"));
  unsigned all = 0;
  for (auto name : webhook_event_names()) all |= *webhook_event_type(name);
  EXPECT_EQ(all, all_webhook_events);
}

}  // namespace
}  // namespace sb::backend
