#include "session/upgrade_gate.hpp"

#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace sb::session {

namespace {

// The value of cookie `name` in the Cookie header, or empty.
std::string_view cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    const auto semicolon = cookies.find(';');
    std::string_view item = cookies.substr(0, semicolon);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=')
      return item.substr(name.size() + 1);
    if (semicolon == std::string_view::npos) break;
    cookies.remove_prefix(semicolon + 1);
  }
  return {};
}

// `?token=` first, else `Authorization: Bearer <token>`, else (streams only) the
// `switchboard_token` cookie; empty when none is there.
std::string upgrade_token(const transport::HttpRequest& request, bool cookie) {
  std::string token;
  if (request.query_param("token", token) && !token.empty()) return token;
  std::string_view header = request.header("Authorization");
  // The scheme is case-insensitive (RFC 7235).
  if (header.size() > 7 && transport::iequals(header.substr(0, 7), "Bearer ")) return std::string(header.substr(7));
  if (cookie) return std::string(cookie_value(request.header("Cookie"), "switchboard_token"));
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
  auto client = std::make_unique<Client>(services_, shard, io, std::move(*identity), anonymous_allowed(request),
                                        request.remote_address);
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

Result<std::unique_ptr<SseClient>> UpgradeGate::open_stream(const transport::HttpRequest& request, std::size_t shard,
                                                            boost::asio::io_context& io, StreamFormat format) const {
  if (!origins_.origin_allowed(request.header("Origin"), request.header("Host")))
    return make_error(ErrorCode::permission_denied, "origin not allowed");
  auto identity = identity_of(request, /*cookie=*/true);
  if (!identity) return identity.error();
  // A stream cannot send a token later: it acts now or never.
  if (!identity->verified && !anonymous_allowed(request))
    return make_error(ErrorCode::auth_failed, "a token is required (?token=, Authorization: Bearer, or the "
                                              "switchboard_token cookie)");
  const std::vector<std::string> channels = request.query_params("channel");
  // Where the client stands, from the browser's automatic reconnect or given by hand; one that
  // does not fit the channels is ignored (a fresh start).
  std::string last_id(request.header("Last-Event-ID"));
  if (last_id.empty()) request.query_param("last_event_id", last_id);
  const auto since = last_id.empty() ? std::nullopt : parse_stream_id(last_id, channels.size());
  if (auto admitted = admit(request.remote_address); !admitted) return admitted.error();
  auto client = std::make_unique<SseClient>(services_, shard, io, std::move(*identity), request.remote_address, format);
  if (auto started = client->start(channels, since ? &*since : nullptr); !started) return started.error();
  return client;
}

// Loopback trust needs a Host a rebinding page cannot take.
bool UpgradeGate::anonymous_allowed(const transport::HttpRequest& request) const {
  const bool loopback = request.remote_is_loopback && origins_.host_allowed(request.header("Host"));
  return anonymous_ == AnonymousAccess::always || (anonymous_ == AnonymousAccess::loopback && loopback);
}

Result<Identity> UpgradeGate::identity_of(const transport::HttpRequest& request, bool cookie) const {
  Identity identity;
  const std::string token = upgrade_token(request, cookie);
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
