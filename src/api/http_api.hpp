#pragma once
// The HTTP API (docs/http-api.md): JSON in and out, routed by method and path. Handlers run on
// the worker thread that read the request. On one node they never block on I/O (history is read
// by core::HistoryReaders); in a cluster, reads that need Redis or the other nodes (presence,
// ?scope=cluster) wait for them, at most the broker's timeout.
//
// One class, its members spread over files by job: router.cpp (handle, the endpoint table, the
// gate), publish_handlers.cpp (publish, broadcast, event), channel_handlers.cpp (history, presence, channels),
// stream_handlers.cpp, cluster_queries.cpp, metrics.cpp (stats, /metrics).
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_keys.hpp"
#include "api/error_response.hpp"
#include "api/request_gate.hpp"
#include "api/static_files.hpp"
#include "api/stats.hpp"
#include "core/cluster.hpp"
#include "core/history_readers.hpp"
#include "core/hub.hpp"
#include "core/namespaces.hpp"
#include "session/origin.hpp"
#include "session/registry.hpp"
#include "session/streams.hpp"
#include "transport/http_types.hpp"
#include "transport/server.hpp"

namespace sb::api {

class HttpApi {
 public:
  struct Dependencies {
    core::Hub& hub;
    const core::Namespaces& namespaces;
    session::ClientRegistry& registry;
    const ApiKeys& keys;
    std::function<Stats()> stats;
    session::Streams& streams;
    const StaticFiles& web;
    const session::OriginPolicy& origins;  // which pages and Host names a browser request may come from
    core::Cluster* cluster = nullptr;  // null: this node alone
    // Where GET /api/history reads (off the worker thread); null: on the worker thread.
    core::HistoryReaders* readers = nullptr;
    // Payload bytes one history answer holds at most (limits.max_history_response_bytes).
    std::size_t max_history_bytes = 4 * 1024 * 1024;
    // The paths the native protocol is served on (websocket_paths): a plain GET there is 426.
    std::vector<std::string> websocket_paths{"/ws"};
  };
  explicit HttpApi(Dependencies dependencies);

  // Answers through `reply`, exactly once: at once, or (publishing into a channel with history)
  // from the history writer's thread once the message is stored.
  void handle(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // POST /api/streams/{id}/pipe, authorized: its body is appended line by line as it arrives.
  std::unique_ptr<transport::BodySink> body_stream(const transport::HttpRequest& head) const;
  // This node's answer to a question another node's API asked the cluster (cluster_queries.cpp).
  // Runs on the broker's thread; never blocks.
  std::string answer(core::ClusterQuestion question, std::string_view argument) const;

 private:
  // Every endpoint: checked by the gate and its method, then given the request and the reply.
  using Endpoint = void (HttpApi::*)(const transport::HttpRequest&, transport::HttpReply) const;
  struct Route;
  static const Route* find_route(std::string_view path);

  // publish_handlers.cpp
  void publish(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void broadcast(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void event(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // channel_handlers.cpp
  void history(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void presence(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void presence_stats(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void channels(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // stream_handlers.cpp: POST /api/streams, /api/streams/{id}/append, /end and /pipe (whole body)
  void streams(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // metrics.cpp
  void stats(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void metrics(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // cluster_queries.cpp
  void nodes(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void disconnect(const transport::HttpRequest& request, transport::HttpReply reply) const;
  transport::HttpResponse cluster_channels(std::string_view prefix) const;
  transport::HttpResponse cluster_stats() const;
  // Every node's answer (this one's included); on one node, just this one's.
  Result<std::vector<core::NodeAnswer>> ask_all(core::ClusterQuestion question, std::string_view argument) const;

  core::Hub& hub_;
  const core::Namespaces& namespaces_;
  session::ClientRegistry& registry_;
  std::function<Stats()> read_stats_;
  session::Streams& streams_;
  const StaticFiles& web_;
  core::Cluster* const cluster_;
  core::HistoryReaders* const readers_;
  const std::size_t max_history_bytes_;
  const std::vector<std::string> websocket_paths_;
  RequestGate gate_;  // API keys, Origin, Host, Content-Type
};

}  // namespace sb::api
