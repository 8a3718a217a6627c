#pragma once
// The figures of api/stats.hpp rendered for each reader: /api/stats, /metrics, the node info.
#include <string>
#include <string_view>

#include "api/stats.hpp"

namespace sb::api {

// /api/stats: the figures shown there, uptime in whole seconds.
std::string stats_json(const Stats& stats);
// /metrics: every figure, in Prometheus's text format (version 0.0.4).
std::string prometheus_text(const Stats& stats);
// What a cluster node publishes about itself with each heartbeat (/api/nodes "info"): where it
// listens ("host:port"; left out when empty), then the figures shown there.
std::string node_info_json(const Stats& stats, std::string_view listen = {});

}  // namespace sb::api
