#pragma once
// The composition root: the only place that names concrete classes and wires the layers together
// (transport workers, the hub on their io_contexts, client sessions, the HTTP API).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "api/api_keys.hpp"
#include "api/http_api.hpp"
#include "auth/jwt.hpp"
#include "backend/webhooks.hpp"
#include "broker/redis_broker.hpp"
#include "session/limits.hpp"
#include "api/stats.hpp"
#include "core/history.hpp"
#include "core/history_readers.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "core/namespaces.hpp"
#include "protocol/native/encoder.hpp"
#include "server/config.hpp"
#include "session/client.hpp"
#include "session/origin.hpp"
#include "session/registry.hpp"
#include "session/streams.hpp"
#include "session/upgrade_gate.hpp"
#include "transport/http_client.hpp"
#include "transport/server.hpp"

namespace sb::server {

// The files a configuration names, loaded as serve would (check-config uses them too). Throw
// ConfigError naming the key when a file is missing or unusable.
std::vector<auth::JwtKey> load_jwt_keys(const Config& config);
std::shared_ptr<transport::TlsContext> load_tls(const Config& config);

class App {
 public:
  explicit App(Config config);
  ~App();

  // Binds the port and starts the workers. Throws std::system_error if the address is taken.
  void start();
  std::uint16_t port() const noexcept { return server_->port(); }
  // Graceful stop from any thread; wait() returns once it is done.
  void stop();
  void wait();
  api::Stats stats() const;
  const Config& config() const noexcept { return config_; }

 private:
  // The steps of construction, in order; each builds what the next ones use.
  void make_server();
  void lock_data_dir();
  void make_broker();
  void make_history();
  void make_hub();
  void make_webhooks();
  void make_streams();
  void make_sessions();
  void make_api();
  void connect_broker();
  // Routes an upgrade: /ws through the upgrade gate, /echo when enabled, anything else 404.
  // GET /sse and /stream: an SSE or NDJSON stream (docs/sse.md); any other GET is not one.
  std::unique_ptr<transport::EventStreamHandler> on_event_stream(transport::Worker& worker,
                                                                 const transport::HttpRequest& request,
                                                                 transport::HttpResponse& head);
  std::unique_ptr<transport::WsHandler> on_upgrade(transport::Worker& worker, const transport::HttpRequest& request,
                                                   transport::HttpResponse& reject);

  Config config_;
  core::Namespaces namespaces_;
  protocol::native::NativeEncoder encoder_;
  session::ClientRegistry registry_;
  api::ApiKeys keys_;
  api::StaticFiles web_;
  session::OriginPolicy origins_;
  auth::JwtVerifier verifier_;
  session::Admission admission_;
  std::unique_ptr<transport::Server> server_;
  // On worker 0: the webhooks' and the cancel webhook's connections (null when neither is set).
  std::unique_ptr<transport::HttpClient> webhook_client_;
  // Runs on worker 0's io_context: goes before the server; the hub and the sessions call it.
  std::unique_ptr<backend::Webhooks> webhooks_;  // null: [webhooks] has no URL
  std::unique_ptr<core::HistoryStore> history_;  // null when no namespace keeps history, or in a cluster
  std::unique_ptr<broker::RedisBroker> broker_;  // null: this node alone
  std::unique_ptr<core::LocalBroker> local_broker_;  // this node alone: null with Redis
  std::unique_ptr<core::Hub> hub_;
  std::unique_ptr<core::HistoryReaders> history_readers_;  // read through the hub: goes before it
  std::unique_ptr<session::Streams> streams_;
  std::unique_ptr<backend::Proxy> proxy_;  // null without [proxy]
  std::unique_ptr<session::ClientServices> client_services_;
  std::unique_ptr<session::UpgradeGate> upgrade_gate_;
  std::unique_ptr<api::HttpApi> api_;
  // Every few seconds, freed memory goes back to the OS (common/memory.hpp), on a reader thread.
  std::unique_ptr<boost::asio::steady_timer> trim_timer_;
  void schedule_trim();
  std::atomic<std::uint64_t> memory_trims_{0};  // times release_free_memory gave memory back
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  int data_dir_lock_ = -1;  // flock'ed for the process's life: one server per data dir
};

}  // namespace sb::server
