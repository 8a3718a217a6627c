#pragma once
// A publication's tags (docs/filters.md): a small map of string to string that subscribers'
// filters look at. Core keeps them in one compact string, built once by the protocol layer and
// then stored, sent through Redis and handed back as bytes like `from`:
//
//     key '\0' value '\0' key '\0' value '\0' ...    keys unique, in byte order
//
// so a filter reads a tag with a scan of a few dozen bytes and no allocation, and core never
// parses JSON. Neither keys nor values may hold a NUL character.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace sb::core {

// Caps on what a publisher may attach (INVALID_MESSAGE beyond): they bound what every stored
// message and every filter evaluation carries.
inline constexpr std::size_t max_tag_count = 32;
inline constexpr std::size_t max_tag_key_bytes = 64;
inline constexpr std::size_t max_tag_value_bytes = 256;
inline constexpr std::size_t max_tags_bytes = 2048;  // the encoded form, separators included

using TagList = std::vector<std::pair<std::string, std::string>>;

// Checks the caps (count, key 1..64 bytes, value <= 256 bytes, no NUL, no key twice, 2 KiB in
// all) and encodes. An empty list encodes as an empty string: no tags.
Result<std::string> encode_tags(TagList tags);

// The value of `key` in encoded tags, or nullopt when the message does not carry it.
std::optional<std::string_view> find_tag(std::string_view tags, std::string_view key) noexcept;

// Calls fn(key, value) for each tag of encoded `tags`, in key order.
template <class Fn>
void for_each_tag(std::string_view tags, Fn&& fn) {
  while (!tags.empty()) {
    const std::size_t k = tags.find('\0');
    const std::size_t v = tags.find('\0', k + 1);
    if (k == std::string_view::npos || v == std::string_view::npos) return;  // not ours: ignored
    fn(tags.substr(0, k), tags.substr(k + 1, v - k - 1));
    tags.remove_prefix(v + 1);
  }
}

}  // namespace sb::core
