// Minimal RFC 6455 client-side framing: masked client frames out, server frames in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace sbload::ws {

enum Opcode : uint8_t { kCont = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// Appends one complete (FIN) masked frame carrying `payload` to `out`.
inline void append_frame(std::string& out, uint8_t opcode, const char* payload, size_t len, uint32_t mask_key) {
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = static_cast<uint8_t>(0x80 | (opcode & 0x0F));
  if (len < 126) {
    hdr[h++] = static_cast<uint8_t>(0x80 | len);
  } else if (len <= 0xFFFF) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = static_cast<uint8_t>(len >> 8);
    hdr[h++] = static_cast<uint8_t>(len);
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) hdr[h++] = static_cast<uint8_t>((static_cast<uint64_t>(len) >> (i * 8)) & 0xFF);
  }
  uint8_t mask[4];
  std::memcpy(mask, &mask_key, 4);
  std::memcpy(hdr + h, mask, 4);
  h += 4;
  const size_t base = out.size();
  out.resize(base + h + len);
  char* dst = out.data() + base;
  std::memcpy(dst, hdr, h);
  dst += h;
  // XOR 8 bytes at a time, then the tail.
  uint64_t mask8;
  uint8_t m8[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
  std::memcpy(&mask8, m8, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, payload + i, 8);
    w ^= mask8;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < len; ++i) dst[i] = static_cast<char>(payload[i] ^ static_cast<char>(mask[i & 3]));
}

struct FrameHeader {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = {0, 0, 0, 0};
  uint64_t payload_len = 0;
  size_t header_len = 0;
};

// Parses a frame header at [p, p+avail). Returns 1 when complete, 0 when more bytes are
// needed, -1 on a protocol error (reserved bits set or a 64-bit length with the top bit set).
inline int parse_header(const uint8_t* p, size_t avail, FrameHeader& fh) {
  if (avail < 2) return 0;
  if (p[0] & 0x70) return -1;  // RSV1-3: we negotiate no extensions
  fh.fin = (p[0] & 0x80) != 0;
  fh.opcode = p[0] & 0x0F;
  fh.masked = (p[1] & 0x80) != 0;
  uint64_t len = p[1] & 0x7F;
  size_t h = 2;
  if (len == 126) {
    if (avail < 4) return 0;
    len = (uint64_t{p[2]} << 8) | p[3];
    h = 4;
  } else if (len == 127) {
    if (avail < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) return -1;
    h = 10;
  }
  if (fh.masked) {
    if (avail < h + 4) return 0;
    std::memcpy(fh.mask, p + h, 4);
    h += 4;
  }
  fh.payload_len = len;
  fh.header_len = h;
  return 1;
}

}  // namespace sbload::ws
