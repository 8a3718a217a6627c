#pragma once
#include <cstdint>

namespace sb::api {

// A snapshot of the server's figures, for /api/stats and /metrics.
struct Stats {
  std::uint64_t connections = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t channels = 0;
  std::uint64_t messages_in = 0;   // publications accepted (HTTP and WebSocket)
  std::uint64_t messages_out = 0;  // deliveries to subscribers
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t writes = 0;
  std::uint64_t slow_consumers = 0;
  std::uint64_t ping_timeouts = 0;
  std::uint64_t http_requests = 0;
  // Hostile WebSocket peers (transport/limits.hpp).
  std::uint64_t frame_rate_closes = 0;
  std::uint64_t untrusted_frame_closes = 0;
  std::uint64_t fragment_closes = 0;
  std::uint64_t pongs_coalesced = 0;
  std::uint64_t memory_trims = 0;
  double uptime_seconds = 0;
};

}  // namespace sb::api
