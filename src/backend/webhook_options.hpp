#pragma once
// The settings of the app's webhooks ([webhooks] in the config, docs/configuration.md): where
// they go, how they are batched and retried, which events are sent.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::backend {

struct DispatcherOptions {
  std::vector<std::string> urls;  // each gets every event
  std::string secret;             // signs every request (webhook_signature.hpp)
  // A batch leaves when it holds batch_size events or its oldest event has waited
  // batch_interval. 100 events in 100 ms: a burst of joins is one request, and an event waits a
  // tenth of a second at most before it leaves.
  std::size_t batch_size = 100;
  std::chrono::milliseconds batch_interval{100};
  // Events (and their bytes) one target holds, in flight included; an event beyond either is
  // dropped and counted. 10,000 events ride out a backend restart at a busy node's pace; 16 MiB
  // bounds what large client events can make the server hold per target.
  std::size_t max_queue = 10000;
  std::size_t max_queue_bytes = 16 * 1024 * 1024;
  // How long one batch is retried before it is dropped; the waits double from first_backoff up
  // to max_backoff, each a random point in its upper half (so that nodes do not retry in step).
  std::chrono::milliseconds retry_for{std::chrono::minutes(5)};
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
  // One request's deadline, connect to answer: an attempt not answered within it counts as
  // failed (and a late answer is ignored), whatever the HTTP client does. 5 s: a backend slower
  // than that is treated as down, and the batch is retried.
  std::chrono::milliseconds timeout{5000};
  // https:// targets are verified against the system's CAs, and this PEM file's when not empty
  // (a private CA, a self-signed receiver).
  std::string ca_file;
};


// The event types, as bits of WebhookOptions::events.
enum WebhookEventType : unsigned {
  channel_occupied = 1u << 0,
  channel_vacated = 1u << 1,
  presence_join = 1u << 2,
  presence_leave = 1u << 3,
  client_event = 1u << 4,
  typing_event = 1u << 5,  // "typing" on the wire
  stream_cancelled = 1u << 6,
  connection_closed = 1u << 7,
};
inline constexpr unsigned all_webhook_events = (1u << 8) - 1;

// The bit of a type's wire name ("channel_occupied", ..., "typing"), or nothing.
std::optional<unsigned> webhook_event_type(std::string_view name);
// Every wire name, in the order of the bits (for error messages).
const std::vector<std::string_view>& webhook_event_names();

struct WebhookOptions {
  DispatcherOptions delivery;  // no URL: no webhooks
  // Types sent; client_event and typing also need the channel's namespace to ask for them
  // (webhook_events, webhook_typing), which namespaces do not by default.
  unsigned events = all_webhook_events;
};

}  // namespace sb::backend
