#pragma once
// The HTTP API (docs/http-api.md): JSON in and out, routed by method and path. Handlers run on
// the worker thread that read the request. On one node they never block on I/O (history is read
// by core::HistoryReaders); in a cluster, reads that need Redis or the other nodes (presence,
// ?scope=cluster) wait for them, at most the broker's timeout.
#include <functional>

#include "api/api_keys.hpp"
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
  };
  explicit HttpApi(Dependencies dependencies);

  // Answers through `reply`, at once or (publishing into a channel with history) from the history
  // writer's thread once the message is stored.
  void handle(const transport::HttpRequest& request, transport::HttpReply reply) const;
  // POST /api/streams/{id}/pipe, authorized: its body is appended line by line as it arrives.
  std::unique_ptr<transport::BodySink> body_stream(const transport::HttpRequest& head) const;
  // This node's answer to a question another node's API asked the cluster (see cluster_answers).
  // Runs on the broker's thread; never blocks.
  std::string answer(std::string_view question, std::string_view argument) const;

 private:
  transport::HttpResponse route(const transport::HttpRequest& request, transport::HttpReply& reply) const;
  void publish(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void broadcast(const transport::HttpRequest& request, transport::HttpReply reply) const;
  void history(const transport::HttpRequest& request, transport::HttpReply reply) const;
  transport::HttpResponse presence(const transport::HttpRequest& request, bool stats_only) const;
  // POST /api/streams, /api/streams/{id}/append, /api/streams/{id}/end
  void streams(const transport::HttpRequest& request, transport::HttpReply reply) const;
  transport::HttpResponse channels(const transport::HttpRequest& request) const;
  transport::HttpResponse stats(const transport::HttpRequest& request) const;
  transport::HttpResponse nodes() const;
  transport::HttpResponse disconnect(const transport::HttpRequest& request) const;
  // Every node's answer (this one's included); on one node, just this one's.
  Result<std::vector<core::NodeAnswer>> ask_all(std::string_view question, std::string_view argument) const;
  transport::HttpResponse metrics() const;

  Dependencies d_;
  RequestGate gate_;
};

// {"error":{"code":...,"message":...}} with the status that goes with the code.
transport::HttpResponse error_response(const Error& error);

}  // namespace sb::api
