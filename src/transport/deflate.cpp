#include "transport/deflate.hpp"

#include <zlib.h>

#include <cctype>
#include <vector>

namespace sb::transport {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto end = s.find(sep, start);
    parts.push_back(trim(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::string negotiate_deflate(std::string_view offer) {
  for (std::string_view extension : split(offer, ',')) {
    auto params = split(extension, ';');
    if (params.empty() || params[0] != "permessage-deflate") continue;
    std::string answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    bool acceptable = true;
    for (std::size_t i = 1; i < params.size() && acceptable; ++i) {
      std::string_view p = params[i];
      auto eq = p.find('=');
      std::string_view name = trim(p.substr(0, eq));
      std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(p.substr(eq + 1));
      if (!value.empty() && value.front() == '"' && value.size() >= 2) value = value.substr(1, value.size() - 2);
      if (name == "server_no_context_takeover" || name == "client_no_context_takeover" ||
          name == "client_max_window_bits") {
        continue;  // we never compress, and inflate any window up to 15 bits
      }
      if (name == "server_max_window_bits") {
        // We never compress, so any limit on our window holds; echo it as the RFC asks.
        if (value.size() == 1 || value.size() == 2) answer += "; server_max_window_bits=" + std::string(value);
        else acceptable = false;
        continue;
      }
      acceptable = false;  // a parameter we do not know: decline this offer
    }
    if (acceptable) return answer;
  }
  return {};
}

InflateStatus inflate_message(std::string_view compressed, std::size_t limit, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) return InflateStatus::invalid;
  static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
  out.clear();
  char chunk[16 * 1024];
  InflateStatus status = InflateStatus::ok;
  for (int part = 0; part < 2 && status == InflateStatus::ok; ++part) {
    z.next_in = part == 0 ? reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()))
                          : const_cast<Bytef*>(tail);
    z.avail_in = part == 0 ? static_cast<uInt>(compressed.size()) : 4u;
    // Until the input is used up and the last call left room in the output (nothing pending).
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof chunk;
      const int rc = inflate(&z, Z_SYNC_FLUSH);
      const std::size_t produced = sizeof chunk - z.avail_out;
      if (out.size() + produced > limit) {
        status = InflateStatus::too_big;
        break;
      }
      out.append(chunk, produced);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && produced == 0) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        status = InflateStatus::invalid;
        break;
      }
    } while (z.avail_in > 0 || z.avail_out == 0);
  }
  inflateEnd(&z);
  return status;
}

}  // namespace sb::transport
