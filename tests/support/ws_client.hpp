#pragma once
// A small C++ client for Switchboard's native protocol: connect, subscribe, publish, receive.
// Used by the integration tests and examples; built on Beast's WebSocket client, an
// implementation independent of the server's own framing. Thread-safe: frames are read on an
// I/O thread (one per IoThread, shareable by many clients) and queued for receive().
#include <boost/json/object.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sb::client {

// An io_context and the thread that runs it.
class IoThread {
 public:
  IoThread();
  ~IoThread();
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class WsClient {
 public:
  // Connects to ws://host:port/path and waits for the `connected` frame (available as greeting()).
  // Throws std::runtime_error on failure.
  static std::unique_ptr<WsClient> connect(const std::string& host, std::uint16_t port, const std::string& path = "/ws",
                                           std::shared_ptr<IoThread> io = nullptr);
  ~WsClient();

  const boost::json::object& greeting() const noexcept { return greeting_; }
  const std::string& client_id() const noexcept { return client_id_; }

  void send_text(std::string_view text);
  void send_json(const boost::json::object& frame);
  // The next frame, parsed; nullopt on timeout or once the connection is closed.
  std::optional<boost::json::object> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The next frame of `type` (others received before it are dropped); nullopt on timeout.
  std::optional<boost::json::object> receive_type(std::string_view type,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends `frame` with a fresh id and returns the reply with that id (frames received meanwhile
  // stay queued for receive()). nullopt on timeout.
  std::optional<boost::json::object> request(boost::json::object frame,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // What a request came to: its reply's type ("subscribed", ...), the code of an error reply
  // ("PERMISSION_DENIED", ...), or "no reply" on timeout.
  std::string reply_code(boost::json::object frame);

  // Convenience: subscribe / publish and check the reply; throw std::runtime_error on an error reply.
  void subscribe(const std::string& channel);
  std::uint64_t publish(const std::string& channel, const boost::json::value& data);

  // Close initiated by the client (code 1000) and wait for the server's answer.
  void close();
  // Waits until the server closed the connection; returns its close code, or nullopt on timeout.
  std::optional<int> wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool closed() const;
  std::size_t queued() const;

  struct Impl;

 private:
  explicit WsClient(std::shared_ptr<IoThread> io);
  std::shared_ptr<IoThread> io_;
  std::shared_ptr<Impl> impl_;
  boost::json::object greeting_;
  std::string client_id_;
  std::uint64_t next_id_ = 1;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string header(std::string_view name) const;
  std::vector<std::pair<std::string, std::string>> headers;
};

// One HTTP/1.1 request on a fresh connection. Throws std::runtime_error when the server is unreachable.
HttpResult http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace sb::client
