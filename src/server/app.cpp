#include "server/app.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "api/error_response.hpp"
#include "api/metrics.hpp"
#include "common/memory.hpp"
#include "common/random.hpp"
#include "storage/memory_history.hpp"
#include "storage/sqlite_history.hpp"
#include "transport/echo_handler.hpp"
#include "transport/http_client.hpp"
#include "transport/tls.hpp"

namespace sb::server {

std::vector<auth::JwtKey> load_jwt_keys(const Config& config) {
  std::vector<auth::JwtKey> keys;
  try {
    if (!config.jwt_secret.empty()) keys.push_back(auth::key_from_secret(config.jwt_secret));
    if (!config.jwt_public_key.empty()) keys.push_back(auth::key_from_pem_file(config.jwt_public_key));
    if (!config.jwks_file.empty())
      for (auto& k : auth::keys_from_jwks_file(config.jwks_file)) keys.push_back(std::move(k));
  } catch (const std::runtime_error& e) {
    throw ConfigError("auth", e.what());
  }
  return keys;
}

std::shared_ptr<transport::TlsContext> load_tls(const Config& config) {
  if (config.tls_cert.empty()) return nullptr;
  try {
    return std::make_shared<transport::TlsContext>(config.tls_cert, config.tls_key);
  } catch (const std::runtime_error& e) {
    throw ConfigError("tls_cert", e.what());
  }
}

namespace {

// [auth] anonymous, which validate() has checked.
session::AnonymousAccess anonymous_access(const std::string& setting) {
  if (setting == "always") return session::AnonymousAccess::always;
  if (setting == "loopback") return session::AnonymousAccess::loopback;
  return session::AnonymousAccess::never;
}

// The 404 of an upgrade to another path: "WebSocket endpoint is /ws" with the default paths.
std::string unknown_websocket_path_message(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return "WebSocket endpoint is " + paths.front();
  return fmt::format("WebSocket endpoints are {}", fmt::join(paths, ", "));
}

}  // namespace

App::App(Config config)
    : config_(std::move(config)), namespaces_(config_.default_namespace), keys_(config_.api_keys, config_.api_key_names), web_(config_.web_root),
      origins_(config_.allowed_origins, config_.allowed_hosts),
      admission_(config_.max_connections, config_.max_connections_per_ip,
                 session::RateLimits{config_.rate_per_connection, config_.rate_burst, config_.rate_per_user,
                                     config_.rate_user_burst}) {
  validate(config_);
  verifier_ = auth::JwtVerifier(load_jwt_keys(config_), config_.jwt_leeway);
  for (const auto& ns : config_.namespaces) namespaces_.add(ns);
  make_server();
  lock_data_dir();
  make_broker();
  make_history();
  make_hub();
  make_webhooks();
  make_streams();
  make_sessions();
  make_api();
  connect_broker();
}

void App::make_server() {
  transport::ServerOptions options;
  options.host = config_.listen_host();
  options.port = config_.listen_port();
  options.threads = config_.threads ? config_.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 64u);
  options.limits = config_.limits;
  options.limits.frame_rate = config_.frame_rate > 0 ? config_.frame_rate : 4 * config_.rate_per_connection;
  options.limits.frame_burst = config_.frame_burst > 0 ? config_.frame_burst : 4 * config_.rate_burst;
  options.tls = load_tls(config_);
  server_ = std::make_unique<transport::Server>(
      options,
      [this](transport::Worker& w, const transport::HttpRequest& r, transport::HttpResponse& reject) {
        return on_upgrade(w, r, reject);
      },
      [this](const transport::HttpRequest& r, transport::HttpReply reply) { api_->handle(r, std::move(reply)); },
      [this](const transport::HttpRequest& head) { return api_->body_stream(head); }, api::refusal_response);
  server_->set_event_stream_opener(
      [this](transport::Worker& w, const transport::HttpRequest& r, transport::HttpResponse& head) {
        return on_event_stream(w, r, head);
      });
}

// Two servers on one data dir would hand out the same offsets: the second one does not start.
void App::lock_data_dir() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) throw ConfigError("data_dir", "cannot create '" + config_.data_dir + "': " + ec.message());
  const std::string lock_path = config_.data_dir + "/switchboard.lock";
  data_dir_lock_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (data_dir_lock_ < 0 || ::flock(data_dir_lock_, LOCK_EX | LOCK_NB) != 0) {
    if (data_dir_lock_ >= 0) ::close(data_dir_lock_);
    throw std::runtime_error("data_dir '" + config_.data_dir + "' is in use by another switchboard process");
  }
}

