// Text-level parsing shared by the dialects: a flat JSON string-field scanner (no JSON
// library: the loadgen only needs "type" and "data"), the payload stamp, and a streaming
// NATS protocol parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "util.hpp"

namespace sbload {

// Returns the string value of the first `"key"` : "value" pair in msg (escapes left as is),
// or an empty view when the key is absent or its value is not a string. `quoted_key`
// includes the quotes, e.g. "\"type\"".
inline std::string_view json_str_field(std::string_view msg, std::string_view quoted_key) {
  size_t pos = 0;
  while ((pos = msg.find(quoted_key, pos)) != std::string_view::npos) {
    size_t i = pos + quoted_key.size();
    while (i < msg.size() && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n' || msg[i] == '\r')) ++i;
    if (i >= msg.size() || msg[i] != ':') {
      pos += 1;
      continue;
    }
    ++i;
    while (i < msg.size() && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n' || msg[i] == '\r')) ++i;
    if (i >= msg.size() || msg[i] != '"') return {};
    const size_t start = ++i;
    while (i < msg.size() && msg[i] != '"') i += (msg[i] == '\\') ? size_t{2} : size_t{1};
    if (i >= msg.size()) return {};
    return msg.substr(start, i - start);
  }
  return {};
}

// The payload stamp: "t=<send ns> s=<seq> " followed by 'x' padding.
struct Stamp {
  uint64_t t_ns = 0;
  uint64_t seq = 0;
};

inline bool parse_stamp(std::string_view d, Stamp& out) {
  const char* p = d.data();
  const char* end = p + d.size();
  if (end - p < 2 || p[0] != 't' || p[1] != '=') return false;
  p += 2;
  size_t n = parse_u64(p, end, out.t_ns);
  if (n == 0) return false;
  p += n;
  if (end - p < 3 || p[0] != ' ' || p[1] != 's' || p[2] != '=') return false;
  p += 3;
  n = parse_u64(p, end, out.seq);
  return n != 0;
}

// Streaming NATS server-protocol parser. Feeds complete operations to `on_op(kind, line,
// payload)` where kind is one of "MSG", "HMSG", "PING", "PONG", "INFO", "+OK", "-ERR" or
// "?" (unknown); on_op returns false to stop early. Returns the number of bytes consumed; the rest (a partial operation) must
// be kept and fed again with more bytes. Returns SIZE_MAX on a malformed stream.
template <typename OnOp>
size_t nats_parse(const char* p, size_t n, OnOp&& on_op) {
  size_t off = 0;
  while (off < n) {
    const char* line = p + off;
    const auto* eol = static_cast<const char*>(memmem(line, n - off, "\r\n", 2));
    if (!eol) {
      if (n - off > 65536) return SIZE_MAX;  // no control line is this long
      break;
    }
    const std::string_view l(line, static_cast<size_t>(eol - line));
    const size_t after = off + l.size() + 2;
    if (l.starts_with("MSG ") || l.starts_with("HMSG ")) {
      // MSG <subject> <sid> [reply-to] <#bytes> / HMSG <subject> <sid> [reply-to] <#hdr> <#total>
      const size_t sp = l.rfind(' ');
      uint64_t total = 0;
      if (sp == std::string_view::npos || parse_u64(l.data() + sp + 1, l.data() + l.size(), total) == 0) return SIZE_MAX;
      uint64_t hdr = 0;
      const bool hmsg = l[0] == 'H';
      if (hmsg) {
        const size_t sp2 = l.rfind(' ', sp - 1);
        if (sp2 == std::string_view::npos || parse_u64(l.data() + sp2 + 1, l.data() + sp, hdr) == 0 || hdr > total)
          return SIZE_MAX;
      }
      if (n - after < total + 2) break;  // payload not complete yet
      if (p[after + total] != '\r' || p[after + total + 1] != '\n') return SIZE_MAX;
      const bool go = on_op(hmsg ? std::string_view("HMSG") : std::string_view("MSG"), l,
                            std::string_view(p + after + hdr, static_cast<size_t>(total - hdr)));
      off = after + static_cast<size_t>(total) + 2;
      if (!go) return off;
      continue;
    }
    std::string_view kind = "?";
    if (l == "PING") kind = "PING";
    else if (l == "PONG") kind = "PONG";
    else if (l.starts_with("INFO")) kind = "INFO";
    else if (l.starts_with("+OK")) kind = "+OK";
    else if (l.starts_with("-ERR")) kind = "-ERR";
    const bool go = on_op(kind, l, std::string_view());
    off = after;
    if (!go) return off;
  }
  return off;
}

}  // namespace sbload
