// Fuzz target: the WebSocket frame parser on arbitrary bytes, frame after frame as a connection
// would feed it. Must never crash, read out of bounds, or report a frame beyond the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "transport/ws_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string buffer(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  while (pos < buffer.size()) {
    auto r = sb::transport::parse_client_frame(buffer.data() + pos, buffer.size() - pos, 4096);
    if (r.status != sb::transport::WsParseStatus::complete) break;
    if (r.consumed == 0 || r.consumed > buffer.size() - pos) std::abort();
    if (r.frame.payload.size() > 4096) std::abort();
    pos += r.consumed;
  }
  return 0;
}
