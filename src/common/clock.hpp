#pragma once
#include <chrono>
#include <cstdint>

namespace sb {

// Milliseconds since the Unix epoch: the `ts` of a message.
inline std::int64_t unix_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace sb
