#pragma once
// The signature of a webhook request (docs/backend.md, "Webhooks"):
//
//   X-Switchboard-Timestamp: <unix seconds when the request was sent>
//   X-Switchboard-Signature: sha256=<lowercase hex HMAC-SHA256 under the secret of "<timestamp>.<body>">
//
// The timestamp is inside what is signed, so a captured request cannot be replayed later under a
// fresh timestamp; a receiver refuses a timestamp further than its replay window (5 minutes is
// the documented default) from its own clock, and drops event ids it has already seen.
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::backend {

inline constexpr std::string_view signature_header = "X-Switchboard-Signature";
inline constexpr std::string_view timestamp_header = "X-Switchboard-Timestamp";

// "sha256=<hex>" for `body` sent at `timestamp`.
std::string sign_webhook(std::string_view secret, std::int64_t timestamp, std::string_view body);

// What a receiver does: true when `signature` is sign_webhook's for these bytes (compared in
// constant time) and `timestamp` (the header's text) is within `window_seconds` of `now`.
bool verify_webhook(std::string_view secret, std::string_view timestamp, std::string_view body,
                    std::string_view signature, std::int64_t now, std::int64_t window_seconds = 300);

}  // namespace sb::backend
