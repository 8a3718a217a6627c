#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace sb::broker {

struct RedisAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;  // empty: AUTH <password> (the default user)
  std::string password;
  int db = 0;
};

// redis://[[user]:password@]host[:port][/db], host a name, an IPv4 or a bracketed IPv6 address.
// An error names what is wrong.
Result<RedisAddress> parse_redis_url(std::string_view url);

}  // namespace sb::broker
