// Webhooks against a real HTTP receiver on loopback (Beast, in the test) that checks every
// request's signature as a backend would: channel occupied/vacated, presence join/leave, client
// events and typing when the namespace asks, stream cancels, closed connections, a receiver that
// is down and then up, and a flood beyond the queue.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;
using client::http_request;
using client::WsClient;
using namespace std::chrono_literals;

const std::string secret = "webhook-test-secret-0123456789";

// What a backend computes: hex HMAC-SHA256 of "<timestamp>.<body>" under the secret.
std::string expected_signature(const std::string& timestamp, const std::string& body) {
  const std::string message = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex = "sha256=";
  for (unsigned int i = 0; i < length; ++i) hex += {digits[mac[i] >> 4], digits[mac[i] & 15]};
  return hex;
}

// The app's backend: accepts connections one after another, answers each POST 200 and keeps
// the events of every request whose signature and timestamp check out.
class Receiver {
 public:
  explicit Receiver(std::uint16_t port = 0) : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), port}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  std::vector<json::object> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Events of `type`, in the order they came.
  std::vector<json::object> of(std::string_view type) {
    std::vector<json::object> out;
    for (auto& e : events())
      if (e.at("type").as_string() == type) out.push_back(e);
    return out;
  }
  bool has(std::size_t n) {
    std::lock_guard lock(mutex_);
    return events_.size() >= n;
  }
  // How it answers from now on: 200, bytes that are not HTTP, or never (the socket stays open).
  enum class Mode { ok, garbage, hang };
  void set_mode(Mode mode) { mode_ = mode; }
  int bad_signatures() const { return bad_signatures_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (true) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      ++requests_;
      if (mode_ == Mode::hang) {
        hung_.push_back(std::move(socket));
        continue;
      }
      if (mode_ == Mode::garbage) {
        boost::asio::write(socket, boost::asio::buffer(std::string("this is not HTTP\r\n\r\n")), ec);
        socket.shutdown(tcp::socket::shutdown_both, ec);
        continue;
      }
      check(request);
      http::response<http::empty_body> response(http::status::ok, 11);
      response.prepare_payload();
      http::write(socket, response, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }
  void check(const http::request<http::string_body>& request) {
    const std::string timestamp(request["X-Switchboard-Timestamp"]);
    const std::string signature(request["X-Switchboard-Signature"]);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    if (request.method() != http::verb::post || request[http::field::content_type] != "application/json" ||
        timestamp.empty() || std::llabs(std::stoll(timestamp) - now) > 300 ||
        signature != expected_signature(timestamp, request.body())) {
      ++bad_signatures_;
      return;
    }
    const json::value body = json::parse(request.body());
    std::lock_guard lock(mutex_);
    for (const auto& e : body.at("events").as_array()) events_.push_back(e.as_object());
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> bad_signatures_{0};
  std::atomic<int> requests_{0};
  std::atomic<Mode> mode_{Mode::ok};
  std::vector<tcp::socket> hung_;  // serve()'s thread only
  std::mutex mutex_;
  std::vector<json::object> events_;
};

void webhooks_to(server::Config& c, std::uint16_t port) {
  c.webhooks.delivery.urls = {"http://127.0.0.1:" + std::to_string(port) + "/switchboard/events"};
  c.webhooks.delivery.secret = secret;
  c.webhooks.delivery.batch_interval = 20ms;
  c.webhooks.delivery.first_backoff = 50ms;
  c.webhooks.delivery.max_backoff = 200ms;
}

std::vector<std::string> types_on(Receiver& r, std::string_view channel) {
  std::vector<std::string> out;
  for (auto& e : r.events())
    if (auto c = e.if_contains("channel"); c && c->as_string() == channel) out.emplace_back(e.at("type").as_string());
  return out;
}

TEST(Webhooks, SubscribersMakeOccupiedJoinLeaveVacatedAndAClosedConnection) {
  Receiver receiver;
  TestServer server([&](server::Config& c) {
    webhooks_to(c, receiver.port());
    core::NamespaceOptions room{"room", true};
    room.presence = true;
    c.namespaces.push_back(room);
  });
  auto a = WsClient::connect("127.0.0.1", server.port());
  auto b = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("room:1");
  b->subscribe("room:1");
  auto left = a->request(json::object{{"type", "unsubscribe"}, {"channel", "room:1"}});
  ASSERT_TRUE(left);
  b->close();
  ASSERT_TRUE(eventually([&] { return !receiver.of("connection_closed").empty() && types_on(receiver, "room:1").size() == 6; }));
  EXPECT_EQ(types_on(receiver, "room:1"), (std::vector<std::string>{"channel_occupied", "presence_join", "presence_join",
                                                                    "presence_leave", "presence_leave",
                                                                    "channel_vacated"}));
  auto joins = receiver.of("presence_join");
  EXPECT_EQ(joins[0].at("member").at("client").as_string(), a->client_id());
  EXPECT_EQ(joins[1].at("member").at("client").as_string(), b->client_id());
  auto closed = receiver.of("connection_closed");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].at("client").as_string(), b->client_id());
  EXPECT_EQ(closed[0].at("user"), "");
  EXPECT_EQ(closed[0].at("code"), 1000);
  EXPECT_GE(closed[0].at("duration_ms").as_int64(), 0);
  std::set<std::string> ids;
  for (auto& e : receiver.events()) ids.insert(std::string(e.at("id").as_string()));
  EXPECT_EQ(ids.size(), receiver.events().size());
  EXPECT_EQ(receiver.bad_signatures(), 0);
  EXPECT_TRUE(eventually([&] { return server.app().stats().webhook_events_sent == receiver.events().size(); }));
}

