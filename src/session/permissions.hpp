#pragma once
// Who may do what on a channel: the rules of docs/security.md in one place.
#include <cstdint>
#include <memory>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"
#include "common/error.hpp"
#include "core/namespaces.hpp"

namespace sb::session {

// What the server knows about a connection's user.
struct Identity {
  // A token was checked (user and claims come from it), or the backend's connect proxy named the
  // user: either way the user is the app's word, not the client's.
  bool verified = false;
  std::string user;       // the token's sub, or what an anonymous client declared in `connect`
  std::string info;       // serialized JSON object, or empty
  // The token's claims, when verified. On the heap: most connections of a busy server are idle
  // subscribers, and this is most of a client's size.
  std::shared_ptr<const auth::Claims> claims;
  // Set by the backend's connect or refresh proxy (unix seconds): overrides the token's exp.
  std::int64_t expire_at = 0;
  const std::vector<std::string>& channels() const;
  const std::vector<std::string>& publish() const;
  std::int64_t expires() const { return expire_at ? expire_at : claims ? claims->exp : 0; }
};

// The user a personal channel belongs to (`user#42` or `ns:user#42` → "42"), or nullopt.
std::optional<std::string_view> personal_channel_owner(std::string_view channel);

// `subscription_token` is checked only in private namespaces, with `verifier` at `now`.
Status check_subscribe(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity,
                       std::string_view subscription_token, const auth::JwtVerifier* verifier, std::int64_t now);
// Client publish (and stream_cancel, which is a write for everyone on the channel).
Status check_publish(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity);
// Client events and typing, from a subscribed client: allowed by the namespace's client_events
// (its subscription already passed the access rules), else under the rules of check_publish.
Status check_event(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity);

}  // namespace sb::session