void App::make_broker() {
  if (config_.broker == "redis") {
    broker::RedisBrokerOptions options;
    for (const auto& url : config_.redis_urls) options.redis.push_back(*broker::parse_redis_url(url));
    options.prefix = config_.redis_prefix;
    // A per-process suffix: a node restarted under the same name within node_timeout is a new
    // node, and the members its previous process left are removed (with their leave) as the
    // dead node's.
    options.node_id = (config_.node_name.empty() ? std::string() : config_.node_name + "-") + random_hex(config_.node_name.empty() ? 6 : 3);
    options.timeout = config_.redis_timeout;
    options.heartbeat = config_.heartbeat_interval;
    options.node_timeout = config_.node_timeout;
    options.meta_ttl = config_.channel_ttl;
    broker_ = std::make_unique<broker::RedisBroker>(std::move(options));
  }
}

void App::make_history() {
  // In a cluster, history lives in Redis with the offsets.
  bool any_history = !broker_ && config_.default_namespace.history.enabled();
  for (const auto& ns : config_.namespaces) any_history |= !broker_ && ns.history.enabled();
  if (!any_history) return;
  if (config_.history_engine == "memory") {
    history_ = std::make_unique<storage::MemoryHistory>();
    return;
  }
  try {  // lock_data_dir() created the directory
    history_ = std::make_unique<storage::SqliteHistory>(config_.data_dir + "/history.db", config_.history_fsync);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("cannot use the history database: ") + e.what());
  }
}

// The hub, and the threads that read history through it.
void App::make_hub() {
  std::vector<boost::asio::io_context*> shards;
  for (std::size_t i = 0; i < server_->worker_count(); ++i) shards.push_back(&server_->worker(i).context());
  // Half the send queue: the rest stays for live traffic during the recovery.
  // Without Redis, this node is its own broker.
  if (!broker_) local_broker_ = std::make_unique<core::LocalBroker>(history_.get(), config_.max_channels);
  core::Broker& broker = broker_ ? static_cast<core::Broker&>(*broker_) : *local_broker_;
  hub_ = std::make_unique<core::Hub>(std::move(shards), encoder_, broker, config_.limits.max_send_queue / 2,
                                     config_.max_channels);
  history_readers_ = std::make_unique<core::HistoryReaders>(config_.history_readers, config_.history_read_queue);
}

// The app's webhooks, when [webhooks] names a target: told by the hub (channels, presence), the
// sessions and the streams. They and the first cancel webhook ([streams] cancel_url) send from
// worker 0 through one pooled HTTP client (keep-alive, https verified with [webhooks] ca_file).
void App::make_webhooks() {
  const auto& delivery = config_.webhooks.delivery;
  if (delivery.urls.empty() && config_.stream_cancel_url.empty()) return;
  transport::HttpClientOptions options;
  options.timeout = delivery.timeout;
  options.ca_file = delivery.ca_file;
  try {
    webhook_client_ = std::make_unique<transport::HttpClient>(server_->worker(0).context(), options);
  } catch (const std::exception& e) {
    throw ConfigError("webhooks.ca_file", e.what());
  }
  if (delivery.urls.empty()) return;
  // One attempt per call: the dispatcher retries, with its own backoff, and bounds each attempt
  // by webhooks.timeout_ms.
  webhooks_ = std::make_unique<backend::Webhooks>(
      server_->worker(0).context(), config_.webhooks,
      [client = webhook_client_.get()](std::string url, std::string body, backend::Headers headers,
                                       std::function<void(bool)> done) {
        transport::WebhookRequest request{std::move(url), std::move(body), std::move(headers)};
        request.attempts = 1;
        transport::post_webhook(*client, std::move(request), std::move(done));
      });
  hub_->set_channel_events(webhooks_.get());
}

void App::make_streams() {
  session::StreamOptions stream_options{config_.stream_idle_timeout, config_.stream_cancel_url,
                                       config_.stream_cancel_secret};
  stream_options.max_streams = config_.max_streams;
  stream_options.max_stream_bytes = config_.max_stream_bytes;
  stream_options.max_total_bytes = config_.max_stream_total_bytes;
  streams_ = std::make_unique<session::Streams>(
      *hub_, namespaces_, stream_options,
      [client = webhook_client_.get()](const std::string& url, std::string body,
                                       std::vector<std::pair<std::string, std::string>> headers) {
        if (client) transport::post_webhook(*client, transport::WebhookRequest{url, std::move(body), std::move(headers)});
      },
      webhooks_.get());
}

