#pragma once
// The `/echo` endpoint (config `echo_endpoint`, off by default): a test aid for WebSocket
// conformance suites such as the Autobahn testsuite, so that they drive the real framing code.
// Every text and binary message goes back as it came, as one unfragmented, uncompressed frame of
// the same kind (compressed messages are inflated and answered uncompressed, as the server's own
// frames always are). No protocol, no JSON; the same limits as /ws (message size, frame rate,
// send queue). Its checks (framing, UTF-8, close codes) are the connection's, shared with /ws.
#include <memory>
#include <string_view>

#include "transport/ws_handler.hpp"

namespace sb::transport {

class EchoHandler final : public WsHandler {
 public:
  void on_open(WsConnection& connection) override { connection_ = &connection; }
  void on_message(std::string_view payload, bool binary) override;
  void on_close() override { connection_ = nullptr; }

 private:
  WsConnection* connection_ = nullptr;
};

}  // namespace sb::transport
