#pragma once
// The server's configuration: embedded defaults, then a TOML file, then SWITCHBOARD_* environment
// variables, then command-line flags, each overriding the one before (docs/configuration.md).
// Startup code: errors throw ConfigError naming the offending key.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/webhook_options.hpp"
#include "backend/proxy.hpp"
#include "core/namespaces.hpp"
#include "transport/limits.hpp"

namespace sb::server {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& key, const std::string& problem)
      : std::runtime_error("config: " + key + ": " + problem), key_(key) {}
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

struct Config {
  std::string listen = "0.0.0.0:8080";
  std::string data_dir = "./data";
  std::vector<std::string> api_keys;  // none: the HTTP API answers on loopback only
  std::vector<std::string> api_key_names;  // parallel to api_keys when named; else generated
  std::size_t threads = 0;            // 0: one per core
  std::string log_level = "info";     // trace, debug, info, warn, error, off
  std::string log_format = "text";    // text or json
  // TLS on the listening port (both or neither): PEM certificate chain and private key.
  std::string tls_cert;
  std::string tls_key;
  // Built web pages (dashboard/, demo/). Default: the source tree's web/dist at build time.
  std::string web_root = SWITCHBOARD_DEFAULT_WEB_ROOT;
  // Serve /echo (transport/echo_handler.hpp): a test aid for WebSocket conformance suites. Off by
  // default: it accepts anyone, with no token, origin check or connection cap.
  bool echo_endpoint = false;
  // The paths an upgrade may ask for to speak the native protocol: /ws, and aliases for apps
  // whose client code names its own endpoint (`/ws/dashboard`). Checked by validate().
  std::vector<std::string> websocket_paths{"/ws"};
  transport::Limits limits;
  std::size_t max_subscriptions = 1000;
  // Channels the hub holds state for at once (with subscribers, or messages on their way to the
  // history store). A channel costs about 350 bytes here: 1,000,000 keeps the table under
  // ~350 MB, and is far above what one node serves (max_subscriptions per connection spread over
  // real users), while a client cycling through random names is stopped.
  std::size_t max_channels = 1'000'000;
  // Payload bytes one history answer (GET /api/history, WebSocket `history`) holds at most; the
  // rest is another page (`next`). 4 MiB holds the default 100 messages of up to 40 KiB each;
  // ten readers at once then cost tens of MB, not the gigabyte unbounded pages did.
  std::size_t max_history_response_bytes = 4 * 1024 * 1024;
  // Free bytes held by the allocator (after a flood of channels, history pages or send queues)
  // above which the server hands them back to the OS (malloc_trim; limits.trim_memory_after).
  // glibc keeps what a burst freed, so the process would stay at its peak. 8 MiB: at steady
  // state the free pages are reused at once and stay below it; 0 never trims.
  std::size_t trim_memory_after = 8 * 1024 * 1024;
  // A typing indicator not renewed within this time is ended by the server (limits.typing_timeout).
  std::chrono::seconds typing_timeout{5};
  // A connection that sends nothing but keepalives (pings, pongs, JSON `ping`) for this long is
  // closed with 4008 (limits.idle_timeout). 0, the default: never, as before the key existed.
  std::chrono::seconds idle_timeout{0};
  // An SSE or NDJSON stream (docs/sse.md) with nothing to send for this long gets a keep-alive
  // (an SSE comment, an empty NDJSON line), so that proxies with a 30-60 s idle cut keep it.
  std::chrono::seconds stream_heartbeat_interval{15};
  // [auth] (docs/security.md)
  std::string jwt_secret;              // HS256/384/512 shared secret, at least 32 bytes
  std::string jwt_public_key;          // path of a PEM public key (RS*/ES*)
  std::string jwks_file;               // path of a JWKS file (several keys, chosen by kid)
  std::chrono::seconds jwt_leeway{5};  // clock skew allowed on exp/nbf
  // Who may connect without a token: "loopback" (clients on this machine: the dev default),
  // "always" or "never".
  std::string anonymous = "loopback";
  // Origins allowed to open WebSockets from a browser, besides the server's own host: exact
  // ("https://app.example.com") or a wildcard subdomain ("https://*.example.com"). Empty: the
  // same host and localhost only.
  std::vector<std::string> allowed_origins;
  // Host names this server is reached by, besides localhost, 127.0.0.0/8 and [::1]: exact
  // ("chat.example.com") or a wildcard subdomain ("*.example.com"), without the port. Loopback
  // trust (no API key, anonymous = "loopback") and the same-host origin rule hold only for these,
  // so that a page under a rebound DNS name (evil.test -> 127.0.0.1) gets neither. Empty: the
  // loopback names only.
  std::vector<std::string> allowed_hosts;
  // [limits] admission and rates (session/limits.hpp)
  std::size_t max_connections = 1'000'000;
  std::size_t max_connections_per_ip = 10'000;
  double rate_per_connection = 1000;
  double rate_burst = 2000;
  double rate_per_user = 2000;
  double rate_user_burst = 4000;
  // WebSocket frames of any kind per connection (limits.frame_rate, frame_burst); 0: four times
  // rate_per_connection and rate_burst, so that only a peer far beyond its request budget, or
  // one sending frames that are no requests (pings, fragments), meets it.
  double frame_rate = 0;
  double frame_burst = 0;
  // [streams]: see session/streams.hpp.
  std::chrono::seconds stream_idle_timeout{60};
  std::string stream_cancel_url;
  std::string stream_cancel_secret;
  // [proxy]: the app's backend's connect, refresh, subscribe, publish and rpc hooks (docs/backend.md),
  // with the per-namespace URLs of [namespaces.*] subscribe_proxy_url / publish_proxy_url.
  backend::ProxyConfig proxy;
  std::size_t max_streams = 1000;                     // see session::StreamOptions
  std::size_t max_stream_bytes = 1024 * 1024;
  std::size_t max_stream_total_bytes = 64 * 1024 * 1024;
  // [webhooks]: events POSTed to the app's backend (backend/webhook_options.hpp); no URL: none.
  backend::WebhookOptions webhooks;
  // Channels without a namespace. Client publish is on so that a chat works out of the box;
  // turn it off when only the backend publishes.
  core::NamespaceOptions default_namespace{"", true};
  std::vector<core::NamespaceOptions> namespaces;
  // Where namespaces with history keep it: "sqlite" (data_dir/history.db) or "memory".
  std::string history_engine = "sqlite";
  // sqlite: fsync every commit (survives a machine crash, slower). Off: a commit survives the
  // process being killed, not the machine losing power.
  bool history_fsync = false;
  // Threads that read history for the network threads (core/history_readers.hpp), and reads
  // that may wait for them before one is refused (UNAVAILABLE). Two readers leave the cores to
  // the workers; 64 waiting reads is at most 64 × max_history_response_bytes of answers in flight.
  std::size_t history_readers = 2;
  std::size_t history_read_queue = 64;
  // [cluster]: several nodes sharing channels through Redis (docs/scaling.md). "memory": this
  // node alone, with history in history_engine. "redis": offsets, history and presence in Redis.
  std::string broker = "memory";
  std::vector<std::string> redis_urls;  // redis_url, or redis_urls to shard channels over several
  std::string redis_prefix = "sb";      // of keys and pub/sub channels: clusters may share a Redis
  std::string node_name;                // empty: a random id per process
  std::chrono::milliseconds redis_timeout{1000};
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds node_timeout{5000};
  std::chrono::seconds channel_ttl{30 * 24 * 3600};  // a channel's epoch and offset outlive its last message this long

  // host and port of `listen`; throws ConfigError("listen", ...) when malformed.
  std::string listen_host() const;
  std::uint16_t listen_port() const;
};

// What the command line set; unset fields leave the file and environment values in place.
struct ConfigOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::vector<std::string> api_keys;
  std::optional<std::size_t> threads;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<bool> echo_endpoint;
};

// Reads a TOML file into `config`. Unknown keys are errors: a typo must not be silently ignored.
void apply_config_file(Config& config, const std::string& path);
// Same, from TOML text (tests, and the example file's check).
void apply_config_text(Config& config, const std::string& toml_text, const std::string& source_name);
// SWITCHBOARD_LISTEN, SWITCHBOARD_DATA_DIR, SWITCHBOARD_API_KEYS (comma-separated),
// SWITCHBOARD_THREADS, SWITCHBOARD_LOG_LEVEL, SWITCHBOARD_LOG_FORMAT.
void apply_environment(Config& config, const std::map<std::string, std::string>& environment);
void apply_overrides(Config& config, const ConfigOverrides& overrides);
// Checks values that each layer could have set; throws ConfigError.
void validate(const Config& config);

std::map<std::string, std::string> process_environment();

}  // namespace sb::server
