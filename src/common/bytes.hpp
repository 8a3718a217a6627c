#pragma once
// Immutable bytes shared between threads: a frame is encoded once and the same buffer is queued
// on every subscriber's socket. Nobody may modify the string once it is shared.
#include <memory>
#include <string>

namespace sb {

using SharedBytes = std::shared_ptr<const std::string>;

inline SharedBytes make_shared_bytes(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

}  // namespace sb
