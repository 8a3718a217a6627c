// Fuzz target: decoding a client frame of the native protocol. Any input is an error value or a
// command, never a crash or an exception; and the values a command passes on as raw bytes
// (`data`, `info`) are each one JSON value with finite numbers, so that the frames built from
// them are strict JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/json_text.hpp"
#include "protocol/native/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string id;
  auto command = sb::protocol::native::decode(std::string_view(reinterpret_cast<const char*>(data), size), id);
  if (!command) (void)sb::protocol::native::encode_error(id, command.error());
  else
    for (const std::string* raw : {&command->data, &command->info})
      if (!raw->empty() && !sb::protocol::check_json(*raw)) std::abort();
  return 0;
}
