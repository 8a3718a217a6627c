#pragma once
// RFC 6455 framing, as pure functions on bytes: no socket, no allocation on the parse path.
// Server frames are never masked (RFC 6455 5.1), so a frame built here can be written as is to
// any number of sockets; that is what lets the hub encode a message once for all subscribers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::transport {

enum class WsOpcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close codes we send. 1xxx are RFC 6455's; 4xxx are Switchboard's (docs/protocol.md).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;        // server shutting down: reconnect elsewhere
inline constexpr std::uint16_t protocol_error = 1002;    // broken framing
inline constexpr std::uint16_t invalid_payload = 1007;   // text that is not UTF-8, or data that does not inflate
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;   // above max_message_size
inline constexpr std::uint16_t internal_error = 1011;    // a bug of ours in this session
inline constexpr std::uint16_t disconnected = 4000;      // by the HTTP API: do not reconnect
inline constexpr std::uint16_t slow_consumer = 4001;     // send queue over its limit: reconnect and recover
inline constexpr std::uint16_t ping_timeout = 4002;      // no sign of life: reconnect
inline constexpr std::uint16_t auth_failed = 4003;       // bad or missing credentials: do not retry as is
inline constexpr std::uint16_t token_expired = 4004;     // token expired without a refresh: reconnect with a new one
inline constexpr std::uint16_t idle_timeout = 4008;      // nothing but keepalives for limits.idle_timeout
}  // namespace close_code

// Whether a peer may send `code` in a close frame (RFC 6455 7.4): 1000-1003 and 1007-1011 of the
// RFC's own, and 3000-4999 (registered and private). 1004-1006 and 1015 are reserved, never on
// the wire; 1012-2999 are not assigned by RFC 6455 (the Autobahn testsuite, case 7.9, holds an
// endpoint to refusing them).
constexpr bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

// Appends the header of an unmasked, final server frame carrying `payload_size` bytes.
void append_frame_header(std::string& out, WsOpcode opcode, std::size_t payload_size);

// A complete unmasked server frame.
std::string encode_frame(WsOpcode opcode, std::string_view payload);
// The payload of one whole unmasked frame as encode_frame() builds it (the bytes after its
// header): how a transport that is not WebSocket (SSE, NDJSON) reuses a frame encoded once for
// every subscriber. Empty if `frame` is shorter than its header says.
std::string_view frame_payload(std::string_view frame) noexcept;
std::string encode_close_frame(std::uint16_t code, std::string_view reason);

struct WsFrameView {
  WsOpcode opcode;
  bool fin;
  bool compressed;           // RSV1: the message is deflated (permessage-deflate, RFC 7692)
  std::string_view payload;  // already unmasked, points into the parsed buffer
};

enum class WsParseStatus {
  complete,      // frame parsed; `consumed` bytes used
  need_more,     // the buffer holds a partial frame
  protocol_error,
  too_big,       // declared payload length above the limit
};

struct WsParseResult {
  WsParseStatus status;
  WsFrameView frame{};
  std::size_t consumed = 0;
};

// Parses one client frame at the start of `data`, unmasking its payload in place. Client frames
// must be masked (RFC 6455 5.3); control frames must be final and at most 125 bytes. RSV1 is
// accepted only with `deflate` (permessage-deflate negotiated), and only on data frames.
WsParseResult parse_client_frame(char* data, std::size_t size, std::size_t max_payload, bool deflate = false);

}  // namespace sb::transport
