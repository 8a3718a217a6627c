#include "api/api_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace sb::api {

static std::string sha256(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<char*>(d), sizeof d);
}

ApiKeys::ApiKeys(std::vector<std::string> keys, std::vector<std::string> names) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty()) continue;
    digests_.push_back(sha256(keys[i]));
    names_.push_back(i < names.size() && !names[i].empty() ? names[i] : "key" + std::to_string(i + 1));
  }
}

Status ApiKeys::check(std::string_view header, bool loopback, std::string* matched) const {
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
  std::size_t which = digests_.size();
  // Compare with every key, without stopping early, so timing does not tell which one matched.
  for (std::size_t i = 0; i < digests_.size(); ++i)
    if (CRYPTO_memcmp(digests_[i].data(), digest.data(), digest.size()) == 0) which = i;
  if (which == digests_.size()) return make_error(ErrorCode::auth_failed, "invalid API key");
  if (matched) *matched = names_[which];
  return Ok{};
}

}  // namespace sb::api
