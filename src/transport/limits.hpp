#pragma once
#include <chrono>
#include <cstddef>

namespace sb::transport {

// Per-connection limits of the transport. Defaults are what a public deployment can live with.
struct Limits {
  // Largest WebSocket message a client may send (close 1009 above it). 64 KiB holds any chat
  // message or CRUD event; bigger payloads belong in object storage, not in a real-time channel.
  std::size_t max_message_size = 64 * 1024;
  // Bytes queued for one socket before it counts as a slow consumer and is closed (4001). 4 MiB
  // absorbs a burst of ~40k small messages while keeping 10k stuck clients under 40 GiB worst case
  // only if they all stall at once; lower it for large fan-outs.
  std::size_t max_send_queue = 4 * 1024 * 1024;
  // Largest HTTP request body (publish, broadcast). Same reasoning as max_message_size, with room
  // for a broadcast envelope.
  std::size_t max_http_body = 1024 * 1024;
  // A connection with no traffic for this long is pinged; one that does not answer within
  // ping_timeout is closed (4002). 25 s stays under the 30-60 s idle cut of common proxies.
  std::chrono::seconds ping_interval{25};
  std::chrono::seconds ping_timeout{10};
  // An HTTP request (including a WebSocket upgrade) must arrive whole within this time.
  std::chrono::seconds handshake_timeout{10};
  // Accept permessage-deflate when a client offers it (browsers always do): their messages may
  // arrive compressed and are inflated up to max_message_size. Server frames stay uncompressed.
  bool deflate = true;
  // Time a closing connection gets for the peer's close frame before the socket is dropped.
  std::chrono::seconds close_timeout{3};
};

}  // namespace sb::transport
