#pragma once
// Channel names: `namespace:rest`, or a name without a colon in the default namespace.
#include <string_view>

#include "common/error.hpp"

namespace sb::core {

inline constexpr std::size_t max_channel_length = 255;

// Letters, digits and `_ - . : @ # / = + ! ~ ,`: safe in URLs' query strings once encoded, in
// Redis keys and in logs, and wide enough for ids such as `chat:room-42` or `user#17`.
Status validate_channel_name(std::string_view channel);

// The namespace part (before the first ':'), or "" for the default namespace.
std::string_view namespace_of(std::string_view channel) noexcept;

}  // namespace sb::core
