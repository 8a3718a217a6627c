#include "transport/http_session.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <sstream>
#include <utility>

#include "transport/deflate.hpp"
#include "transport/event_stream.hpp"
#include "transport/http_request_reader.hpp"
#include "transport/http_streams.hpp"
#include "transport/ws_connection.hpp"

namespace sb::transport {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// A producer streaming a body (BodySink) may pause between tokens; a minute of silence ends it.
constexpr std::chrono::seconds stream_idle_timeout{60};
// A connection that was refused gets this long to read the answer before it is dropped, and we
// discard at most this much of what it still sends (so that closing does not reset the answer
// away: a close with unread bytes sends RST, which can destroy the reply in flight).
constexpr std::chrono::seconds linger_timeout{2};
constexpr std::size_t linger_bytes = 1024 * 1024;
// Bytes read in one turn before the session lets the worker's other connections run.
constexpr std::size_t bytes_per_turn = 1024 * 1024;

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

// What is wrong with a WebSocket upgrade request, or nothing.
std::optional<HttpResponse> upgrade_problem(const HttpRequest& request, const RefusalRenderer& render) {
  if (request.method != "GET" || !header_has_token(request.header("Connection"), "upgrade"))
    return render(Refusal{400, "INVALID_MESSAGE", "a WebSocket upgrade is a GET with Connection: Upgrade"});
  if (request.header("Sec-WebSocket-Version") != "13") {
    HttpResponse r = render(Refusal{426, "INVALID_MESSAGE", "WebSocket version 13 required"});
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  if (request.header("Sec-WebSocket-Key").size() != 24)
    return render(Refusal{400, "INVALID_MESSAGE", "missing or malformed Sec-WebSocket-Key"});
  return std::nullopt;
}

// The bytes of a response: the head as Beast writes it, then the body.
std::string serialize(HttpResponse response, bool keep_alive) {
  http::response<http::string_body> res(static_cast<http::status>(response.status), 11);
  res.set(http::field::server, "switchboard");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (auto& [k, v] : response.headers) res.set(k, v);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  std::ostringstream head;
  head << res.base();
  std::string bytes = head.str();
  bytes.append(res.body());
  return bytes;
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Worker& worker, Stream stream, const HttpHandlers& handlers, HttpConnectionGate::Slot slot)
      : worker_(worker), stream_(std::move(stream)), deadline_(worker.context()), handlers_(handlers),
        slot_(std::move(slot)),
        reader_(RequestLimits{.max_body = worker.limits().max_http_body}) {
    boost::system::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_address_ = endpoint.address().to_string();
      remote_is_loopback_ = endpoint.address().is_loopback();
    }
  }

  void start(bool refuse) {
    refuse_ = refuse;
    arm(refuse ? linger_timeout : worker_.limits().handshake_timeout);
    handshake();
  }

 private:
  enum class After { read_next, close, upgrade };

