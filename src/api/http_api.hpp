#pragma once
// The HTTP API (docs/http-api.md): JSON in and out, routed by method and path. Handlers run on
// the worker thread that read the request and never block on I/O.
#include <functional>

#include "api/api_keys.hpp"
#include "api/stats.hpp"
#include "core/hub.hpp"
#include "core/namespaces.hpp"
#include "session/registry.hpp"
#include "transport/http_types.hpp"

namespace sb::api {

class HttpApi {
 public:
  struct Dependencies {
    core::Hub& hub;
    const core::Namespaces& namespaces;
    session::ClientRegistry& registry;
    const ApiKeys& keys;
    std::function<Stats()> stats;
  };
  explicit HttpApi(Dependencies dependencies);

  transport::HttpResponse handle(const transport::HttpRequest& request) const;

 private:
  transport::HttpResponse publish(const transport::HttpRequest& request) const;
  transport::HttpResponse broadcast(const transport::HttpRequest& request) const;
  transport::HttpResponse channels(const transport::HttpRequest& request) const;
  transport::HttpResponse stats() const;
  transport::HttpResponse disconnect(const transport::HttpRequest& request) const;
  transport::HttpResponse metrics() const;

  Dependencies d_;
};

// {"error":{"code":...,"message":...}} with the status that goes with the code.
transport::HttpResponse error_response(const Error& error);

}  // namespace sb::api
