#include "transport/http_client.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <variant>

namespace sb::transport {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

bool parse_url(const std::string& url, ParsedUrl& out) {
  // No spaces or control characters: the target goes into a request line as it is.
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) return false;
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    out.tls = false;
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    out.tls = true;
    rest.remove_prefix(8);
  } else {
    return false;
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  auto colon = authority.rfind(':');
  // An IPv6 literal ([::1]:8080) keeps its brackets out of the host.
  auto bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    out.host = std::string(authority);
    out.port = out.tls ? "443" : "80";
  } else {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  return !out.host.empty() && !out.port.empty() && out.port.find_first_not_of("0123456789") == std::string::npos;
}

bool parse_http_url(const std::string& url, std::string& host, std::string& port, std::string& target) {
  ParsedUrl parsed;
  if (!parse_url(url, parsed) || parsed.tls) return false;
  host = std::move(parsed.host);
  port = std::move(parsed.port);
  target = std::move(parsed.target);
  return true;
}

namespace {

// One connection to a target: a plain or a TLS stream, never both.
struct Connection {
  using Plain = beast::tcp_stream;
  using Tls = beast::ssl_stream<beast::tcp_stream>;
  std::variant<Plain, Tls> stream;
  beast::flat_buffer buffer;  // bytes read past an answer stay here for the next one
  Clock::time_point idle_since{};
  bool reused = false;

  Connection(boost::asio::io_context& context, ssl::context* tls)
      : stream(tls ? std::variant<Plain, Tls>(std::in_place_type<Tls>, context, *tls)
                   : std::variant<Plain, Tls>(std::in_place_type<Plain>, context)) {}

  tcp::socket& socket() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s).socket(); }, stream);
  }
  void close() {
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }
  // Whether an idle connection can carry a request: open, and the peer neither closed it nor
  // sent anything unasked (a TLS close_notify, an HTTP 408).
  bool usable() {
    if (!socket().is_open() || buffer.size() != 0) return false;
    char byte;
    ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

struct Waiting {
  HttpCall call;
  ParsedUrl url;
  HttpCompletion done;
};

struct Pool {
  std::size_t in_flight = 0;
  std::vector<std::unique_ptr<Connection>> idle;
  std::deque<Waiting> queue;
};

}  // namespace

struct HttpClient::State : std::enable_shared_from_this<HttpClient::State> {
  boost::asio::io_context& context;
  HttpClientOptions options;
  std::unique_ptr<ssl::context> tls;
  std::map<std::string, Pool, std::less<>> pools;  // by "scheme://host:port"
  std::size_t opened = 0;

  State(boost::asio::io_context& c, HttpClientOptions o) : context(c), options(std::move(o)) {}
  ssl::context& tls_context();
  void start(Waiting waiting);
  void finished(const std::string& key, std::unique_ptr<Connection> keep);
  void fail_later(HttpCompletion done, Error error) {
    boost::asio::post(context, [done = std::move(done), error = std::move(error)]() mutable { done(std::move(error)); });
  }
};

