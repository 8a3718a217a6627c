#pragma once
#include <cstdint>
#include <string_view>

namespace sb::transport {

class WsConnection;

// What the layer above transport does with one WebSocket connection. Every call comes on the
// connection's worker thread, one at a time. The connection owns its handler.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  // The upgrade is complete; `connection` outlives the handler's use of it (until on_close returns).
  virtual void on_open(WsConnection& connection) = 0;
  // One complete message (fragments already joined, inflated if it came compressed); `binary`
  // for a binary message, else text, which has been checked to be valid UTF-8.
  virtual void on_message(std::string_view payload, bool binary) = 0;
  // The connection is gone, for whatever reason; called exactly once, after which no other call
  // comes and send() is a no-op. The handler must drop every reference others hold to it here.
  virtual void on_close() = 0;
  // Once a second, from the worker's sweep, while the connection is open: for handlers with
  // timed state of their own (typing indicators that expire).
  virtual void on_tick(std::uint32_t now_seconds) {}
};

}  // namespace sb::transport
