// Fuzz target: token verification with a fixed HS256 key. Any input is AUTH_FAILED or valid
// claims (the fuzzer cannot forge an HMAC), never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sb::auth::JwtVerifier verifier({sb::auth::key_from_secret("fuzzing-secret-0123456789-0123456789")},
                                              std::chrono::seconds(5));
  auto claims = verifier.verify(std::string_view(reinterpret_cast<const char*>(data), size), 1'800'000'000);
  if (claims.ok()) std::abort();  // a forged token got through
  return 0;
}
