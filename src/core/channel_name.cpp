#include "core/channel_name.hpp"

#include <string>

namespace sb::core {

static bool allowed(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '_': case '-': case '.': case ':': case '@': case '#': case '/': case '=': case '+': case '!':
    case '~': case ',':
      return true;
    default:
      return false;
  }
}

Status validate_channel_name(std::string_view channel) {
  if (channel.empty()) return make_error(ErrorCode::unknown_channel, "channel name is empty");
  if (channel.size() > max_channel_length)
    return make_error(ErrorCode::unknown_channel, "channel name longer than 255 characters");
  for (char c : channel) {
    if (!allowed(c))
      return make_error(ErrorCode::unknown_channel,
                        "channel name may only hold letters, digits and _-.:@#/=+!~, characters");
  }
  if (channel.front() == ':') return make_error(ErrorCode::unknown_channel, "channel name starts with ':'");
  return Ok{};
}

std::string_view namespace_of(std::string_view channel) noexcept {
  auto colon = channel.find(':');
  return colon == std::string_view::npos ? std::string_view{} : channel.substr(0, colon);
}

}  // namespace sb::core
