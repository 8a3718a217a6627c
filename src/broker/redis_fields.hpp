#pragma once
// Reading the fields of the Redis broker's pub/sub messages and replies (redis_scripts.hpp says
// how they are laid out).
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/publication.hpp"

namespace sb::broker {

inline std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

inline std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Splits "a\nb\nc\nrest" into `n` fields, the last one taking the rest (which may hold newlines).
inline bool split_fields(std::string_view s, std::size_t n, std::string_view* out) {
  for (std::size_t i = 0; i + 1 < n; ++i) {
    auto nl = s.find('\n');
    if (nl == std::string_view::npos) return false;
    out[i] = s.substr(0, nl);
    s.remove_prefix(nl + 1);
  }
  out[n - 1] = s;
  return true;
}

// A presence member from its hash field (the client id) and value "<node>\n<user>\n<info>".
inline core::Member member_of(std::string_view client, std::string_view value) {
  std::string_view f[3];
  if (!split_fields(value, 3, f)) return core::Member{std::string(client), {}, {}};
  return core::Member{std::string(client), std::string(f[1]), std::string(f[2])};
}

}  // namespace sb::broker
