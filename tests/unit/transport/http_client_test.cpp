// transport::HttpClient against a real HTTP server on 127.0.0.1 (plain and TLS), made here with
// Beast's synchronous API, one thread per accepted connection, each behaving as a test asks.
#include "transport/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/self_signed.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using sb::ErrorCode;
using sb::Result;
using namespace std::chrono_literals;
using sb::transport::HttpCall;
using sb::transport::HttpClient;
using sb::transport::HttpClientOptions;
using sb::transport::HttpClientResponse;

enum class Behaviour {
  echo,            // 200 with the request's body, keep-alive
  echo_then_close, // 200 keep-alive, then closes the connection 50 ms later (a stale pooled one)
  slow,            // waits `delay` then echoes
  garbage,         // answers bytes that are not HTTP
  close_mid,       // a header promising 100 bytes, 10 of them, then closes
  oversized,       // a 10 MiB body
};

class Backend {
 public:
  explicit Backend(Behaviour behaviour, bool tls = false) : behaviour_(behaviour) {
    if (tls) {
      cert_ = ::testing::TempDir() + "http-client-cert-" + std::to_string(::getpid()) + ".pem";
      key_ = ::testing::TempDir() + "http-client-key-" + std::to_string(::getpid()) + ".pem";
      sb::test::write_self_signed(cert_, key_);
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain_file(cert_);
      tls_->use_private_key_file(key_, ssl::context::pem);
    }
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~Backend() {
    stopping_ = true;
    beast::error_code ignored;
    // Wake the blocking accept with a connection of our own.
    tcp::socket poke(context_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    accept_thread_.join();
    for (auto& t : threads_) t.join();
    if (!cert_.empty()) {
      std::filesystem::remove(cert_);
      std::filesystem::remove(key_);
    }
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/hook") const {
    return std::string(tls_ ? "https" : "http") + "://" + (tls_ ? "localhost" : "127.0.0.1") + ":" +
           std::to_string(port()) + path;
  }
  const std::string& cert() const { return cert_; }
  int accepted() const { return accepted_; }
  int requests() const { return requests_; }
  int most_at_once() const { return most_at_once_; }
  std::chrono::milliseconds delay{0};

 private:
  void accept_loop() {
    while (true) {
      tcp::socket socket(context_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_ || ec) return;
      ++accepted_;
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(tcp::socket socket) {
    beast::error_code ec;
    if (!tls_) return serve_stream(socket);
    ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    stream.handshake(ssl::stream_base::server, ec);
    if (!ec) serve_stream(stream);
  }

  template <typename Stream>
  void serve_stream(Stream& stream) {
    beast::flat_buffer buffer;
    while (!stopping_) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      ++requests_;
      const int now = ++at_once_;
      for (int seen = most_at_once_; now > seen && !most_at_once_.compare_exchange_weak(seen, now);) {}
      const bool go_on = answer(stream, request);
      --at_once_;
      if (!go_on) return;
    }
  }

  template <typename Stream>
  bool answer(Stream& stream, const http::request<http::string_body>& request) {
    beast::error_code ec;
    auto write_raw = [&](const std::string& bytes) { asio::write(stream, asio::buffer(bytes), ec); };
    switch (behaviour_) {
      case Behaviour::garbage: write_raw("this is not HTTP at all\r\n\r\n"); return false;
      case Behaviour::close_mid:
        write_raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        return false;
      case Behaviour::oversized: {
        write_raw("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n");
        const std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 160 && !ec; ++i) write_raw(chunk);
        return false;
      }
      case Behaviour::slow: std::this_thread::sleep_for(delay); break;
      default: break;
    }
    http::response<http::string_body> response(http::status::ok, 11);
    response.set("X-Method", std::string(request.method_string()));
    response.set("X-Cookie", std::string(request["Cookie"]));
    response.body() = request.body();
    response.keep_alive(true);
    response.prepare_payload();
    http::write(stream, response, ec);
    if (behaviour_ == Behaviour::echo_then_close) {
      std::this_thread::sleep_for(50ms);
      return false;
    }
    return !ec;
  }

  Behaviour behaviour_;
  asio::io_context context_;
  tcp::acceptor acceptor_{context_};
  std::optional<ssl::context> tls_;
  std::string cert_, key_;
  std::thread accept_thread_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0}, requests_{0}, at_once_{0}, most_at_once_{0};
};

// The client's io_context, run on the test's thread until every result asked for came.
class Runner {
 public:
  explicit Runner(HttpClientOptions options = {}) : client_(context_, std::move(options)) {}
  HttpClient& client() { return client_; }