ssl::context& HttpClient::State::tls_context() {
  if (tls) return *tls;
  tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls->set_default_verify_paths();
  if (!options.ca_file.empty()) {
    beast::error_code ec;
    tls->load_verify_file(options.ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA file '" + options.ca_file + "': " + ec.message());
  }
  tls->set_verify_mode(ssl::verify_peer);
  return *tls;
}

namespace {

std::string pool_key(const ParsedUrl& url) { return (url.tls ? "https://" : "http://") + url.host + ":" + url.port; }

// One request from its start to its completion: takes a pooled connection or opens one, writes,
// reads, and hands the connection back to the pool when the answer allows keep-alive. A timer
// bounds the whole; when it fires, the socket is closed and the pending operation ends.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<HttpClient::State> state, Waiting waiting)
      : state_(std::move(state)), waiting_(std::move(waiting)), key_(pool_key(waiting_.url)),
        resolver_(state_->context), timer_(state_->context) {
    request_.method_string(waiting_.call.method);
    request_.target(waiting_.url.target);
    request_.version(11);
    request_.set(http::field::host, waiting_.url.host + ":" + waiting_.url.port);
    request_.set(http::field::user_agent, "switchboard");
    for (const auto& [name, value] : waiting_.call.headers) request_.set(name, value);
    request_.body() = std::move(waiting_.call.body);
    request_.prepare_payload();
    request_.keep_alive(true);
  }

  void run() {
    timer_.expires_after(state_->options.timeout);
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_timeout();
    });
    take_connection();
  }

 private:
  void take_connection() {
    Pool& pool = state_->pools[key_];
    while (!pool.idle.empty()) {
      auto c = std::move(pool.idle.back());
      pool.idle.pop_back();
      if (Clock::now() - c->idle_since < state_->options.idle_timeout && c->usable()) {
        connection_ = std::move(c);
        connection_->reused = true;
        return write();
      }
      c->close();
    }
    open();
  }

  void open() {
    connection_ = std::make_unique<Connection>(state_->context,
                                               waiting_.url.tls ? &state_->tls_context() : nullptr);
    ++state_->opened;
    resolver_.async_resolve(waiting_.url.host, waiting_.url.port,
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->fail(ErrorCode::unavailable, "cannot resolve: " + ec.message());
                              if (self->done_) return;
                              self->on_resolved(results);
                            });
  }

  void on_resolved(const tcp::resolver::results_type& results) {
    boost::asio::async_connect(connection_->socket(), results,
                               [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                                 if (ec) return self->fail(ErrorCode::unavailable, "cannot connect: " + ec.message());
                                 self->on_connected();
                               });
  }

  void on_connected() {
    auto* tls = std::get_if<Connection::Tls>(&connection_->stream);
    if (!tls) return write();
    // SNI, and the certificate must name the host.
    SSL_set_tlsext_host_name(tls->native_handle(), waiting_.url.host.c_str());
    tls->set_verify_callback(ssl::host_name_verification(waiting_.url.host));
    tls->async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail(ErrorCode::unavailable, "TLS handshake failed: " + ec.message());
      self->write();
    });
  }

  void write() {
    std::visit(
        [this](auto& stream) {
          http::async_write(stream, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->retry_or_fail(ErrorCode::unavailable, "write failed: " + ec.message());
            self->read();
          });
        },
        connection_->stream);
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(state_->options.max_response_bytes);
    parser_->header_limit(64 * 1024);
    std::visit(
        [this](auto& stream) {
          http::async_read(stream, connection_->buffer, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                             self->on_read(ec, bytes);
                           });
        },
        connection_->stream);
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (!ec) return succeed();
    if (timed_out_) return fail(ErrorCode::timeout, "");
    if (ec == http::error::body_limit)
      return fail(ErrorCode::message_too_large,
                  "response body above " + std::to_string(state_->options.max_response_bytes) + " bytes");
    const bool nothing_read = bytes == 0 && !parser_->got_some();
    if (nothing_read && (ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                         ec == boost::asio::error::eof || ec == ssl::error::stream_truncated))
      return retry_or_fail(ErrorCode::unavailable, "connection closed before the answer");
    fail(ErrorCode::server_error, "bad response: " + ec.message());
  }

  // A pooled connection the peer closed while it sat idle fails at the first write or read:
  // send once more on a new one, when nothing of an answer was read.
  void retry_or_fail(ErrorCode code, std::string why) {
    if (done_) return;
    if (connection_ && connection_->reused && !timed_out_) {
      connection_->close();
      connection_.reset();
      return open();
    }
    fail(code, std::move(why));
  }

  void succeed() {
    if (done_) return;
    auto& message = parser_->get();
    HttpClientResponse response;
    response.status = message.result_int();
    for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
    response.body = std::move(message.body());
    std::unique_ptr<Connection> keep;
    if (message.keep_alive() && parser_->is_done()) keep = std::move(connection_);
    complete(std::move(response), std::move(keep));
  }

  void fail(ErrorCode code, std::string why) {
    if (done_) return;
    if (timed_out_) {
      code = ErrorCode::timeout;
      why = "no answer within " + std::to_string(state_->options.timeout.count()) + " ms";
    }
    if (connection_) connection_->close();
    complete(make_error(code, waiting_.call.url + ": " + why), nullptr);
  }

  void on_timeout() {
    if (done_) return;
    timed_out_ = true;
    resolver_.cancel();
    if (connection_) connection_->close();  // the pending operation ends with an error → fail()
  }

  void complete(Result<HttpClientResponse> result, std::unique_ptr<Connection> keep) {
    done_ = true;
    timer_.cancel();
    auto done = std::move(waiting_.done);
    state_->finished(key_, std::move(keep));
    done(std::move(result));
  }

  std::shared_ptr<HttpClient::State> state_;
  Waiting waiting_;
  std::string key_;
  tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<Connection> connection_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool timed_out_ = false;
  bool done_ = false;
};

}  // namespace

// The caller holds the request's slot (in_flight) already.
void HttpClient::State::start(Waiting waiting) {
  std::make_shared<Exchange>(shared_from_this(), std::move(waiting))->run();
}

