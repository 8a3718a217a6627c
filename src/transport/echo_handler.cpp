#include "transport/echo_handler.hpp"

#include "common/bytes.hpp"
#include "transport/ws_connection.hpp"
#include "transport/ws_frame.hpp"

namespace sb::transport {

void EchoHandler::on_message(std::string_view payload, bool binary) {
  if (connection_ == nullptr) return;
  connection_->send(make_shared_bytes(encode_frame(binary ? WsOpcode::binary : WsOpcode::text, payload)));
}

}  // namespace sb::transport