  void send(HttpCall call) {
    results_.emplace_back();
    const std::size_t index = results_.size() - 1;
    client_.request(std::move(call), [this, index](Result<HttpClientResponse> r) { results_[index] = std::move(r); });
  }
  // Waits (at most 20 s) for every result sent so far.
  std::vector<std::optional<Result<HttpClientResponse>>>& wait() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (auto& r : results_) all = all && r.has_value();
      if (all) break;
      context_.restart();
      context_.run_for(10ms);
    }
    return results_;
  }
  Result<HttpClientResponse> one(HttpCall call) {
    send(std::move(call));
    auto& results = wait();
    EXPECT_TRUE(results.back().has_value()) << "no answer in time";
    return results.back().value_or(sb::make_error(ErrorCode::server_error, "no answer"));
  }

 private:
  asio::io_context context_;
  HttpClient client_;
  // A deque would do too; reserve keeps the references the completions write through valid.
  std::vector<std::optional<Result<HttpClientResponse>>> results_ = [] {
    std::vector<std::optional<Result<HttpClientResponse>>> v;
    v.reserve(64);
    return v;
  }();
};

HttpCall post(const std::string& url, std::string body) {
  HttpCall call;
  call.url = url;
  call.body = std::move(body);
  call.headers = {{"Content-Type", "application/json"}, {"Cookie", "session=abc"}};
  return call;
}

