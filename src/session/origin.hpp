#pragma once
// What a browser can forge and what it cannot. A web page the developer visits may send requests
// to this server (a form post, a fetch without preflight, a WebSocket) and, through DNS
// rebinding, may even do so under a name of its own that resolves to 127.0.0.1. It cannot choose
// the Host header (the browser writes the name in the page's URL), nor its Origin, nor a
// non-simple Content-Type without asking first (a CORS preflight this server never grants).
// So: loopback trust and the same-host origin rule hold only for a Host that is a loopback name
// or address, or one the operator listed; and an Origin is either the server's own or listed.
// Used for WebSocket upgrades (session/upgrade_gate.hpp) and HTTP API requests
// (api/request_gate.hpp).
#include <string>
#include <string_view>
#include <vector>

namespace sb::session {

class OriginPolicy {
 public:
  // `allowed_origins`: exact ("https://app.example.com") or wildcard ("https://*.example.com")
  // origins. `allowed_hosts`: names (or addresses) this server is reached by besides the loopback
  // ones: exact ("chat.example.com") or wildcard ("*.example.com"), without the port.
  OriginPolicy(std::vector<std::string> allowed_origins, std::vector<std::string> allowed_hosts);

  // The Host header names this machine (localhost, 127.0.0.0/8, [::1], any port) or an allowed
  // host. "a.localhost" is not loopback here: whether it resolves to 127.0.0.1 or through DNS
  // depends on the resolver, so a rebinding page could be named that way. List it if you use it.
  bool host_allowed(std::string_view host) const;

  // `origin` is the Origin header, `host` the Host header. Allowed: no Origin (not a browser); an
  // origin whose host and port are `host`, when `host` is allowed; an entry of allowed_origins;
  // and, only while allowed_origins is empty, a page on localhost, 127.0.0.1 or [::1]
  // (development).
  bool origin_allowed(std::string_view origin, std::string_view host) const;

 private:
  std::vector<std::string> origins_;  // lowercase
  std::vector<std::string> hosts_;    // lowercase
};

// "Host:8080" -> "host"; "[::1]:8080" -> "[::1]"; lowercase.
std::string hostname_of(std::string_view authority);

}  // namespace sb::session
