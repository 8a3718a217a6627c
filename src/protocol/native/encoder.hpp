#pragma once
#include "core/subscriber.hpp"

namespace sb::protocol::native {

// Encodes a publication as a native `message` frame, WebSocket header included, once for all
// subscribers.
class NativeEncoder final : public core::PublicationEncoder {
 public:
  SharedBytes encode(const core::Publication& publication) const override;
};

}  // namespace sb::protocol::native
