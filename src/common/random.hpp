#pragma once
#include <string>
#include <string_view>

namespace sb {

// A random lowercase hex string of `bytes * 2` characters, from the OS's CSPRNG: client ids and
// epochs must not be guessable or repeat across restarts.
std::string random_hex(std::size_t bytes);

// A lowercase hex string of `bytes * 2` characters (at most 64) that depends only on `salt` and
// `key` (HMAC-SHA-256): the same pair always gives the same string, and a new random salt gives
// strings unrelated to the old ones.
std::string keyed_hex(std::string_view salt, std::string_view key, std::size_t bytes);

}  // namespace sb
