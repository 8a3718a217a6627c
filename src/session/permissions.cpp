#include "session/permissions.hpp"

#include "core/channel_name.hpp"

namespace sb::session {

namespace {
Error denied(std::string message) { return make_error(ErrorCode::permission_denied, std::move(message)); }
const std::vector<std::string> no_patterns;
}  // namespace

const std::vector<std::string>& Identity::channels() const { return claims ? claims->channels : no_patterns; }
const std::vector<std::string>& Identity::publish() const { return claims ? claims->publish : no_patterns; }

std::optional<std::string_view> personal_channel_owner(std::string_view channel) {
  std::string_view local = channel;
  if (auto colon = local.find(':'); colon != std::string_view::npos) local = local.substr(colon + 1);
  constexpr std::string_view prefix = "user#";
  if (local.substr(0, prefix.size()) != prefix) return std::nullopt;
  return local.substr(prefix.size());
}

Status check_subscribe(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity,
                       std::string_view subscription_token, const auth::JwtVerifier* verifier, std::int64_t now) {
  if (auto owner = personal_channel_owner(channel)) {
    // Only a verified user owns anything: an anonymous client's `user` is only what it said.
    if (!identity.verified || identity.user != *owner) return denied("a personal channel is its own user's only");
    return Ok{};
  }
  switch (ns.access) {
    case core::Access::open:
      return Ok{};
    case core::Access::protected_:
      if (!identity.verified) return denied("this namespace needs a token");
      if (!auth::any_matches(identity.channels(), channel))
        return denied("the token's 'channels' claim does not allow this channel");
      return Ok{};
    case core::Access::private_: {
      if (!identity.verified) return denied("this namespace needs a token");
      if (subscription_token.empty()) return denied("this namespace needs a subscription token ('token' in subscribe)");
      if (!verifier) return denied("no key is configured to check subscription tokens");
      auto claims = verifier->verify(subscription_token, now);
      if (!claims) return denied("subscription token refused: " + claims.error().message);
      if (claims->channel != channel) return denied("the subscription token is for another channel");
      if (claims->sub != identity.user) return denied("the subscription token is for another user");
      return Ok{};
    }
  }
  return denied("unknown access rule");
}

Status check_publish(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity) {
  if (!ns.client_publish) return denied("clients may not publish in this namespace (client_publish = false)");
  if (auto owner = personal_channel_owner(channel)) {
    if (!identity.verified || identity.user != *owner) return denied("a personal channel is its own user's only");
    return Ok{};
  }
  // Same rule as subscribing: anyone connected in an open namespace, the `publish` claim in
  // protected and private ones.
  if (ns.access == core::Access::open) return Ok{};
  if (!identity.verified) return denied("this namespace needs a token");
  if (!auth::any_matches(identity.publish(), channel))
    return denied("the token's 'publish' claim does not allow this channel");
  return Ok{};
}

Status check_event(const core::NamespaceOptions& ns, std::string_view channel, const Identity& identity) {
  if (ns.client_events) return Ok{};
  return check_publish(ns, channel, identity);
}

}  // namespace sb::session
