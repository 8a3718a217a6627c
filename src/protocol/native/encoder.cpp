#include "protocol/native/encoder.hpp"

#include "core/publication.hpp"
#include "protocol/native/codec.hpp"
#include "transport/ws_frame.hpp"

namespace sb::protocol::native {

SharedBytes NativeEncoder::encode(const core::Publication& publication) const {
  std::string json = message_json(publication);
  std::string frame;
  frame.reserve(json.size() + 10);
  transport::append_frame_header(frame, transport::WsOpcode::text, json.size());
  frame.append(json);
  return make_shared_bytes(std::move(frame));
}

}  // namespace sb::protocol::native
