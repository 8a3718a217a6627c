#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

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

  // --- WebSocket frames from a hostile peer (docs/protocol.md#limits) ---
  // Frames of any kind (data, continuation, ping, pong, close) one connection may send per
  // second, and the bucket's size; one more closes with 1008. The server sets them to four times
  // the session's request rate (rate_per_connection, rate_burst) unless configured, so a client
  // within its request budget never meets this one: it catches what that budget cannot see,
  // control frames and fragments.
  double frame_rate = 4000;
  double frame_burst = 8000;
  // Frames a connection may send while its handler has not yet trusted it (before authentication,
  // WsConnection::limit_until_trusted); one more closes with 1008. A well-behaved client sends one
  // `connect` and perhaps a ping or two before its token is checked: 32 leaves room for
  // fragments and retries while capping what an anonymous peer can make the server parse.
  std::uint32_t untrusted_frames = 32;
  // Frames one fragmented message may have; one more closes with 1009. No browser fragments a
  // message; libraries that do use 4 KiB or larger pieces, so 256 holds a 1 MiB message. Each
  // fragment costs a frame's parsing, and empty ones cost nothing in max_message_size.
  std::uint32_t max_message_fragments = 256;
  // HTTP connections before the upgrade (API calls, pages, WebSocket handshakes in progress).
  // Above either cap a new connection gets 503 UNAVAILABLE and is closed. 10,000 leaves most
  // descriptors to WebSockets (an upgraded connection no longer counts) while a reconnect storm
  // of that many handshakes at once still gets through; per address, 256 is far above what one
  // backend's connection pool opens (or the loadgen's 200 handshakes at once) and keeps one host
  // from taking the whole budget. Behind a reverse proxy every client shares its address: raise it.
  std::size_t max_http_connections = 10000;
  std::size_t max_http_connections_per_ip = 256;
  // Silence allowed between two requests on a keep-alive connection. 10 s keeps a busy
  // publisher's connection (it sends more often than that) and frees an idle one's descriptor
  // soon; a client that publishes rarely pays one new connection (Node and Apache use 5 s).
  std::chrono::seconds http_keepalive_timeout{10};
};

}  // namespace sb::transport
