// HttpApi: what every request goes through before its endpoint, and the table of endpoints.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/http_api.hpp"
#include "api/json_io.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;

struct HttpApi::Route {
  std::string_view path;
  bool path_is_prefix;
  std::string_view method;  // the only one allowed; any other is answered 405 with Allow
  Endpoint endpoint;
};

const HttpApi::Route* HttpApi::find_route(std::string_view path) {
  static constexpr Route routes[] = {
      {"/metrics", false, "GET", &HttpApi::metrics},
      {"/api/publish", false, "POST", &HttpApi::publish},
      {"/api/broadcast", false, "POST", &HttpApi::broadcast},
      {"/api/event", false, "POST", &HttpApi::event},
      {"/api/streams", false, "POST", &HttpApi::streams},
      {"/api/streams/", true, "POST", &HttpApi::streams},  // {id}/append, {id}/end, {id}/pipe
      {"/api/history", false, "GET", &HttpApi::history},
      {"/api/presence", false, "GET", &HttpApi::presence},
      {"/api/presence_stats", false, "GET", &HttpApi::presence_stats},
      {"/api/channels", false, "GET", &HttpApi::channels},
      {"/api/stats", false, "GET", &HttpApi::stats},
      {"/api/nodes", false, "GET", &HttpApi::nodes},
      {"/api/disconnect", false, "POST", &HttpApi::disconnect},
  };
  for (const Route& route : routes)
    if (route.path_is_prefix ? path.substr(0, route.path.size()) == route.path : path == route.path) return &route;
  return nullptr;
}

HttpApi::HttpApi(Dependencies dependencies)
    : hub_(dependencies.hub), namespaces_(dependencies.namespaces), registry_(dependencies.registry),
      read_stats_(std::move(dependencies.stats)), streams_(dependencies.streams), web_(dependencies.web),
      cluster_(dependencies.cluster), readers_(dependencies.readers),
      max_history_bytes_(dependencies.max_history_bytes), websocket_paths_(std::move(dependencies.websocket_paths)),
      gate_(dependencies.keys, dependencies.origins) {}

// Open paths first (/healthz, the WebSocket paths, the web pages), then everything under /api/ and /metrics
// passes the gate before its path is looked up: an unknown API path is 404 only to a caller the
// gate lets in.
void HttpApi::handle(const HttpRequest& request, transport::HttpReply reply) const {
  const std::string_view path = request.path();
  if (path == "/healthz") return reply(json_response(json::object{{"status", "ok"}}));
  if (std::find(websocket_paths_.begin(), websocket_paths_.end(), path) != websocket_paths_.end()) {
    HttpResponse r = error_response(invalid(std::string(path) + " is a WebSocket endpoint: send an upgrade request"), 426);
    r.headers.emplace_back("Upgrade", "websocket");
    return reply(std::move(r));
  }
  if (auto page = web_.serve(request)) return reply(std::move(*page));
  if (path.substr(0, 5) != "/api/" && path != "/metrics") return reply(no_such_endpoint(path));

  std::string key_name;
  if (auto refusal = gate_.refuse(request, &key_name)) return reply(std::move(*refusal));
  // Which key was used: what a rotation needs to know before the old key goes.
  if (!key_name.empty()) spdlog::debug("{} {} with API key '{}'", request.method, path, key_name);
  const Route* route = find_route(path);
  if (!route) return reply(no_such_endpoint(path));
  if (request.method != route->method) return reply(method_not_allowed(route->method));
  (this->*route->endpoint)(request, std::move(reply));
}

}  // namespace sb::api
