#pragma once
// JSON Web Tokens (RFC 7519) signed with HS256/384/512, RS256/384/512 or ES256/384, checked with
// OpenSSL's EVP primitives. The key decides the algorithm family: a shared secret only verifies
// HS*, an RSA key only RS*, an EC key only its own curve's ES*; `alg: none` is never accepted.
// That closes the classic confusions (HS256 signed with an RSA public key taken as a secret).
#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace sb::auth {

struct Claims {
  std::string sub;                    // the user id
  std::string info;                   // serialized JSON object shown in presence, or empty
  std::vector<std::string> channels;  // patterns the user may subscribe to (protected namespaces)
  std::vector<std::string> publish;   // patterns the user may publish to
  std::vector<std::string> subs;      // channels the server subscribes the connection to at connect
  std::string channel;                // subscription tokens: the one channel they open
  std::int64_t exp = 0;               // seconds since the epoch; 0: none
  std::int64_t nbf = 0;
};

struct EvpKeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// One verification key: a shared secret or a public key, with an optional `kid`.
struct JwtKey {
  std::string kid;
  std::string secret;  // HS*: the shared secret
  std::shared_ptr<EVP_PKEY> public_key;  // RS*/ES*
};

class JwtVerifier {
 public:
  JwtVerifier() = default;
  JwtVerifier(std::vector<JwtKey> keys, std::chrono::seconds leeway);
  bool empty() const noexcept { return keys_.empty(); }

  // Checks the signature with the key the header's `kid` names (or each key when there is no
  // kid), then exp and nbf against `now` (seconds since the epoch) with the leeway.
  Result<Claims> verify(std::string_view token, std::int64_t now) const;

 private:
  std::vector<JwtKey> keys_;
  std::chrono::seconds leeway_{0};
};

// Key loading, for the server's configuration. Throw std::runtime_error with the reason.
JwtKey key_from_secret(std::string secret, std::string kid = {});
JwtKey key_from_pem_file(const std::string& path, std::string kid = {});
std::vector<JwtKey> keys_from_jwks_file(const std::string& path);
std::vector<JwtKey> keys_from_jwks(std::string_view json_text);

// `*` matches any run of characters; everything else literally ("chat:*", "user#42").
bool channel_matches(std::string_view pattern, std::string_view channel);
bool any_matches(const std::vector<std::string>& patterns, std::string_view channel);

// Token creation, for tests and tools (the app's backend normally signs with its own library).
std::string sign_hs(std::string_view alg, std::string_view secret, std::string_view payload_json,
                    std::string_view kid = {});
std::string sign_with_key(std::string_view alg, EVP_PKEY* private_key, std::string_view payload_json,
                          std::string_view kid = {});
std::string base64url_encode(std::string_view data);
bool base64url_decode(std::string_view in, std::string& out);

}  // namespace sb::auth
