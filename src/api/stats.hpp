#pragma once
// The server's figures: one table that the Stats struct, /api/stats, /metrics and the node info a
// cluster node publishes (/api/nodes) are all made from. Adding a figure is one line here, plus
// where server::App::stats() reads its value.
#include <cstdint>

namespace sb::api {

// Where a figure is shown besides /metrics, which shows them all.
enum StatsShown : unsigned {
  metrics_only = 0,
  in_stats_json = 1,  // /api/stats (and each node's part of ?scope=cluster)
  in_node_info = 2,   // what a node tells about itself: /api/nodes "info"
};

// X(type, field, series, kind, shown, help), in the order /metrics lists them:
//  field   the Stats member, and its key in /api/stats and the node info
//  series  the Prometheus series, after "switchboard_"
//  kind    gauge or counter
#define SB_API_STATS(X)                                                                                             \
  X(std::uint64_t, connections, "connections", gauge, in_stats_json | in_node_info,                                 \
    "Open client connections: WebSocket, SSE and NDJSON streams.")                                                  \
  X(std::uint64_t, connections_total, "connections_total", counter, in_stats_json,                                  \
    "Client connections since start (WebSocket upgrades and streams).")                                             \
  X(std::uint64_t, subscriptions, "subscriptions", gauge, in_stats_json | in_node_info,                             \
    "Current channel subscriptions.")                                                                               \
  X(std::uint64_t, channels, "channels", gauge, in_stats_json | in_node_info, "Channels with at least one subscriber.") \
  X(std::uint64_t, messages_in, "messages_in_total", counter, in_stats_json,                                        \
    "Messages published (HTTP and WebSocket).")                                                                     \
  X(std::uint64_t, messages_out, "messages_out_total", counter, in_stats_json, "Messages delivered to subscribers.") \
  X(std::uint64_t, bytes_in, "bytes_in_total", counter, in_stats_json, "WebSocket bytes received.")                 \
  X(std::uint64_t, bytes_out, "bytes_out_total", counter, in_stats_json, "WebSocket bytes sent.")                   \
  X(std::uint64_t, writes, "socket_writes_total", counter, metrics_only,                                            \
    "Gathered socket writes (bytes_out / writes is the batching).")                                                 \
  X(std::uint64_t, slow_consumers, "slow_consumers_total", counter, in_stats_json,                                  \
    "Connections closed for a full send queue.")                                                                    \
  X(std::uint64_t, oversized_messages, "oversized_messages_total", counter, metrics_only,                           \
    "Connections closed (1009) for a message above limits.max_message_size.")                                       \
  X(std::uint64_t, upgrades_refused, "upgrades_refused_total", counter, metrics_only,                               \
    "WebSocket upgrades refused by limits.max_connections or max_connections_per_ip.")                              \
  X(std::uint64_t, rate_limited, "rate_limited_total", counter, metrics_only,                                       \
    "WebSocket requests refused with RATE_LIMIT (per connection or per user).")                                     \
  X(std::uint64_t, ping_timeouts, "ping_timeouts_total", counter, metrics_only,                                     \
    "Connections closed for not answering pings.")                                                                  \
  X(std::uint64_t, http_requests, "http_requests_total", counter, metrics_only, "HTTP requests served.")            \
  X(std::uint64_t, channel_states, "channel_states", gauge, metrics_only,                                           \
    "Channels the hub holds state for (bounded by limits.max_channels).")                                           \
  X(std::uint64_t, channels_refused, "channels_refused_total", counter, metrics_only,                               \
    "Subscribes and publishes refused by limits.max_channels.")                                                     \
  X(std::uint64_t, history_reads_refused, "history_reads_refused_total", counter, metrics_only,                     \
    "History reads refused because history.read_queue was full.")                                                   \
  X(std::uint64_t, streams, "streams", gauge, metrics_only, "Streams running.")                                     \
  X(std::uint64_t, stream_bytes, "stream_bytes", gauge, metrics_only,                                               \
    "Text held by running streams (bounded by streams.max_total_bytes).")                                           \
  X(std::uint64_t, streams_refused, "streams_refused_total", counter, metrics_only,                                 \
    "Stream starts and appends refused by streams.max_streams or max_total_bytes.")                                 \
  X(std::uint64_t, frame_rate_closes, "frame_rate_closes_total", counter, metrics_only,                             \
    "Connections closed (1008) for sending frames above limits.frame_rate.")                                        \
  X(std::uint64_t, untrusted_frame_closes, "untrusted_frame_closes_total", counter, metrics_only,                   \
    "Connections closed (1008) for sending more than limits.untrusted_frames before authenticating.")               \
  X(std::uint64_t, fragment_closes, "fragment_closes_total", counter, metrics_only,                                 \
    "Connections closed (1009) for a message in more than limits.max_message_fragments frames.")                    \
  X(std::uint64_t, pongs_coalesced, "pongs_coalesced_total", counter, metrics_only,                                 \
    "Pings answered only by a newer pong (one pong pending per connection).")                                       \
  X(std::uint64_t, memory_trims, "memory_trims_total", counter, metrics_only,                                       \
    "Times freed memory was handed back to the OS (limits.trim_memory_after).")                                     \
  X(std::uint64_t, http_connections, "http_connections", gauge, metrics_only, "Open HTTP connections (not upgraded).") \
  X(std::uint64_t, http_requests_refused, "http_requests_refused_total", counter, metrics_only,                     \
    "HTTP requests refused for their framing or size (400, 413, 431, 501), connection closed.")                     \
  X(std::uint64_t, http_connections_refused, "http_connections_refused_total", counter, metrics_only,               \
    "HTTP connections refused above max_http_connections or max_http_connections_per_ip (503).")                    \
  X(std::uint64_t, accept_refused, "accept_refused_total", counter, metrics_only,                                   \
    "Connections answered and closed at once because the server was out of file descriptors.")                      \
  X(std::uint64_t, http_timeouts, "http_timeouts_total", counter, metrics_only,                                     \
    "HTTP connections closed by a deadline: handshake_timeout, or http_keepalive_timeout of silence.")              \
  X(std::uint64_t, webhook_events_sent, "webhook_events_sent_total", counter, metrics_only,                          \
    "Webhook events the app's backend acknowledged with a 2xx ([webhooks]).")                                       \
  X(std::uint64_t, webhook_requests_failed, "webhook_requests_failed_total", counter, metrics_only,                 \
    "Webhook requests that failed (refused, timed out or not 2xx); each retry counts.")                             \
  X(std::uint64_t, webhook_events_dropped, "webhook_events_dropped_total", counter, metrics_only,                   \
    "Webhook events given up: webhooks.max_queue (or max_queue_bytes) full, or retried for webhooks.retry_for.")    \
  X(std::uint64_t, webhook_events_queued, "webhook_events_queued", gauge, metrics_only,                             \
    "Webhook events waiting or in flight (bounded by webhooks.max_queue per target).")                              \
  /* Whole seconds in the JSON; six decimals in /metrics. Never summed over a cluster. */                         \
  X(std::uint64_t, sse_connections, "sse_connections", gauge, in_stats_json,                                         \
    "Of the open connections, SSE and NDJSON streams (docs/sse.md).")                                               \
  X(double, uptime_seconds, "uptime_seconds", gauge, in_stats_json | in_node_info, "Seconds since the server started.")

// A snapshot of the figures (server::App::stats()).
struct Stats {
#define SB_API_STATS_MEMBER(type, field, series, kind, shown, help) type field = 0;
  SB_API_STATS(SB_API_STATS_MEMBER)
#undef SB_API_STATS_MEMBER
};

}  // namespace sb::api
