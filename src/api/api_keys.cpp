#include "api/api_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace sb::api {

static std::string sha256(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<char*>(d), sizeof d);
}

ApiKeys::ApiKeys(std::vector<std::string> keys) {
  for (const auto& k : keys)
    if (!k.empty()) digests_.push_back(sha256(k));
}

Status ApiKeys::check(std::string_view header, bool loopback) const {
  if (digests_.empty()) {
    if (loopback) return Ok{};
    return make_error(ErrorCode::auth_failed, "no API key is configured: the HTTP API answers on loopback only");
  }
  constexpr std::string_view scheme = "Bearer ";
  // The scheme name is case-insensitive (RFC 7235 2.1).
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
  bool scheme_ok = header.size() > scheme.size();
  for (std::size_t i = 0; scheme_ok && i < scheme.size(); ++i) scheme_ok = lower(header[i]) == lower(scheme[i]);
  if (!scheme_ok)
    return make_error(ErrorCode::auth_failed, "missing 'Authorization: Bearer <api key>'");
  const std::string digest = sha256(header.substr(scheme.size()));
  bool match = false;
  // Compare with every key, without stopping early, so timing does not tell which one matched.
  for (const auto& d : digests_) match |= CRYPTO_memcmp(d.data(), digest.data(), d.size()) == 0;
  if (!match) return make_error(ErrorCode::auth_failed, "invalid API key");
  return Ok{};
}

}  // namespace sb::api
