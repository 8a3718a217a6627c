// The parts of a Client that say who it is and whether it is still doing anything: the `from`
// stamped on what it causes (docs/protocol.md, "Publisher identity") and its idle time
// (limits.idle_timeout).
#include "protocol/native/identity.hpp"
#include "session/client.hpp"
#include "transport/worker.hpp"

namespace sb::session {

// Made from the connection's identity each time it is needed, not kept: a publication encodes it
// once for all its subscribers, and an idle connection holds no copy of it.
std::string Client::from() const { return protocol::native::from_json(member(), identity_.verified); }

void Client::note_activity(const protocol::native::Command& command) {
  // A JSON `ping` is a keepalive like a WebSocket ping or pong (which never reach the handler):
  // SDKs send it on their own whenever the server was quiet, so it says nothing of the user.
  // Before the connection may act, quiet_since_ is the upgrade's time, which auth_timeout counts
  // from: requests then must not push it back (the `connect` that lets it act does, once it has).
  if (command.type == protocol::native::CommandType::ping || !connection_ || !may_act()) return;
  quiet_since_ = connection_->worker().now_seconds();
}

bool Client::idle(std::uint32_t now) const {
  return services_.idle_timeout_seconds != 0 && now - quiet_since_ >= services_.idle_timeout_seconds;
}

}  // namespace sb::session
