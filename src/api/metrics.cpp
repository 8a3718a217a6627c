// GET /api/stats (this node's; with scope=cluster, cluster_queries.cpp) and GET /metrics, and
// the node info: every one a walk over the table in api/stats.hpp.
#include "api/metrics.hpp"

#include <boost/json/serialize.hpp>

#include "api/http_api.hpp"
#include "api/json_io.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

// The figures shown in `where`, as JSON numbers (uptime in whole seconds), after what `into` has.
json::object figures_json(const Stats& s, StatsShown where, json::object into = {}) {
#define SB_API_STATS_JSON(type, field, series, kind, shown, help) \
  if ((shown) & where) into[#field] = static_cast<std::uint64_t>(s.field);
  SB_API_STATS(SB_API_STATS_JSON)
#undef SB_API_STATS_JSON
  return into;
}

}  // namespace

std::string stats_json(const Stats& stats) { return json::serialize(figures_json(stats, in_stats_json)); }

std::string node_info_json(const Stats& stats, std::string_view listen) {
  json::object info;
  if (!listen.empty()) info["listen"] = listen;
  return json::serialize(figures_json(stats, in_node_info, std::move(info)));
}

std::string prometheus_text(const Stats& s) {
  std::string out;
  auto metric = [&out](std::string_view name, std::string_view kind, std::string_view help, auto value) {
    out.append("# HELP switchboard_").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE switchboard_").append(name).append(" ").append(kind).append("\n");
    out.append("switchboard_").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
#define SB_API_STATS_METRIC(type, field, series, kind, shown, help) metric(series, #kind, help, s.field);
  SB_API_STATS(SB_API_STATS_METRIC)
#undef SB_API_STATS_METRIC
  return out;
}

void HttpApi::stats(const HttpRequest& request, transport::HttpReply reply) const {
  Status bad = Ok{};
  if (!cluster_scope(request, bad)) return reply(HttpResponse{200, "application/json", stats_json(read_stats_()), {}});
  if (!bad) return reply(error_response(bad.error()));
  reply(cluster_stats());
}

void HttpApi::metrics(const HttpRequest&, transport::HttpReply reply) const {
  reply(HttpResponse{200, "text/plain; version=0.0.4", prometheus_text(read_stats_()), {}});
}

}  // namespace sb::api
