// Subscriptions the server makes for a connection when it connects, for clients that only
// listen (a dashboard page, an RxJS webSocket()): the channels of the token's `subs` claim, and
// the upgrade URL's `?channel=` in namespaces with url_subscribe. Rules: docs/security.md.
#include "protocol/native/codec.hpp"
#include "session/client.hpp"

namespace sb::session {

namespace native = protocol::native;

void Client::subscribe_at_connect(bool claims) {
  if (claims && identity_.claims)
    for (const std::string& channel : identity_.claims->subs)
      if (auto done = subscribe_by_claim(channel); !done) send_frame(native::encode_channel_error(channel, done.error()));
  // Taken once: a later `connect` does not subscribe the URL's channels again.
  std::vector<std::string> channels = std::move(url_channels_);
  url_channels_.clear();
  for (const std::string& channel : channels)
    if (auto done = subscribe_by_url(channel); !done) send_frame(native::encode_channel_error(channel, done.error()));
}

// The token was signed by the application's backend for this user: naming a channel in `subs`
// authorizes it as a subscription token would, in every namespace.
Status Client::subscribe_by_claim(const std::string& channel) {
  auto ns = services_.namespaces.resolve(channel);
  if (!ns) return ns.error();
  if (auto room = check_room(channel); !room) return room;
  return subscribe({}, channel, **ns, nullptr);
}

// A URL is anyone's to write: only namespaces that opt in, with the checks of a `subscribe`
// without a subscription token (so never a private namespace's channel).
Status Client::subscribe_by_url(const std::string& channel) {
  auto ns = services_.namespaces.resolve(channel);
  if (!ns) return ns.error();
  if (!(*ns)->url_subscribe)
    return make_error(ErrorCode::permission_denied, "this namespace does not allow subscribing by URL (url_subscribe)");
  if (auto room = check_room(channel); !room) return room;
  // No subscription token, so `now` is never used: a private namespace refuses before.
  if (auto allowed = check_subscribe(**ns, channel, identity_, {}, services_.verifier, 0); !allowed) return allowed;
  return subscribe({}, channel, **ns, nullptr);
}

}  // namespace sb::session
