#include "backend/webhook_signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <cstdlib>

namespace sb::backend {

namespace {

// Over the timestamp's text as sent: a receiver signs the header's bytes, not a number it parsed.
std::string sign_text(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string message(timestamp);
  message.push_back('.');
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(digits[mac[i] >> 4]);
    out.push_back(digits[mac[i] & 15]);
  }
  return out;
}

}  // namespace

std::string sign_webhook(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  return sign_text(secret, std::to_string(timestamp), body);
}

bool verify_webhook(std::string_view secret, std::string_view timestamp, std::string_view body,
                    std::string_view signature, std::int64_t now, std::int64_t window_seconds) {
  std::int64_t sent = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), sent);
  if (ec != std::errc{} || end != timestamp.data() + timestamp.size()) return false;
  if (std::llabs(now - sent) > window_seconds) return false;
  const std::string expected = sign_text(secret, timestamp, body);
  return expected.size() == signature.size() &&
         CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

}  // namespace sb::backend
