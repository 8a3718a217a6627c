#pragma once
// Outgoing HTTP/1.1 requests (the app's backend: proxies and webhooks), over http:// and https://,
// with keep-alive connection pools per target (scheme, host and port).
//
// One HttpClient per worker io_context: every call, and every completion, runs on that context's
// thread, so the pools need no lock. Not thread-safe.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace sb::transport {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpClientOptions {
  // Connect, TLS handshake, write and read of one request, all together. 5 s: a backend slower
  // than that is broken for an interactive user.
  std::chrono::milliseconds timeout{5000};
  // Requests in flight per target at once; more wait in a queue of `max_queued`, beyond which a
  // request fails at once (LIMIT_EXCEEDED). Bounds the sockets and memory one slow backend takes.
  std::size_t max_in_flight = 64;
  std::size_t max_queued = 256;
  // Largest response body read: a backend answering more fails the request (MESSAGE_TOO_LARGE)
  // instead of growing memory. 1 MiB covers any proxy answer.
  std::size_t max_response_bytes = 1024 * 1024;
  // An idle pooled connection older than this is closed rather than reused.
  std::chrono::milliseconds idle_timeout{30000};
  // https:// peers are verified against the system's CAs, and this PEM file too when not empty
  // (a self-signed backend, tests).
  std::string ca_file;
};

struct HttpCall {
  std::string method = "POST";
  std::string url;  // http://host[:port]/path or https://...
  HttpHeaders headers;
  std::string body;  // sent with Content-Length (also when empty, for POST)
};

struct HttpClientResponse {
  unsigned status = 0;
  HttpHeaders headers;
  std::string body;
};

// What a request's failure says, in its Error's code:
//   UNAVAILABLE        the target could not be reached (resolve, refused, TLS handshake or
//                      certificate, connection closed before the answer)
//   TIMEOUT            no complete answer within `timeout`
//   LIMIT_EXCEEDED     max_in_flight and max_queued are used up for this target
//   MESSAGE_TOO_LARGE  the response body is above max_response_bytes
//   SERVER_ERROR       the answer is not HTTP (garbage), or the connection closed mid-answer
//   INVALID_MESSAGE    the URL is not http:// or https://
// Any HTTP status is a success here: the caller judges the status.
using HttpCompletion = std::function<void(Result<HttpClientResponse>)>;

class HttpClient {
 public:
  // Throws std::runtime_error when ca_file cannot be loaded.
  HttpClient(boost::asio::io_context& context, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `call`; `done` runs later on the context's thread, never inside this call, exactly once
  // (unless the context is stopped and destroyed first). A pooled connection found closed by the
  // peer is replaced and the request sent once more, only when nothing of an answer was read.
  void request(HttpCall call, HttpCompletion done);

  // Connections opened so far (tests: keep-alive reuse).
  std::size_t connections_opened() const;
  const HttpClientOptions& options() const;
  boost::asio::io_context& context() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

struct WebhookRequest {
  std::string url;  // http:// or https://
  std::string body;
  HttpHeaders headers;
  int attempts = 5;                             // the first try included
  std::chrono::milliseconds first_backoff{500};  // doubled after each failure
};

// Sends `request` (POST, application/json) through `client`, retried with exponential backoff;
// `done(true)` once a 2xx answer came back, `done(false)` after the last attempt failed
// (connection error, timeout or a non-2xx status). `client` must outlive the retries.
void post_webhook(HttpClient& client, WebhookRequest request, std::function<void(bool)> done = {});
// The same through a client of its own (no pooling across calls), on `context`'s thread.
void post_webhook(boost::asio::io_context& context, WebhookRequest request, std::function<void(bool)> done = {});

struct ParsedUrl {
  bool tls = false;
  std::string host, port, target;
};
// Splits an http:// or https:// URL; false when it is neither.
bool parse_url(const std::string& url, ParsedUrl& out);
// Splits an http:// URL; false when it is not one.
bool parse_http_url(const std::string& url, std::string& host, std::string& port, std::string& target);

}  // namespace sb::transport
