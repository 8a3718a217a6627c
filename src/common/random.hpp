#pragma once
#include <string>

namespace sb {

// A random lowercase hex string of `bytes * 2` characters, from the OS's CSPRNG: client ids and
// epochs must not be guessable or repeat across restarts.
std::string random_hex(std::size_t bytes);

}  // namespace sb
