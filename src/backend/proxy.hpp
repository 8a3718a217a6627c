#pragma once
// Proxies to the app's backend (docs/backend.md#proxies): the connect, refresh, subscribe,
// publish and rpc hooks, each an HTTP POST of a JSON body to a configured URL, answered by a
// JSON object holding exactly one of `result`, `error` or `disconnect`.
//
// One transport::HttpClient per worker: a client's calls go out and complete on its own worker,
// with no lock. The session layer builds the bodies (backend/proxy_wire.hpp) and acts on the
// answers; this class only sends, checks the answer's shape, and logs failures.
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "transport/http_client.hpp"

namespace sb::backend {

// Per-namespace URLs, overriding [proxy] subscribe_url and publish_url.
struct NamespaceProxyUrls {
  std::string subscribe_url;
  std::string publish_url;
};

// The [proxy] section of the configuration (docs/configuration.md#proxy).
struct ProxyConfig {
  std::string connect_url, refresh_url, rpc_url, subscribe_url, publish_url;
  // Headers of the WebSocket upgrade request copied into every call of the connection: names,
  // case-insensitive; a name ending in `*` is a prefix ("X-*").
  std::vector<std::string> headers{"Cookie", "Authorization"};
  // timeout (3 s: a user waits on each call), max_in_flight, max_queued, max_response_bytes
  // (64 KiB: a proxy answer is small), ca_file.
  transport::HttpClientOptions http = [] {
    transport::HttpClientOptions o;
    o.timeout = std::chrono::milliseconds(3000);
    o.max_response_bytes = 64 * 1024;
    return o;
  }();
  std::map<std::string, NamespaceProxyUrls, std::less<>> namespaces;

  bool any() const {
    return !connect_url.empty() || !refresh_url.empty() || !rpc_url.empty() || !subscribe_url.empty() ||
           !publish_url.empty() || !namespaces.empty();
  }
};

enum class Hook { connect, refresh, subscribe, publish, rpc };
std::string_view hook_name(Hook hook) noexcept;

// A well-formed answer of the backend.
struct ProxyAnswer {
  enum class Kind { result, error, disconnect };
  Kind kind = Kind::result;
  boost::json::value result;  // Kind::result: the `result` value
  // Kind::error: the app's own code (^[A-Z][A-Z0-9_]{0,63}$, else BACKEND_ERROR) and message.
  std::string code, message;
  // Kind::disconnect: a close code from 4000 to 4999 and its reason (at most 123 bytes).
  std::uint16_t close_code = 0;
  std::string reason;
};

// A call that failed comes back as an Error: BACKEND_UNAVAILABLE (unreachable, timed out, too
// many calls in flight to the target) or BACKEND_ERROR (a status other than 200, a body that is
// not JSON, or not an object with exactly one of result, error, disconnect of the right types).
using ProxyCompletion = std::function<void(Result<ProxyAnswer>)>;

// Checks a backend's answer body (status 200). Pure: tested alone.
Result<ProxyAnswer> parse_answer(std::string_view body);

class Proxy {
 public:
  // `workers[i]` is worker i's io_context; a client on worker i calls with shard i. Throws
  // std::runtime_error when the CA file cannot be loaded.
  Proxy(ProxyConfig config, const std::vector<boost::asio::io_context*>& workers);
  ~Proxy();

  const ProxyConfig& config() const noexcept { return config_; }
  const std::string& subscribe_url(std::string_view ns) const;
  const std::string& publish_url(std::string_view ns) const;
  // Whether an upgrade request's header `name` is passed on to the backend.
  bool passes_header(std::string_view name) const;

  // POSTs `body` (JSON) with `headers` (the connection's, chosen by passes_header) to `url`, from
  // worker `shard`'s thread, which must be the calling one; `done` runs there later. Failures are
  // logged as warnings naming the hook and the URL, at most one line per hook every 10 s.
  void call(std::size_t shard, Hook hook, const std::string& url, std::string body,
            const transport::HttpHeaders& headers, ProxyCompletion done);

 private:
  void warn(Hook hook, const std::string& url, const std::string& why);

  ProxyConfig config_;
  std::vector<std::unique_ptr<transport::HttpClient>> clients_;  // one per worker
  // Per hook: when the last warning was logged (steady ms), and failures not logged since.
  std::array<std::atomic<std::int64_t>, 5> last_warned_{};
  std::array<std::atomic<std::uint64_t>, 5> unlogged_{};
};

}  // namespace sb::backend