void App::make_sessions() {
  if (config_.proxy.any()) {
    std::vector<boost::asio::io_context*> workers;
    for (std::size_t i = 0; i < server_->worker_count(); ++i) workers.push_back(&server_->worker(i).context());
    proxy_ = std::make_unique<backend::Proxy>(config_.proxy, workers);
  }
  client_services_ = std::make_unique<session::ClientServices>(session::ClientServices{
      *hub_, namespaces_, registry_, static_cast<int>(config_.limits.ping_interval.count()), config_.max_subscriptions,
      static_cast<std::uint32_t>(config_.typing_timeout.count()), streams_.get(),
      verifier_.empty() ? nullptr : &verifier_, &admission_, /*refresh_before_seconds=*/30,
      /*token_leeway_seconds=*/static_cast<std::int64_t>(config_.jwt_leeway.count()), /*auth_timeout_seconds=*/10,
      history_readers_.get(), config_.max_history_response_bytes,
      static_cast<std::uint32_t>(
          std::min<std::int64_t>(config_.idle_timeout.count(), std::numeric_limits<std::uint32_t>::max())),
      webhooks_.get(), proxy_.get()});
  client_services_->stream_heartbeat_seconds = static_cast<std::uint32_t>(
      std::min<std::int64_t>(config_.stream_heartbeat_interval.count(), std::numeric_limits<std::uint32_t>::max()));
  upgrade_gate_ =
      std::make_unique<session::UpgradeGate>(*client_services_, origins_, anonymous_access(config_.anonymous));
}

void App::make_api() {
  api_ = std::make_unique<api::HttpApi>(
      api::HttpApi::Dependencies{*hub_, namespaces_, registry_, keys_, [this] { return stats(); }, *streams_, web_,
                                 origins_, broker_.get(), history_readers_.get(), config_.max_history_response_bytes,
                                 config_.websocket_paths});
}

// What the broker asks of this node, and what it tells it.
void App::connect_broker() {
  if (broker_) {
    broker_->set_answerer([this](core::ClusterQuestion question, std::string_view argument) {
      return api_->answer(question, argument);
    });
    // The node that found a dead one says goodbye for its members, once, on every node.
    broker_->set_member_lost([this](const std::string& channel, const core::Member& member) {
      auto ns = namespaces_.find(channel);
      if (ns && (*ns)->join_leave) hub_->relay(channel, make_shared_bytes(protocol::native::encode_leave(channel, member)));
    });
    broker_->set_node_info([this] {
      return api::node_info_json(stats(), config_.listen_host() + ":" + std::to_string(server_->port()));
    });
  }
}

App::~App() {
  // Worker threads first (they run sessions that point into everything else), but keep their
  // io_contexts: the streams' expirer and the hub's history writer still post to them while they
  // finish. Then the io_contexts, with whatever is left in them.
  server_->halt();
  trim_timer_.reset();
  history_readers_.reset();  // runs the reads still queued: they use the hub
  streams_.reset();
  // The broker calls into the hub from its thread: it stops first, after sending what the
  // closing sessions queued (leaves, presence removals).
  if (broker_) broker_->stop();
  hub_.reset();
  webhooks_.reset();  // before the io_context its timers are on
  webhook_client_.reset();  // its pooled sockets too
  // Its pooled sockets belong to the workers' io_contexts: closed before those go.
  proxy_.reset();
  server_.reset();
  if (data_dir_lock_ >= 0) ::close(data_dir_lock_);
}

void App::start() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) throw ConfigError("data_dir", "cannot create '" + config_.data_dir + "': " + ec.message());
  server_->listen();
  if (broker_) broker_->start();
  server_->start();
  trim_timer_ = std::make_unique<boost::asio::steady_timer>(server_->worker(0).context());
  if (config_.trim_memory_after > 0) schedule_trim();  // 0: never trims
  if (keys_.empty()) spdlog::warn("no API key configured: the HTTP API answers on loopback only");
  spdlog::info("switchboard listening on {}:{} ({}) with {} threads", config_.listen_host(), server_->port(),
               config_.tls_cert.empty() ? "ws, http" : "wss, https", server_->worker_count());
  if (broker_) {
    // Host and port only: a URL may carry the password.
    std::vector<std::string> where;
    for (const auto& url : config_.redis_urls) {
      auto a = *broker::parse_redis_url(url);
      const bool ipv6 = a.host.find(':') != std::string::npos;
      where.push_back((ipv6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port));
    }
    spdlog::info("cluster node {} on redis {} (prefix '{}')", broker_->node_id(), fmt::join(where, ", "),
                 config_.redis_prefix);
  }
}

void App::schedule_trim() {
  // 2 s: soon enough that the memory of a burst is back before the next one is likely; the
  // check itself is one mallinfo2(), and a trim only runs when trim_memory_after bytes lie free
  // (at steady state they do not: docs/benchmarks.md).
  trim_timer_->expires_after(std::chrono::seconds(2));
  trim_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    // The walk over the heap takes milliseconds on a large one: not on a network thread. A full
    // queue skips this round.
    (void)history_readers_->submit([this] {
      if (release_free_memory(config_.trim_memory_after))
        memory_trims_.fetch_add(1, std::memory_order_relaxed);
    });
    schedule_trim();
  });
}

