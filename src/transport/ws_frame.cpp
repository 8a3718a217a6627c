#include "transport/ws_frame.hpp"

#include <cstring>

namespace sb::transport {

void append_frame_header(std::string& out, WsOpcode opcode, std::size_t n) {
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode)));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
}

std::string encode_frame(WsOpcode opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  append_frame_header(out, opcode, payload.size());
  out.append(payload);
  return out;
}

std::string_view frame_payload(std::string_view frame) noexcept {
  if (frame.size() < 2) return {};
  const auto length = static_cast<std::uint8_t>(frame[1]) & 0x7F;
  const std::size_t header = length < 126 ? 2 : length == 126 ? 4 : 10;
  if (frame.size() < header) return {};
  return frame.substr(header);
}

std::string encode_close_frame(std::uint16_t code, std::string_view reason) {
  // A close payload is at most 125 bytes: 2 for the code, 123 for the reason.
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, 123));
  return encode_frame(WsOpcode::close, payload);
}

static bool known_opcode(std::uint8_t op) {
  return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

WsParseResult parse_client_frame(char* data, std::size_t size, std::size_t max_payload, bool deflate) {
  auto* p = reinterpret_cast<unsigned char*>(data);
  if (size < 2) return {WsParseStatus::need_more};
  const bool fin = p[0] & 0x80;
  const std::uint8_t rsv = p[0] & 0x70;
  const bool rsv1 = rsv == 0x40;
  const std::uint8_t op = p[0] & 0x0F;
  const bool masked = p[1] & 0x80;
  std::uint64_t len = p[1] & 0x7F;
  // No extension is negotiated, so reserved bits must be zero.
  const bool control = op >= 0x8;
  // RSV2/RSV3 never; RSV1 only on a data frame of a connection that negotiated permessage-deflate
  // (whether it may stand on a continuation frame is the connection's business).
  if ((rsv != 0 && !(rsv1 && deflate && !control)) || !known_opcode(op) || !masked)
    return {WsParseStatus::protocol_error};
  if (control && (!fin || len > 125)) return {WsParseStatus::protocol_error};

  std::size_t pos = 2;
  if (len == 126) {
    if (size < 4) return {WsParseStatus::need_more};
    len = (std::uint64_t{p[2]} << 8) | p[3];
    pos = 4;
  } else if (len == 127) {
    if (size < 10) return {WsParseStatus::need_more};
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) return {WsParseStatus::protocol_error};
    pos = 10;
  }
  if (len > max_payload) return {WsParseStatus::too_big};
  if (size < pos + 4) return {WsParseStatus::need_more};
  unsigned char mask[4];
  std::memcpy(mask, p + pos, 4);
  pos += 4;
  if (size - pos < len) return {WsParseStatus::need_more};

  unsigned char* payload = p + pos;
  for (std::size_t i = 0; i < len; ++i) payload[i] ^= mask[i & 3];
  WsParseResult result{WsParseStatus::complete};
  result.frame = WsFrameView{static_cast<WsOpcode>(op), fin, rsv1,
                             std::string_view(reinterpret_cast<char*>(payload), static_cast<std::size_t>(len))};
  result.consumed = pos + static_cast<std::size_t>(len);
  return result;
}

}  // namespace sb::transport
