#pragma once
// HTTP API authentication: `Authorization: Bearer <key>` against a set of named keys (several
// at once, for rotation). With no key configured the API answers only on loopback.
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace sb::api {

class ApiKeys {
 public:
  // `names` (parallel to `keys`, may be shorter) label the keys in logs; unnamed ones are keyN.
  explicit ApiKeys(std::vector<std::string> keys, std::vector<std::string> names = {});
  bool empty() const noexcept { return digests_.empty(); }
  // Checks the Authorization header of a request from `loopback` or not.
  // On success with a key, `matched` (if given) gets the key's name.
  Status check(std::string_view authorization_header, bool loopback, std::string* matched = nullptr) const;

 private:
  // SHA-256 of each key: comparing digests in constant time hides both content and length.
  std::vector<std::string> digests_;
  std::vector<std::string> names_;
};

}  // namespace sb::api
