#pragma once
// permessage-deflate (RFC 7692), receive side only. The server inflates what clients compress,
// with a hard bound on the inflated size (a small frame must not become gigabytes), and sends
// its own frames uncompressed, which the RFC allows per message: the frames it shares between
// subscribers stay encoded once. `client_no_context_takeover` is asked for, so every message
// inflates on its own and a connection keeps no zlib state between messages.
#include <cstddef>
#include <string>
#include <string_view>

namespace sb::transport {

// The Sec-WebSocket-Extensions answer to a client's offer, or empty to decline.
std::string negotiate_deflate(std::string_view offer);

enum class InflateStatus { ok, too_big, invalid };
// Inflates one message's payload (the 00 00 FF FF tail restored) into `out`, at most `limit` bytes.
InflateStatus inflate_message(std::string_view compressed, std::size_t limit, std::string& out);

}  // namespace sb::transport
