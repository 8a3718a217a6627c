#include "session/upgrade_gate.hpp"

#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace sb::session {

namespace {

// `?token=` first, else `Authorization: Bearer <token>`; empty when neither is there.
std::string upgrade_token(const transport::HttpRequest& request) {
  std::string token;
  if (request.query_param("token", token) && !token.empty()) return token;
  std::string_view header = request.header("Authorization");
  // The scheme is case-insensitive (RFC 7235).
  if (header.size() > 7 && transport::iequals(header.substr(0, 7), "Bearer ")) return std::string(header.substr(7));
  return {};
}

}  // namespace

Result<std::unique_ptr<Client>> UpgradeGate::open(const transport::HttpRequest& request, std::size_t shard,
                                                  boost::asio::io_context& io) const {
  if (!origins_.origin_allowed(request.header("Origin"), request.header("Host")))
    return make_error(ErrorCode::permission_denied, "origin not allowed");
  auto identity = identity_of(request);
  if (!identity) return identity.error();
  if (auto admitted = admit(request.remote_address); !admitted) return admitted.error();
  // Loopback trust needs a Host a rebinding page cannot take.
  const bool loopback = request.remote_is_loopback && origins_.host_allowed(request.header("Host"));
  const bool anonymous = anonymous_ == AnonymousAccess::always || (anonymous_ == AnonymousAccess::loopback && loopback);
  auto client = std::make_unique<Client>(services_, shard, io, std::move(*identity), anonymous, request.remote_address);
  // Checked by the client when it may act: a refused channel is an error frame, not a refused upgrade.
  client->set_url_channels(request.query_params("channel"));
  // Copied only when there is a backend to hand them to (Cookie, Authorization, X-*, as configured).
  if (services_.proxy) {
    transport::HttpHeaders passed;
    for (const auto& [name, value] : request.headers)
      if (services_.proxy->passes_header(name)) passed.emplace_back(name, value);
    client->set_proxy_headers(std::move(passed));
  }
  return client;
}

Result<Identity> UpgradeGate::identity_of(const transport::HttpRequest& request) const {
  Identity identity;
  const std::string token = upgrade_token(request);
  if (token.empty()) return identity;
  auto claims = services_.verifier
                    ? services_.verifier->verify(token, unix_millis() / 1000)
                    : Result<auth::Claims>(make_error(ErrorCode::auth_failed, "tokens are not accepted: no key is configured"));
  if (!claims) return claims.error();
  identity.verified = true;
  identity.user = claims->sub;
  identity.info = claims->info;
  identity.claims = std::make_shared<const auth::Claims>(std::move(*claims));
  return identity;
}

Status UpgradeGate::admit(const std::string& address) const {
  if (!services_.admission) return Ok{};
  switch (services_.admission->admit(address)) {
    case Admission::Verdict::ok: return Ok{};
    case Admission::Verdict::server_full: return make_error(ErrorCode::unavailable, "server full (max_connections)");
    case Admission::Verdict::ip_full:
      return make_error(ErrorCode::rate_limit, "too many connections from this address");
  }
  return Ok{};
}

}  // namespace sb::session
