// Fuzz target: decoding a client frame of the native protocol. Any input is an error value or a
// command, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/native/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string id;
  auto command = sb::protocol::native::decode(std::string_view(reinterpret_cast<const char*>(data), size), id);
  if (!command) (void)sb::protocol::native::encode_error(id, command.error());
  return 0;
}