  // One deadline per phase (handshake, request, write, idle); reaching it closes the connection.
  void arm(std::chrono::steady_clock::duration timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->worker_.stats().add(self->worker_.stats().http_timeouts);
      self->close();
    });
  }

  // Waits until the socket can do what the stream asked for, then calls `next` again.
  void wait(TlsWant want, void (HttpSession::*next)()) {
    if (want != TlsWant::read && want != TlsWant::write) return close();
    stream_.socket().async_wait(want == TlsWant::read ? tcp::socket::wait_read : tcp::socket::wait_write,
                                [self = this->shared_from_this(), next](boost::system::error_code ec) {
                                  if (self->closed_) return;
                                  if (ec) return self->close();
                                  ((*self).*next)();
                                });
  }

  void handshake() {
    const TlsWant want = stream_.handshake();
    if (want != TlsWant::nothing) return wait(want, &HttpSession::handshake);
    if (refuse_) {
      worker_.stats().add(worker_.stats().http_connections_refused);
      return reply(handlers_.render_refusal(
                       Refusal{503, "UNAVAILABLE", "too many HTTP connections (max_http_connections)", true}),
                   After::close);
    }
    read_loop();
  }

  void begin_request() {
    reader_.reset();
    arm(worker_.limits().http_keepalive_timeout);
    read_loop();
  }

  // Parses what is buffered, reads more, and again, until the request is whole, refused, or the
  // socket has nothing now (then waits for it). A loop: the stack never grows with the input.
  void read_loop() {
    // A reply written at once from inside on_request begins the next request from inside this
    // loop: it goes on here instead, so pipelined requests do not grow the stack.
    if (reading_) {
      read_again_ = true;
      return;
    }
    reading_ = true;
    struct Done {
      HttpSession& s;
      ~Done() { s.reading_ = s.read_again_ = false; }
    } done{*this};
    std::size_t this_turn = 0;
    for (;;) {
      switch (reader_.parse()) {
        case RequestReader::Step::refused: {
          worker_.stats().add(worker_.stats().http_requests_refused);
          const RequestRefusal& why = reader_.refusal();
          if (sink_) abort_sink();
          return reply(handlers_.render_refusal(Refusal{why.status, why.code, why.message}), After::close);
        }
        case RequestReader::Step::head:
          on_head();
          continue;
        case RequestReader::Step::done:
          on_request();
          if (!std::exchange(read_again_, false) || closed_) return;
          continue;
        case RequestReader::Step::need_more:
          break;
      }
      if (this_turn >= bytes_per_turn) {
        boost::asio::post(worker_.context(), [self = this->shared_from_this()] {
          if (!self->closed_) self->read_loop();
        });
        return;
      }
      const IoResult r = stream_.read(worker_.read_buffer(), Worker::read_buffer_size);
      if (r.n == 0) {
        if (r.want == TlsWant::read || r.want == TlsWant::write) return wait(r.want, &HttpSession::read_loop);
        return close();  // the peer left (or TLS failed): nothing to answer
      }
      // The idle wait ends with the first byte: the request itself must arrive within
      // handshake_timeout; a streamed body only within stream_idle_timeout of each read.
      if (sink_) arm(stream_idle_timeout);
      else if (!reader_.started()) arm(worker_.limits().handshake_timeout);
      reader_.feed(worker_.read_buffer(), r.n);
      this_turn += r.n;
    }
  }

  HttpRequest with_peer(HttpRequest request) const {
    request.remote_address = remote_address_;
    request.remote_is_loopback = remote_is_loopback_;
    request.executor = worker_.context().get_executor();
    // A request relayed by a proxy on this machine comes from loopback but not from this
    // machine's user: the loopback privileges (open HTTP API, anonymous clients) stop there.
    if (request.remote_is_loopback &&
        (!request.header("X-Forwarded-For").empty() || !request.header("Forwarded").empty() ||
         !request.header("X-Real-IP").empty()))
      request.remote_is_loopback = false;
    return request;
  }

  // The head is whole: a body the layer above wants streamed (BodySink) goes to it as it arrives.
  void on_head() {
    if (!handlers_.on_body || !reader_.has_body() || reader_.upgrade()) return;
    auto sink = handlers_.on_body(with_peer(reader_.head()));
    if (!sink) return;
    worker_.stats().add(worker_.stats().http_requests);
    keep_alive_ = false;  // the connection closes after the answer
    sink_ = std::move(sink);
    reader_.stream_body_to([this](std::string_view bytes) { sink_->on_data(bytes); });
    arm(stream_idle_timeout);
  }

  void abort_sink() {
    if (sink_ && !sink_ended_) sink_->on_abort();
    sink_ended_ = true;
  }

  void on_request() {
    deadline_.cancel();  // the handler takes its time; the reply re-arms
    if (sink_) {
      sink_ended_ = true;
      return sink_->on_end(reply_on_worker());
    }
    worker_.stats().add(worker_.stats().http_requests);
    HttpRequest request = with_peer(std::move(reader_.request()));
    keep_alive_ = reader_.keep_alive();
    if (header_has_token(request.header("Upgrade"), "websocket")) return on_upgrade_request(request);
    if (request.method == "GET" && handlers_.on_event_stream && !worker_.stopping()) {
      HttpResponse head;
      head.status = 0;
      if (auto handler = handlers_.on_event_stream(worker_, request, head)) return become_event_stream(head, std::move(handler));
      if (head.status != 0) return reply(std::move(head), After::close);
    }
    handlers_.on_http(request, reply_on_worker());
  }

  // A reply given on our worker (HttpRequest::executor) is written at once; one from another
  // thread (a cluster's broker, say) is brought back to ours.
  std::function<void(HttpResponse)> reply_on_worker() {
    return [self = this->shared_from_this()](HttpResponse response) {
      auto& context = self->worker_.context();
      if (context.get_executor().running_in_this_thread()) {
        if (!self->closed_) self->reply(std::move(response), self->keep_alive_ ? After::read_next : After::close);
        return;
      }
      boost::asio::post(context, [self = std::move(self), response = std::move(response)]() mutable {
        if (!self->closed_) self->reply(std::move(response), self->keep_alive_ ? After::read_next : After::close);
      });
    };
  }

  void on_upgrade_request(const HttpRequest& request) {
    // A server that is closing its connections takes no new ones.
    if (worker_.stopping())
      return reply(handlers_.render_refusal(Refusal{503, "UNAVAILABLE", "server shutting down", true}), After::close);
    if (auto problem = upgrade_problem(request, handlers_.render_refusal)) return reply(std::move(*problem), After::close);
    HttpResponse reject;
    pending_handler_ = handlers_.on_upgrade(worker_, request, reject);
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
    send(head.str(), After::upgrade);
  }

  void reply(HttpResponse response, After after) {
    if (after == After::close) keep_alive_ = false;
    send(serialize(std::move(response), keep_alive_), after);
  }

  void send(std::string bytes, After after) {
    out_ = std::move(bytes);
    out_pos_ = 0;
    after_ = after;
    arm(worker_.limits().handshake_timeout);
    write_loop();
  }

  void write_loop() {
    while (out_pos_ < out_.size()) {
      const IoResult r = stream_.write(out_.data() + out_pos_, out_.size() - out_pos_);
      if (r.n == 0) return wait(r.want, &HttpSession::write_loop);
      out_pos_ += r.n;
    }
    out_.clear();
    out_.shrink_to_fit();
    switch (after_) {
      case After::read_next: return begin_request();
      case After::close: return linger();
      case After::upgrade: return become_websocket();
    }
  }

  void become_websocket() {
    deadline_.cancel();
    closed_ = true;  // this session is done; the connection lives on
    slot_.release();  // a WebSocket counts against max_connections from here on
    tcp::socket& socket = stream_.socket();
    const tcp protocol = socket.local_endpoint().protocol();
    SSL* ssl = stream_.release_ssl();
    const int fd = socket.release();
    auto connection = std::make_shared<WsConnection>(worker_, protocol, fd, reader_.take_unparsed(), ssl, deflate_);
    connection->start(std::move(pending_handler_));
  }

  // The GET's answer is a stream from here on: the head, then chunks, until either side ends it.
  void become_event_stream(const HttpResponse& response, std::unique_ptr<EventStreamHandler> handler) {
    deadline_.cancel();
    closed_ = true;  // this session is done; the connection lives on
    slot_.release();  // like a WebSocket, it counts against max_connections from here on
    http::response<http::empty_body> res(static_cast<http::status>(response.status), 11);
    res.set(http::field::server, "switchboard");
    res.set(http::field::content_type, response.content_type);
    for (auto& [k, v] : response.headers) res.set(k, v);
    res.set(http::field::transfer_encoding, "chunked");
    std::ostringstream head;
    head << res.base();
    start_event_stream(worker_, std::move(stream_), head.str(), std::move(handler));
  }

  // After a reply that ends the connection: send our end, then discard what the peer still sends
  // (bounded) until it closes too, so that the reply is read rather than reset away.
  void linger() {
    if (!lingering_) {
      lingering_ = true;
      stream_.shutdown_send();
      arm(linger_timeout);
    }
    const int fd = stream_.socket().native_handle();
    for (;;) {
      const ssize_t n = ::recv(fd, worker_.read_buffer(), Worker::read_buffer_size, MSG_DONTWAIT);
      if (n > 0) {
        lingered_ += static_cast<std::size_t>(n);
        if (lingered_ > linger_bytes) return close();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait(TlsWant::read, &HttpSession::linger);
      return close();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    abort_sink();
    deadline_.cancel();
    boost::system::error_code ec;
    stream_.socket().close(ec);
    slot_.release();
  }

  Worker& worker_;
  Stream stream_;
  boost::asio::steady_timer deadline_;
  const HttpHandlers& handlers_;
  HttpConnectionGate::Slot slot_;
  RequestReader reader_;
  bool reading_ = false;     // read_loop is on the stack
  bool read_again_ = false;  // and the next request began meanwhile (read_loop)
  std::string remote_address_;
  bool remote_is_loopback_ = false;
  std::unique_ptr<BodySink> sink_;  // only while (and after) streaming a body
  std::unique_ptr<WsHandler> pending_handler_;  // decided, waiting for the 101 to be written
  std::string out_;  // the response being written
  std::size_t out_pos_ = 0;
  std::size_t lingered_ = 0;
  After after_ = After::close;
  bool keep_alive_ = false;
  bool deflate_ = false;  // permessage-deflate accepted in the 101
  bool refuse_ = false;
  bool sink_ended_ = false;
  bool lingering_ = false;
  bool closed_ = false;
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

void start_http_session(Worker& worker, tcp::socket socket, const TlsContext* tls, const HttpHandlers& handlers,
                        HttpConnectionGate::Slot slot, bool refuse) {
  if (tls) {
    std::make_shared<HttpSession<TlsStream>>(worker, TlsStream(std::move(socket), *tls), handlers, std::move(slot))
        ->start(refuse);
  } else {
    std::make_shared<HttpSession<PlainStream>>(worker, PlainStream(std::move(socket)), handlers, std::move(slot))
        ->start(refuse);
  }
}

}  // namespace sb::transport
