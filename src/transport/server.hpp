#pragma once
// The listening side of transport: one Worker per thread, one acceptor that hands each new
// connection to the next worker in turn, HTTP/1.1 on every connection, and the WebSocket upgrade
// handed to the layer above through UpgradeHandler. (Not SO_REUSEPORT acceptors per worker: they
// would let a second server start on the same port and silently take half the clients.)
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "transport/http_types.hpp"
#include "transport/limits.hpp"
#include "transport/worker.hpp"
#include "transport/event_stream.hpp"
#include "transport/ws_handler.hpp"

namespace sb::transport {

// Decides an upgrade request. Returns the handler for the new connection, or nullptr after
// filling `reject` with the HTTP answer to send instead. Runs on the worker thread that will own
// the connection.
using UpgradeHandler =
    std::function<std::unique_ptr<WsHandler>(Worker& worker, const HttpRequest&, HttpResponse& reject)>;
// Sends the answer to one HTTP request. Call it exactly once, from any thread.
using HttpReply = std::function<void(HttpResponse)>;
// Handles a plain HTTP request. Runs on a worker thread and must not block; an answer that waits
// for something (a history write) is given later through `reply`.
using HttpHandler = std::function<void(const HttpRequest&, HttpReply reply)>;
// Looks at a request's head (no body yet) and returns a sink to stream its body into, or nullptr
// to have the body read whole and handed to the HttpHandler as usual.
using BodyStreamHandler = std::function<std::unique_ptr<BodySink>(const HttpRequest& head)>;

// Decides whether a GET is a long-lived streamed response (SSE, NDJSON: event_stream.hpp). Called
// with `head.status` 0 for every GET that is not an upgrade, on the worker that will own the
// stream. Returns the stream's handler after filling `head` (status, content type, headers, no
// body); or nullptr, leaving `head.status` 0 for "not a stream" (the HttpHandler answers it) or
// with the refusal to send instead.
using EventStreamOpener =
    std::function<std::unique_ptr<EventStreamHandler>(Worker& worker, const HttpRequest&, HttpResponse& head)>;

// A request or connection transport refuses by itself (framing and size rules, the HTTP
// connection caps, a malformed upgrade, shutting down, out of descriptors): the status and the
// error's code and message, our own constants.
struct Refusal {
  int status = 400;
  std::string_view code = "INVALID_MESSAGE";
  std::string_view message;
  bool retryable = false;
};
// Renders a refusal as the answer the layer above gives for its own errors (transport knows no
// JSON). Any thread; must not block. When the server is given none, refusals are plain text.
using RefusalRenderer = std::function<HttpResponse(const Refusal&)>;

// Counts HTTP connections (before the upgrade) in total and per remote address, across workers.
// Taken once per accepted connection and given back when the connection closes or upgrades, so
// the mutex is off the message path.
class HttpConnectionGate {
 public:
  HttpConnectionGate(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // A place taken; released when destroyed or by release(). Move-only.
  class Slot {
   public:
    Slot() = default;
    Slot(HttpConnectionGate* gate, std::string address) : gate_(gate), address_(std::move(address)) {}
    Slot(Slot&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)), address_(std::move(o.address_)) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        gate_ = std::exchange(o.gate_, nullptr);
        address_ = std::move(o.address_);
      }
      return *this;
    }
    ~Slot() { release(); }
    void release() {
      if (gate_) std::exchange(gate_, nullptr)->give_back(address_);
    }

   private:
    HttpConnectionGate* gate_ = nullptr;
    std::string address_;
  };

  // A slot, or an empty one with `full` set when a cap is reached. Any thread.
  Slot admit(const std::string& address, bool& full);
  std::size_t open() const;

 private:
  void give_back(const std::string& address);

  const std::size_t max_total_;
  const std::size_t max_per_address_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// References to the Server's handlers, for its sessions (they live as long as the Server).
struct HttpHandlers {
  const UpgradeHandler& on_upgrade;
  const HttpHandler& on_http;
  const BodyStreamHandler& on_body;  // may be empty
  const RefusalRenderer& render_refusal;  // never empty
  const EventStreamOpener& on_event_stream;  // may be empty
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;  // 0 picks a free port; read it back with port()
  std::size_t threads = 1;
  Limits limits;
  // When set, every connection on the port speaks TLS (https:// and wss://).
  std::shared_ptr<class TlsContext> tls;
};

class Server {
 public:
  Server(ServerOptions options, UpgradeHandler on_upgrade, HttpHandler on_http, BodyStreamHandler on_body = {},
         RefusalRenderer render_refusal = {});
  ~Server();

  // Binds and listens; throws std::system_error when the address is taken or invalid.
  void listen();
  std::uint16_t port() const noexcept { return port_; }
  // Runs the workers on their own threads; returns at once.
  void start();
  // Blocks until every worker has stopped.
  void join();
  // Graceful stop, from any thread: stop accepting, close every client with 1001 (their queued
  // frames go first), then stop the workers once all are closed or after close_timeout.
  void stop();
  // Stops the worker threads at once (no closing handshake) and joins them; the io_contexts stay
  // valid, for posts, until the Server is destroyed.
  void halt();

  std::size_t worker_count() const noexcept { return workers_.size(); }
  Worker& worker(std::size_t i) { return *workers_[i]; }
  // HTTP connections open now (not yet upgraded).
  std::size_t http_connections() const { return gate_->open(); }
  // Before listen(): which GETs become streamed responses (none without it).
  void set_event_stream_opener(EventStreamOpener opener) { on_event_stream_ = std::move(opener); }
  const Worker& worker(std::size_t i) const { return *workers_[i]; }

 private:
  struct Acceptor;
  void accept();

  ServerOptions options_;
  UpgradeHandler on_upgrade_;
  HttpHandler on_http_;
  BodyStreamHandler on_body_;
  RefusalRenderer render_refusal_;
  EventStreamOpener on_event_stream_;
  HttpHandlers handlers_{on_upgrade_, on_http_, on_body_, render_refusal_, on_event_stream_};
  // Before the workers: sessions destroyed with a worker's io_context give their slot back.
  std::unique_ptr<HttpConnectionGate> gate_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Acceptor> acceptor_;  // runs on worker 0
  std::size_t next_worker_ = 0;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  // Out of descriptors: a spare one (on /dev/null) is closed to accept and answer a waiting
  // connection, then taken again. The warning is logged once a minute with the count.
  int spare_fd_ = -1;
  std::string out_of_descriptors_reply_;  // the whole 503, rendered once: sent without allocating
  std::uint64_t refused_since_warning_ = 0;
  std::chrono::steady_clock::time_point last_fd_warning_{};
  // Apart: a failed accept (no spare could help this time) must not silence the report of
  // the connections shed once the spare works again.
  std::chrono::steady_clock::time_point last_accept_warning_{};
  bool shed_backlog();
};

}  // namespace sb::transport
