#pragma once
// Cross-site WebSocket hijacking defence: a browser's upgrade carries an Origin, and only the
// server's own host and configured origins may open a connection that rides the user's cookies.
#include <string>
#include <string_view>
#include <vector>

namespace sb::api {

// `origin` is the Origin header ("https://app.example.com"), `host` the Host header. Allowed: no
// Origin (not a browser); an origin whose host is `host` (ports compared too); an exact or
// wildcard ("https://*.example.com") entry of `allowed`; and, only while `allowed` is empty,
// localhost, 127.0.0.1 and [::1] (development).
bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);

}  // namespace sb::api
