#include "transport/http_session.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <sstream>

#include "transport/deflate.hpp"
#include "transport/tls.hpp"
#include "transport/ws_connection.hpp"

namespace sb::transport {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// A keep-alive connection may stay silent this long between requests (publishers reuse theirs).
constexpr std::chrono::seconds keep_alive_timeout{60};

bool header_has_token(std::string_view value, std::string_view token) {
  // Comma-separated, case-insensitive tokens ("keep-alive, Upgrade").
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// `code` and `message` are our own constants: plain ASCII without quotes, no escaping needed.
HttpResponse error_reply(int status, std::string_view code, std::string_view message, bool retryable = false) {
  HttpResponse r;
  r.status = status;
  r.body = std::string(R"({"error":{"code":")") + std::string(code) + R"(","message":")" + std::string(message) +
           R"(","retryable":)" + (retryable ? "true" : "false") + "}}";
  return r;
}

// What is wrong with a WebSocket upgrade request, or nothing.
std::optional<HttpResponse> upgrade_problem(const HttpRequest& request) {
  if (request.method != "GET" || !header_has_token(request.header("Connection"), "upgrade"))
    return error_reply(400, "INVALID_MESSAGE", "a WebSocket upgrade is a GET with Connection: Upgrade");
  if (request.header("Sec-WebSocket-Version") != "13") {
    HttpResponse r = error_reply(426, "INVALID_MESSAGE", "WebSocket version 13 required");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  if (request.header("Sec-WebSocket-Key").size() != 24)
    return error_reply(400, "INVALID_MESSAGE", "missing or malformed Sec-WebSocket-Key");
  return std::nullopt;
}

http::response<http::string_body> to_beast(HttpResponse response, bool keep_alive) {
  http::response<http::string_body> res(static_cast<http::status>(response.status), 11);
  res.set(http::field::server, "switchboard");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (auto& [k, v] : response.headers) res.set(k, v);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpRequest head_of(const http::request<http::string_body>& req, const tcp::socket& socket) {
  HttpRequest request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  for (const auto& field : req) request.headers.emplace_back(field.name_string(), field.value());
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (!ec) {
    request.remote_address = endpoint.address().to_string();
    request.remote_is_loopback = endpoint.address().is_loopback();
  }
  // A request relayed by a proxy on this machine comes from loopback but not from this
  // machine's user: the loopback privileges (open HTTP API, anonymous clients) stop there.
  if (request.remote_is_loopback &&
      (!request.header("X-Forwarded-For").empty() || !request.header("Forwarded").empty() ||
       !request.header("X-Real-IP").empty()))
    request.remote_is_loopback = false;
  return request;
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Worker& worker, tcp::socket socket, const UpgradeHandler& on_upgrade, const HttpHandler& on_http,
              const BodyStreamHandler& on_body)
      : worker_(worker), stream_(std::move(socket)), on_upgrade_(on_upgrade), on_http_(on_http), on_body_(on_body) {}

  void read(std::chrono::seconds timeout) {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(worker_.limits().max_http_body);
    stream_.expires_after(timeout);
    // The head first: a request whose body is streamed (BodySink) is told apart before reading it.
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

 private:
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    if (on_body_ && !parser_->is_done()) {
      if (auto sink = on_body_(head_of(parser_->get(), stream_.socket()))) return start_streaming(std::move(sink));
    }
    if (parser_->is_done()) return on_read({});
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  // The body goes to `sink` chunk by chunk; the connection closes after the answer.
  void start_streaming(std::unique_ptr<BodySink> sink) {
    worker_.stats().add(worker_.stats().http_requests);
    keep_alive_ = false;
    sink_ = std::move(sink);
    chunk_ = std::make_unique<char[]>(chunk_size);
    body_parser_.emplace(std::move(*parser_));
    body_parser_->body_limit(boost::none);  // the sink bounds what it keeps
    read_chunk();
  }

  void read_chunk() {
    auto& body = body_parser_->get().body();
    body.data = chunk_.get();
    body.size = chunk_size;
    body.more = true;
    // A producer may pause between tokens; a minute of silence ends the request.
    stream_.expires_after(keep_alive_timeout);
    http::async_read_some(stream_, buffer_, *body_parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_chunk(ec);
    });
  }

  void on_chunk(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t used = chunk_size - body_parser_->get().body().size;
    if (used > 0) sink_->on_data(std::string_view(chunk_.get(), used));
    if (ec) {
      sink_->on_abort();
      return close();
    }
    if (!body_parser_->is_done()) return read_chunk();
    sink_->on_end([self = shared_from_this()](HttpResponse response) {
      auto& context = self->worker_.context();
      boost::asio::post(context, [self = std::move(self), response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return reply_error(413, "MESSAGE_TOO_LARGE", "request body above max_http_body");
    }
    if (ec == http::error::header_limit) {
      return reply_error(431, "INVALID_MESSAGE", "request headers too large");
    }
    if (ec) {
      // Timeouts, resets and garbage: answer garbage with a 400 if the socket is still there.
      if (ec != beast::error::timeout && ec != http::error::end_of_stream && ec != boost::asio::error::eof &&
          ec != boost::asio::error::connection_reset && ec != boost::asio::error::operation_aborted)
        return reply_error(400, "INVALID_MESSAGE", "malformed HTTP request");
      return close();
    }
    worker_.stats().add(worker_.stats().http_requests);
    auto req = parser_->release();
    HttpRequest request = head_of(req, stream_.socket());
    request.body = std::move(req.body());
    keep_alive_ = req.keep_alive();

    if (header_has_token(request.header("Upgrade"), "websocket")) {
      // A server that is closing its connections takes no new ones.
      if (worker_.stopping()) return reply_error(503, "UNAVAILABLE", "server shutting down", true);
      return on_upgrade_request(request);
    }
    // The reply may come from another thread (after a history write): bring it back to ours.
    on_http_(request, [self = shared_from_this()](HttpResponse response) {
      auto& context = self->worker_.context();
      boost::asio::post(context, [self = std::move(self), response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void on_upgrade_request(const HttpRequest& request) {
    if (auto problem = upgrade_problem(request)) {
      keep_alive_ = false;
      return write(std::move(*problem));
    }
    std::string_view key = request.header("Sec-WebSocket-Key");

    HttpResponse reject;
    std::unique_ptr<WsHandler> handler = on_upgrade_(worker_, request, reject);
    if (!handler) {
      keep_alive_ = false;
      return write(std::move(reject));
    }
    pending_handler_ = std::move(handler);
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, 11);
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, websocket_accept_key(key));
    if (worker_.limits().deflate) {
      std::string extensions = negotiate_deflate(request.header("Sec-WebSocket-Extensions"));
      deflate_ = !extensions.empty();
      if (deflate_) res->set(http::field::sec_websocket_extensions, extensions);
    }
    stream_.expires_after(worker_.limits().handshake_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->become_websocket();
    });
  }

  void become_websocket() {
    stream_.expires_never();
    std::string already_read = beast::buffers_to_string(buffer_.data());
    tcp::socket socket = stream_.release_socket();
    const tcp protocol = socket.local_endpoint().protocol();
    const int fd = socket.release();
    auto connection = std::make_shared<WsConnection>(worker_, protocol, fd, std::move(already_read), nullptr, deflate_);
    connection->start(std::move(pending_handler_));
  }

  void reply_error(int status, std::string_view code, std::string_view message, bool retryable = false) {
    keep_alive_ = false;
    write(error_reply(status, code, message, retryable));
  }

  void write(HttpResponse response) {
    auto res = std::make_shared<http::response<http::string_body>>(to_beast(std::move(response), keep_alive_));
    stream_.expires_after(worker_.limits().handshake_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->read(keep_alive_timeout);
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  Worker& worker_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const UpgradeHandler& on_upgrade_;
  const HttpHandler& on_http_;
  const BodyStreamHandler& on_body_;
  static constexpr std::size_t chunk_size = 16 * 1024;
  std::unique_ptr<BodySink> sink_;  // only while streaming a body
  std::unique_ptr<char[]> chunk_;
  std::optional<http::request_parser<http::buffer_body>> body_parser_;
  std::unique_ptr<WsHandler> pending_handler_;  // decided, waiting for the 101 to be written
  bool keep_alive_ = false;
  bool deflate_ = false;  // permessage-deflate accepted in the 101
};

// The same conversation over TLS. Beast's parser is fed by hand from SSL_read, responses are
// serialized and written with SSL_write, and on an upgrade the socket and its TLS session move
// to a WsConnection together. Bodies are always read whole here (no BodySink).
class TlsHttpSession : public std::enable_shared_from_this<TlsHttpSession> {
 public:
  TlsHttpSession(Worker& worker, tcp::socket socket, const TlsContext& tls, const UpgradeHandler& on_upgrade,
                 const HttpHandler& on_http)
      : worker_(worker), socket_(std::move(socket)), deadline_(worker.context()), on_upgrade_(on_upgrade),
        on_http_(on_http) {
    beast::error_code ec;
    socket_.non_blocking(true, ec);
    ssl_.reset(tls.new_session(socket_.native_handle()));
  }

  void start() {
    if (!ssl_) return close();
    arm(worker_.limits().handshake_timeout);
    handshake();
  }

 private:
  enum class After { read_next, close, upgrade };

  void arm(std::chrono::seconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }

  // Waits until the socket can do what TLS asked for, then calls `next` again.
  void wait(TlsWant want, void (TlsHttpSession::*next)()) {
    if (want != TlsWant::read && want != TlsWant::write) return close();
    socket_.async_wait(want == TlsWant::read ? tcp::socket::wait_read : tcp::socket::wait_write,
                       [self = shared_from_this(), next](beast::error_code ec) {
                         if (ec || self->closed_) return self->close();
                         ((*self).*next)();
                       });
  }

  void handshake() {
    const int r = SSL_accept(ssl_.get());
    if (r == 1) return begin_request();
    wait(tls_want(ssl_.get(), r), &TlsHttpSession::handshake);
  }

  void begin_request() {
    parser_.emplace();
    parser_->eager(true);
    parser_->header_limit(16 * 1024);
    parser_->body_limit(worker_.limits().max_http_body);
    feed();
  }

  // Parses what was read; reads more if the request is not whole yet.
  void feed() {
    while (!in_.empty() && !parser_->is_done()) {
      beast::error_code ec;
      const std::size_t used = parser_->put(boost::asio::buffer(in_), ec);
      in_.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec == http::error::body_limit) return reply(error_reply(413, "MESSAGE_TOO_LARGE", "request body above max_http_body"), After::close);
      if (ec == http::error::header_limit) return reply(error_reply(431, "INVALID_MESSAGE", "request headers too large"), After::close);
      if (ec) return reply(error_reply(400, "INVALID_MESSAGE", "malformed HTTP request"), After::close);
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_request();
    read_more();
  }

  void read_more() {
    char buffer[16 * 1024];
    const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
    if (n > 0) {
      in_.append(buffer, static_cast<std::size_t>(n));
      return feed();
    }
    wait(tls_want(ssl_.get(), n), &TlsHttpSession::read_more);
  }

  void on_request() {
    worker_.stats().add(worker_.stats().http_requests);
    auto req = parser_->release();
    HttpRequest request = head_of(req, socket_);
    request.body = std::move(req.body());
    keep_alive_ = req.keep_alive();
    if (header_has_token(request.header("Upgrade"), "websocket")) {
      if (worker_.stopping()) return reply(error_reply(503, "UNAVAILABLE", "server shutting down", true), After::close);
      if (auto problem = upgrade_problem(request)) return reply(std::move(*problem), After::close);
      HttpResponse reject;
      pending_handler_ = on_upgrade_(worker_, request, reject);
      if (!pending_handler_) return reply(std::move(reject), After::close);
      http::response<http::empty_body> res(http::status::switching_protocols, 11);
      res.set(http::field::upgrade, "websocket");
      res.set(http::field::connection, "Upgrade");
      res.set(http::field::sec_websocket_accept, websocket_accept_key(request.header("Sec-WebSocket-Key")));
      if (worker_.limits().deflate) {
        std::string extensions = negotiate_deflate(request.header("Sec-WebSocket-Extensions"));
        deflate_ = !extensions.empty();
        if (deflate_) res.set(http::field::sec_websocket_extensions, extensions);
      }
      std::ostringstream head;
      head << res;
      return send(head.str(), After::upgrade);
    }
    on_http_(request, [self = shared_from_this()](HttpResponse response) {
      auto& context = self->worker_.context();
      boost::asio::post(context, [self = std::move(self), response = std::move(response)]() mutable {
        self->reply(std::move(response), self->keep_alive_ ? After::read_next : After::close);
      });
    });
  }

  void reply(HttpResponse response, After after) {
    if (after == After::close) keep_alive_ = false;
    std::ostringstream out;
    out << to_beast(std::move(response), keep_alive_);
    send(out.str(), after);
  }

  void send(std::string bytes, After after) {
    out_ = std::move(bytes);
    out_pos_ = 0;
    after_ = after;
    arm(worker_.limits().handshake_timeout);
    pump();
  }

  void pump() {
    while (out_pos_ < out_.size()) {
      const int n = SSL_write(ssl_.get(), out_.data() + out_pos_, static_cast<int>(out_.size() - out_pos_));
      if (n <= 0) return wait(tls_want(ssl_.get(), n), &TlsHttpSession::pump);
      out_pos_ += static_cast<std::size_t>(n);
    }
    switch (after_) {
      case After::read_next:
        arm(keep_alive_timeout);
        return begin_request();
      case After::close:
        return close();
      case After::upgrade: {
        deadline_.cancel();
        closed_ = true;  // this session is done; the connection lives on
        const tcp protocol = socket_.local_endpoint().protocol();
        const int fd = socket_.release();
        auto connection = std::make_shared<WsConnection>(worker_, protocol, fd, std::move(in_), ssl_.release(), deflate_);
        connection->start(std::move(pending_handler_));
        return;
      }
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    if (ssl_) SSL_shutdown(ssl_.get());
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  Worker& worker_;
  tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  SslPtr ssl_;
  const UpgradeHandler& on_upgrade_;
  const HttpHandler& on_http_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string in_;   // decrypted bytes not yet parsed
  std::string out_;  // the response being written
  std::size_t out_pos_ = 0;
  After after_ = After::close;
  std::unique_ptr<WsHandler> pending_handler_;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool deflate_ = false;
};

}  // namespace

std::string websocket_accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input.append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

void start_tls_session(Worker& worker, tcp::socket socket, const TlsContext& tls, const UpgradeHandler& on_upgrade,
                       const HttpHandler& on_http) {
  std::make_shared<TlsHttpSession>(worker, std::move(socket), tls, on_upgrade, on_http)->start();
}

void start_http_session(Worker& worker, tcp::socket socket, const UpgradeHandler& on_upgrade,
                        const HttpHandler& on_http, const BodyStreamHandler& on_body) {
  std::make_shared<HttpSession>(worker, std::move(socket), on_upgrade, on_http, on_body)
      ->read(worker.limits().handshake_timeout);
}

}  // namespace sb::transport