TEST(Webhooks, ClientEventsAndTypingGoOnlyWhereTheNamespaceAsks) {
  Receiver receiver;
  TestServer server([&](server::Config& c) {
    webhooks_to(c, receiver.port());
    core::NamespaceOptions chat{"chat", true};
    chat.webhook_events = true;
    chat.webhook_typing = true;
    c.namespaces.push_back(chat);
    c.namespaces.push_back(core::NamespaceOptions{"quiet", true});
  });
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("quiet:1");
  a->subscribe("chat:1");
  // The quiet namespace's first: events come in order, so once chat's are in, quiet's would be.
  for (const char* channel : {"quiet:1", "chat:1"}) {
    ASSERT_TRUE(a->request(json::object{{"type", "event"}, {"channel", channel}, {"event", "reaction"},
                                        {"data", json::object{{"emoji", "+1"}}}}));
    ASSERT_TRUE(a->request(json::object{{"type", "typing"}, {"channel", channel}, {"typing", true}}));
    ASSERT_TRUE(a->request(json::object{{"type", "typing"}, {"channel", channel}, {"typing", false}}));
  }
  ASSERT_TRUE(eventually([&] { return receiver.of("typing").size() == 2; }));
  EXPECT_EQ(types_on(receiver, "quiet:1"), std::vector<std::string>{"channel_occupied"});
  EXPECT_EQ(types_on(receiver, "chat:1"),
            (std::vector<std::string>{"channel_occupied", "client_event", "typing", "typing"}));
  auto event = receiver.of("client_event").at(0);
  EXPECT_EQ(event.at("event"), "reaction");
  EXPECT_EQ(event.at("data"), (json::object{{"emoji", "+1"}}));
  EXPECT_EQ(event.at("from").at("client").as_string(), a->client_id());
  auto typing = receiver.of("typing");
  EXPECT_EQ(typing[0].at("typing"), true);
  EXPECT_EQ(typing[1].at("typing"), false);
  EXPECT_EQ(receiver.bad_signatures(), 0);
}

TEST(Webhooks, ACancelledStreamIsAnEventTooAndTheEventsListFilters) {
  Receiver receiver;
  TestServer server([&](server::Config& c) {
    webhooks_to(c, receiver.port());
    c.webhooks.events = backend::stream_cancelled;  // nothing else
    c.namespaces.push_back(core::NamespaceOptions{"ai", true});
  });
  auto user = WsClient::connect("127.0.0.1", server.port());
  user->subscribe("ai:1");
  auto started = http_request("127.0.0.1", server.port(), "POST", "/api/streams", R"({"channel":"ai:1"})");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string id(json::parse(started.body).at("stream").as_string());
  ASSERT_TRUE(user->request(json::object{{"type", "stream_cancel"}, {"stream", id}}));
  user->close();
  ASSERT_TRUE(eventually([&] { return receiver.has(1); }));
  std::this_thread::sleep_for(100ms);  // five batch intervals: whatever else was sent is in
  auto events = receiver.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("type"), "stream_cancelled");
  EXPECT_EQ(events[0].at("stream").as_string(), id);
  EXPECT_EQ(events[0].at("channel"), "ai:1");
  EXPECT_EQ(events[0].at("reason"), "cancelled");
}