void HttpClient::State::finished(const std::string& key, std::unique_ptr<Connection> keep) {
  Pool& pool = pools[key];
  if (keep) {
    keep->idle_since = Clock::now();
    if (pool.idle.size() < options.max_in_flight) pool.idle.push_back(std::move(keep));
    else keep->close();
  }
  if (pool.queue.empty()) {
    --pool.in_flight;
    return;
  }
  // The slot passes to the first waiting request. Posted: the completion that freed it runs
  // first, and no stack grows.
  Waiting next = std::move(pool.queue.front());
  pool.queue.pop_front();
  boost::asio::post(context, [self = shared_from_this(), next = std::move(next)]() mutable { self->start(std::move(next)); });
}

HttpClient::HttpClient(boost::asio::io_context& context, HttpClientOptions options)
    : state_(std::make_shared<State>(context, std::move(options))) {
  if (!state_->options.ca_file.empty()) state_->tls_context();  // a bad file fails at startup
}

// Idle sockets are closed now, while the io_context they belong to is alive; requests still in
// flight keep the state until their handlers run or are destroyed with the context.
HttpClient::~HttpClient() {
  for (auto& [key, pool] : state_->pools) {
    for (auto& c : pool.idle) c->close();
    pool.idle.clear();
  }
}

std::size_t HttpClient::connections_opened() const { return state_->opened; }
boost::asio::io_context& HttpClient::context() const { return state_->context; }
const HttpClientOptions& HttpClient::options() const { return state_->options; }

void HttpClient::request(HttpCall call, HttpCompletion done) {
  Waiting waiting{std::move(call), {}, std::move(done)};
  if (!parse_url(waiting.call.url, waiting.url))
    return state_->fail_later(std::move(waiting.done),
                              make_error(ErrorCode::invalid_message, "not an http:// or https:// URL: " + waiting.call.url));
  Pool& pool = state_->pools[pool_key(waiting.url)];
  if (pool.in_flight < state_->options.max_in_flight) {
    // Started from a post: `done` never runs inside this call.
    ++pool.in_flight;
    boost::asio::post(state_->context,
                      [state = state_, waiting = std::move(waiting)]() mutable { state->start(std::move(waiting)); });
    return;
  }
  if (pool.queue.size() < state_->options.max_queued) {
    pool.queue.push_back(std::move(waiting));
    return;
  }
  state_->fail_later(std::move(waiting.done),
                     make_error(ErrorCode::limit_exceeded, "too many requests in flight to " + pool_key(waiting.url)));
}

namespace {

class Webhook : public std::enable_shared_from_this<Webhook> {
 public:
  Webhook(HttpClient& client, std::shared_ptr<HttpClient> owned, WebhookRequest request, std::function<void(bool)> done)
      : client_(client), owned_(std::move(owned)), request_(std::move(request)), done_(std::move(done)),
        timer_(client.context()) {}

  void attempt() {
    ++tries_;
    HttpCall call{"POST", request_.url, request_.headers, request_.body};
    call.headers.emplace_back("Content-Type", "application/json");
    client_.request(std::move(call), [self = shared_from_this()](Result<HttpClientResponse> result) {
      if (!result) return self->retry(result.error().message);
      if (result->status / 100 != 2) return self->retry("status " + std::to_string(result->status));
      self->finish(true, {});
    });
  }

 private:
  void retry(const std::string& why) {
    if (tries_ >= request_.attempts) return finish(false, why);
    timer_.expires_after(request_.first_backoff * (1 << (tries_ - 1)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->attempt();
    });
  }
  void finish(bool ok, const std::string& why) {
    if (!ok) spdlog::warn("webhook {} failed after {} attempt(s): {}", request_.url, tries_, why);
    if (done_) done_(ok);
  }

  HttpClient& client_;
  std::shared_ptr<HttpClient> owned_;
  WebhookRequest request_;
  std::function<void(bool)> done_;
  boost::asio::steady_timer timer_;
  int tries_ = 0;
};

}  // namespace

void post_webhook(HttpClient& client, WebhookRequest request, std::function<void(bool)> done) {
  auto hook = std::make_shared<Webhook>(client, nullptr, std::move(request), std::move(done));
  hook->attempt();
}

void post_webhook(boost::asio::io_context& context, WebhookRequest request, std::function<void(bool)> done) {
  // Made and started on the context's thread: the client is used only there.
  boost::asio::post(context, [&context, request = std::move(request), done = std::move(done)]() mutable {
    auto client = std::make_shared<HttpClient>(context);
    auto hook = std::make_shared<Webhook>(*client, client, std::move(request), std::move(done));
    hook->attempt();
  });
}

}  // namespace sb::transport