TEST(HttpClient, SequentialRequestsShareOneKeptAliveConnection) {
  Backend backend(Behaviour::echo);
  Runner runner;
  for (int i = 0; i < 5; ++i) {
    auto r = runner.one(post(backend.url(), "{\"n\":" + std::to_string(i) + "}"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "{\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(backend.accepted(), 1);
  EXPECT_EQ(backend.requests(), 5);
  EXPECT_EQ(runner.client().connections_opened(), 1u);
}

TEST(HttpClient, HeadersAndMethodReachTheServerAndComeBack) {
  Backend backend(Behaviour::echo);
  Runner runner;
  HttpCall call = post(backend.url(), "");
  call.method = "PUT";
  auto r = runner.one(std::move(call));
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::string method, cookie;
  for (const auto& [name, value] : r->headers) {
    if (name == "X-Method") method = value;
    if (name == "X-Cookie") cookie = value;
  }
  EXPECT_EQ(method, "PUT");
  EXPECT_EQ(cookie, "session=abc");
}

TEST(HttpClient, ASlowServerTimesOut) {
  Backend backend(Behaviour::slow);
  backend.delay = 1500ms;
  HttpClientOptions options;
  options.timeout = 200ms;
  Runner runner(options);
  const auto start = std::chrono::steady_clock::now();
  auto r = runner.one(post(backend.url(), "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::timeout) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

TEST(HttpClient, AClosedPortIsUnavailable) {
  std::uint16_t port;
  {
    asio::io_context context;
    tcp::acceptor acceptor(context, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  Runner runner;
  auto r = runner.one(post("http://127.0.0.1:" + std::to_string(port) + "/x", "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unavailable) << r.error().message;
}

TEST(HttpClient, GarbageIsABadResponse) {
  Backend backend(Behaviour::garbage);
  Runner runner;
  auto r = runner.one(post(backend.url(), "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::server_error) << r.error().message;
}

TEST(HttpClient, ACloseMidResponseIsABadResponse) {
  Backend backend(Behaviour::close_mid);
  Runner runner;
  auto r = runner.one(post(backend.url(), "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::server_error) << r.error().message;
  EXPECT_EQ(backend.requests(), 1);  // not sent again: part of an answer was read
}

TEST(HttpClient, AnOversizedBodyFailsWithoutBeingKept) {
  Backend backend(Behaviour::oversized);
  HttpClientOptions options;
  options.max_response_bytes = 64 * 1024;
  Runner runner(options);
  auto r = runner.one(post(backend.url(), "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::message_too_large) << r.error().message;
}

TEST(HttpClient, RequestsBeyondTheInFlightCapAndQueueFailAtOnce) {
  Backend backend(Behaviour::slow);
  backend.delay = 300ms;
  HttpClientOptions options;
  options.max_in_flight = 2;
  options.max_queued = 1;
  Runner runner(options);
  for (int i = 0; i < 4; ++i) runner.send(post(backend.url(), std::to_string(i)));
  auto& results = runner.wait();
  int ok = 0, refused = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value());
    if (r->ok()) ++ok;
    else if (r->error().code == ErrorCode::limit_exceeded) ++refused;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(refused, 1);
  EXPECT_FALSE(results[3]->ok());  // the last one found the cap and the queue full
  EXPECT_LE(backend.most_at_once(), 2);
  EXPECT_EQ(backend.requests(), 3);
}

TEST(HttpClient, AStalePooledConnectionIsReplacedOnce) {
  Backend backend(Behaviour::echo_then_close);
  Runner runner;
  auto first = runner.one(post(backend.url(), "1"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::this_thread::sleep_for(200ms);  // the server closed the kept-alive connection meanwhile
  auto second = runner.one(post(backend.url(), "2"));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->body, "2");
  EXPECT_EQ(backend.accepted(), 2);
}

TEST(HttpClient, HttpsWithTheTestCaFile) {
  Backend backend(Behaviour::echo, /*tls=*/true);
  HttpClientOptions options;
  options.ca_file = backend.cert();
  Runner runner(options);
  for (int i = 0; i < 3; ++i) {
    auto r = runner.one(post(backend.url(), "{\"tls\":true}"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "{\"tls\":true}");
  }
  EXPECT_EQ(runner.client().connections_opened(), 1u);
}

TEST(HttpClient, HttpsRefusesAnUnknownCertificate) {
  Backend backend(Behaviour::echo, /*tls=*/true);
  Runner runner;  // system CAs only
  auto r = runner.one(post(backend.url(), "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unavailable) << r.error().message;
  EXPECT_EQ(backend.requests(), 0);
}

TEST(HttpClient, ANonHttpUrlIsRefused) {
  Runner runner;
  auto r = runner.one(post("ftp://127.0.0.1/x", "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_message);
}

TEST(HttpClient, ParseUrl) {
  sb::transport::ParsedUrl u;
  ASSERT_TRUE(sb::transport::parse_url("https://api.example.com/sb/connect", u));
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "api.example.com");
  EXPECT_EQ(u.port, "443");
  EXPECT_EQ(u.target, "/sb/connect");
  ASSERT_TRUE(sb::transport::parse_url("http://[::1]:9000", u));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "9000");
  EXPECT_EQ(u.target, "/");
  EXPECT_FALSE(sb::transport::parse_url("http://host:port/", u));
  EXPECT_FALSE(sb::transport::parse_url("http:///x", u));
}

TEST(HttpClient, PostWebhookRetriesUntilA2xx) {
  Backend backend(Behaviour::echo);
  asio::io_context context;
  HttpClient client(context);
  std::optional<bool> outcome;
  sb::transport::post_webhook(client, {backend.url(), "{}", {}, 3, 10ms}, [&](bool ok) { outcome = ok; });
  context.run_for(5s);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome);

  outcome.reset();
  context.restart();
  sb::transport::post_webhook(client, {"http://127.0.0.1:1/x", "{}", {}, 2, 10ms}, [&](bool ok) { outcome = ok; });
  context.run_for(5s);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(*outcome);
}

}  // namespace