void App::stop() {
  // Answers being streamed end now, for their subscribers and in history, not silently.
  streams_->end_all("shutdown");
  server_->stop();
}

void App::wait() { server_->join(); }

std::unique_ptr<transport::WsHandler> App::on_upgrade(transport::Worker& worker, const transport::HttpRequest& request,
                                                      transport::HttpResponse& reject) {
  // /echo bypasses the session (no token, origin or admission): a test aid, off unless enabled.
  if (config_.echo_endpoint && request.path() == "/echo") return std::make_unique<transport::EchoHandler>();
  const auto& paths = config_.websocket_paths;
  if (std::find(paths.begin(), paths.end(), request.path()) == paths.end()) {
    reject = api::error_response(make_error(ErrorCode::not_found, unknown_websocket_path_message(paths)));
    return nullptr;
  }
  auto client = upgrade_gate_->open(request, worker.index(), worker.context());
  if (!client) {
    reject = api::error_response(client.error());
    return nullptr;
  }
  return std::move(*client);
}

std::unique_ptr<transport::EventStreamHandler> App::on_event_stream(transport::Worker& worker,
                                                                    const transport::HttpRequest& request,
                                                                    transport::HttpResponse& head) {
  const std::string_view path = request.path();
  if (path != "/sse" && path != "/stream") return nullptr;
  const bool sse = path == "/sse";
  auto client = upgrade_gate_->open_stream(request, worker.index(), worker.context(),
                                           sse ? session::StreamFormat::sse : session::StreamFormat::ndjson);
  if (!client) {
    head = api::error_response(client.error());
    return nullptr;
  }
  head.status = 200;
  head.content_type = sse ? "text/event-stream; charset=utf-8" : "application/x-ndjson";
  head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  return std::move(*client);
}

api::Stats App::stats() const {
  api::Stats s;
  for (std::size_t i = 0; i < server_->worker_count(); ++i) {
    const auto& w = server_->worker(i).stats();
    auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    // Streams (SSE, NDJSON) are connections too; `sse_connections` says how many of them.
    s.connections += get(w.connections) + get(w.event_streams);
    s.connections_total += get(w.connections_total) + get(w.event_streams_total);
    s.sse_connections += get(w.event_streams);
    s.bytes_in += get(w.bytes_in);
    s.bytes_out += get(w.bytes_out);
    s.writes += get(w.writes);
    s.slow_consumers += get(w.slow_consumers);
    s.oversized_messages += get(w.oversized_messages);
    s.ping_timeouts += get(w.ping_timeouts);
    s.http_requests += get(w.http_requests);
    s.frame_rate_closes += get(w.frame_rate_closes);
    s.untrusted_frame_closes += get(w.untrusted_frame_closes);
    s.fragment_closes += get(w.fragment_closes);
    s.pongs_coalesced += get(w.pongs_coalesced);
    s.http_requests_refused += get(w.http_requests_refused);
    s.http_connections_refused += get(w.http_connections_refused);
    s.accept_refused += get(w.accept_refused);
    s.http_timeouts += get(w.http_timeouts);
  }
  s.http_connections = server_->http_connections();
  core::HubCounters hub = hub_->counters();
  s.subscriptions = hub.subscriptions;
  s.channels = hub.channels;
  s.messages_in = hub.publications;
  s.messages_out = hub.deliveries;
  s.channel_states = hub.channel_states;
  s.channels_refused = hub.channels_refused;
  if (local_broker_) {
    // On one node the broker also holds channels whose publications are on their way to the
    // store, with no subscriber: its table is the larger one, and it refuses publishes.
    s.channel_states = std::max<std::uint64_t>(s.channel_states, local_broker_->channel_count());
    s.channels_refused += local_broker_->channels_refused();
  }
  // Either may be gone already while the broker's thread asks during shutdown.
  if (history_readers_) s.history_reads_refused = history_readers_->refused();
  s.memory_trims = memory_trims_.load(std::memory_order_relaxed);
  s.upgrades_refused = admission_.refused();
  s.rate_limited = admission_.rate_limited();
  if (streams_) {
    const auto streams = streams_->counters();
    s.streams = streams.running;
    s.stream_bytes = streams.bytes;
    s.streams_refused = streams.refused;
  }
  if (webhooks_) {
    const auto webhooks = webhooks_->counters();
    s.webhook_events_sent = webhooks.sent;
    s.webhook_requests_failed = webhooks.failed;
    s.webhook_events_dropped = webhooks.dropped;
    s.webhook_events_queued = webhooks.queued;
  }
  s.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return s;
}

}  // namespace sb::server
