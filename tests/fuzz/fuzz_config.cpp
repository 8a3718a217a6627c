// Fuzz target: configuration text. Any input is a valid config or a ConfigError naming a key.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sb::server::Config config;
  try {
    sb::server::apply_config_text(config, std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
    sb::server::validate(config);
  } catch (const sb::server::ConfigError&) {
  }
  return 0;
}
