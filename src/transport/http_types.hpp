#pragma once
// The HTTP request and response as the layers above transport see them: plain strings, so that
// only transport compiles Beast's HTTP parser.
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::transport {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote_address;  // peer IP, without port
  // From this machine, and not relayed by a proxy (no X-Forwarded-For, Forwarded or X-Real-IP).
  bool remote_is_loopback = false;
  // The worker the request arrived on. A reply given on it is written at once; from any other
  // thread it is posted there. Pass it as the executor of work that completes elsewhere
  // (Hub::publish), so the reply comes back on it without a second post.
  boost::asio::any_io_executor executor;

  // The value of a header (case-insensitive name), or empty.
  std::string_view header(std::string_view name) const;
  std::string_view path() const;   // target up to '?'
  std::string_view query() const;  // target after '?', or empty
  // The percent-decoded value of one query parameter, or nullopt-like empty with found=false.
  bool query_param(std::string_view name, std::string& value) const;
  // Every percent-decoded value of a repeated parameter (`?channel=a&channel=b`), in order.
  std::vector<std::string> query_params(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Receives the body of one HTTP request piece by piece, as it arrives (a backend piping an LLM's
// tokens through one long request). Called on the session's worker thread.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void on_data(std::string_view bytes) = 0;
  // The whole body arrived: answer through `reply` (callable once, from any thread).
  virtual void on_end(std::function<void(HttpResponse)> reply) = 0;
  // The client went away or timed out before the end.
  virtual void on_abort() {}
};

bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace sb::transport