TEST(Webhooks, EventsQueuedWhileTheReceiverIsDownArriveOnceItIsUp) {
  const std::uint16_t port = free_port();
  TestServer server([&](server::Config& c) {
    webhooks_to(c, port);
    c.namespaces.push_back(core::NamespaceOptions{"room", true});
  });
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("room:down");
  ASSERT_TRUE(eventually([&] { return server.app().stats().webhook_requests_failed >= 2; }));
  EXPECT_EQ(server.app().stats().webhook_events_queued, 1u);
  Receiver receiver(port);
  ASSERT_TRUE(eventually([&] { return receiver.has(1); }));
  EXPECT_EQ(types_on(receiver, "room:down"), std::vector<std::string>{"channel_occupied"});
  EXPECT_EQ(receiver.bad_signatures(), 0);
  ASSERT_TRUE(eventually([&] { return server.app().stats().webhook_events_queued == 0; }));
  EXPECT_EQ(server.app().stats().webhook_events_sent, 1u);
  EXPECT_EQ(server.app().stats().webhook_events_dropped, 0u);
}

TEST(Webhooks, ABackendThatHangsOrAnswersGarbageIsRetriedUntilItAnswers) {
  Receiver receiver;
  receiver.set_mode(Receiver::Mode::hang);
  TestServer server([&](server::Config& c) {
    webhooks_to(c, receiver.port());
    c.webhooks.delivery.timeout = 100ms;
    c.namespaces.push_back(core::NamespaceOptions{"room", true});
  });
  auto a = WsClient::connect("127.0.0.1", server.port());
  a->subscribe("room:slow");
  // Each hung attempt fails at timeout_ms, not at the client's own 5 s.
  ASSERT_TRUE(eventually([&] { return server.app().stats().webhook_requests_failed >= 2; }, 2s));
  receiver.set_mode(Receiver::Mode::garbage);
  const auto failed = server.app().stats().webhook_requests_failed;
  ASSERT_TRUE(eventually([&] { return server.app().stats().webhook_requests_failed >= failed + 2; }));
  receiver.set_mode(Receiver::Mode::ok);
  ASSERT_TRUE(eventually([&] { return receiver.has(1); }));
  EXPECT_EQ(types_on(receiver, "room:slow"), std::vector<std::string>{"channel_occupied"});
  // Counted once the 200 is read, just after the receiver kept the events.
  EXPECT_TRUE(eventually([&] { return server.app().stats().webhook_events_sent == 1; }));
  // Meanwhile the server served as usual.
  EXPECT_EQ(a->publish("room:slow", json::object{{"n", 1}}), 1u);
}

TEST(Webhooks, AFloodBeyondTheQueueIsDroppedAndCountedAndTheServerCarriesOn) {
  const std::uint16_t port = free_port();  // nobody listens: every request fails
  TestServer server([&](server::Config& c) {
    webhooks_to(c, port);
    c.webhooks.delivery.max_queue = 50;
    c.namespaces.push_back(core::NamespaceOptions{"room", true});
  });
  auto a = WsClient::connect("127.0.0.1", server.port());
  for (int i = 0; i < 300; ++i) {  // 600 events: occupied and vacated of 300 channels
    const std::string channel = "room:" + std::to_string(i);
    a->subscribe(channel);
    ASSERT_TRUE(a->request(json::object{{"type", "unsubscribe"}, {"channel", channel}}));
  }
  const auto stats = server.app().stats();
  EXPECT_LE(stats.webhook_events_queued, 50u);
  EXPECT_GE(stats.webhook_events_dropped, 550u);
  EXPECT_EQ(stats.webhook_events_sent, 0u);
  // The server still serves, and /metrics shows the figures.
  a->subscribe("room:alive");
  EXPECT_EQ(a->publish("room:alive", json::object{{"ok", true}}), 1u);
  auto metrics = http_request("127.0.0.1", server.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("switchboard_webhook_events_dropped_total " +
                              std::to_string(server.app().stats().webhook_events_dropped)),
            std::string::npos);
  EXPECT_NE(metrics.body.find("switchboard_webhook_events_queued "), std::string::npos);
}

}  // namespace
}  // namespace sb::test
