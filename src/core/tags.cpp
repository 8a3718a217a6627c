#include "core/tags.hpp"

#include <algorithm>

namespace sb::core {

Result<std::string> encode_tags(TagList tags) {
  auto invalid = [](std::string m) { return make_error(ErrorCode::invalid_message, std::move(m)); };
  if (tags.size() > max_tag_count) return invalid("'tags' may hold at most 32 entries");
  std::sort(tags.begin(), tags.end());
  std::string out;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const auto& [key, value] = tags[i];
    if (key.empty() || key.size() > max_tag_key_bytes) return invalid("a tag's key must be 1 to 64 bytes");
    if (value.size() > max_tag_value_bytes) return invalid("a tag's value must be at most 256 bytes");
    if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
      return invalid("tags may not contain the character U+0000");
    if (i > 0 && tags[i - 1].first == key) return invalid("tag '" + key + "' is given twice");
    out.append(key).push_back('\0');
    out.append(value).push_back('\0');
  }
  if (out.size() > max_tags_bytes) return invalid("'tags' may take at most 2048 bytes");
  return out;
}

std::optional<std::string_view> find_tag(std::string_view tags, std::string_view key) noexcept {
  while (!tags.empty()) {
    const std::size_t k = tags.find('\0');
    if (k == std::string_view::npos) return std::nullopt;
    const std::size_t v = tags.find('\0', k + 1);
    if (v == std::string_view::npos) return std::nullopt;
    const std::string_view name = tags.substr(0, k);
    if (name == key) return tags.substr(k + 1, v - k - 1);
    if (name > key) return std::nullopt;  // keys are in order
    tags.remove_prefix(v + 1);
  }
  return std::nullopt;
}

}  // namespace sb::core
