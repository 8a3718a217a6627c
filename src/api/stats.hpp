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
  std::uint64_t oversized_messages = 0;     // closed 1009: above limits.max_message_size
  std::uint64_t upgrades_refused = 0;       // limits.max_connections / max_connections_per_ip
  std::uint64_t rate_limited = 0;           // requests refused with RATE_LIMIT
  std::uint64_t ping_timeouts = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t channel_states = 0;         // channels the hub holds (limits.max_channels)
  std::uint64_t channels_refused = 0;       // subscribes/publishes refused by limits.max_channels
  std::uint64_t history_reads_refused = 0;  // history reads refused: reader queue full
  std::uint64_t streams = 0;                // running streams
  std::uint64_t stream_bytes = 0;           // text they hold
  std::uint64_t streams_refused = 0;        // starts/appends refused by streams.max_streams / max_total_bytes
  // Hostile WebSocket peers (transport/limits.hpp).
  std::uint64_t frame_rate_closes = 0;
  std::uint64_t untrusted_frame_closes = 0;
  std::uint64_t fragment_closes = 0;
  std::uint64_t pongs_coalesced = 0;
  std::uint64_t memory_trims = 0;
  std::uint64_t http_connections = 0;          // open, not upgraded
  std::uint64_t http_requests_refused = 0;     // framing and size rules (400, 413, 431, 501)
  std::uint64_t http_connections_refused = 0;  // max_http_connections(_per_ip) (503)
  std::uint64_t accept_refused = 0;
  std::uint64_t http_timeouts = 0;             // HTTP connections closed by a deadline            // out of file descriptors
  double uptime_seconds = 0;
};

}  // namespace sb::api
