#pragma once
// The bodies of the proxy calls and the `result`s the backend answers (docs/backend.md#proxies).
// Client values (`data`) are the exact JSON bytes the client sent; `info` values are serialized
// JSON objects.
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace sb::backend {

// `user` is left out when empty (connect: no verified token); `data` when empty.
std::string connect_body(std::string_view client, std::string_view remote_addr, std::string_view user,
                         std::string_view data);
std::string refresh_body(std::string_view client, std::string_view user);
std::string subscribe_body(std::string_view client, std::string_view user, std::string_view channel,
                           std::string_view data);
std::string publish_body(std::string_view client, std::string_view user, std::string_view channel,
                         std::string_view data);
std::string rpc_body(std::string_view client, std::string_view user, std::string_view method, std::string_view data);

// connect: {"user"?: string, "info"?: object, "channels"?: [string], "expire_at"?: integer}
struct ConnectResult {
  std::string user;
  std::string info;  // serialized object, or empty
  std::vector<std::string> channels;
  std::int64_t expire_at = 0;  // unix seconds; 0: never
};
Result<ConnectResult> connect_result(const boost::json::value& result);

// refresh: {"expire_at": integer, "info"?: object}
struct RefreshResult {
  std::int64_t expire_at = 0;
  std::optional<std::string> info;
};
Result<RefreshResult> refresh_result(const boost::json::value& result);

// subscribe: {"info"?: object} → the serialized info, or empty.
Result<std::string> subscribe_result(const boost::json::value& result);

// publish: {} accepts, {"data": <any>} replaces: the serialized replacement, or nullopt.
Result<std::optional<std::string>> publish_result(const boost::json::value& result);

// rpc: {"data"?: <any>} → the serialized data ("null" when absent).
Result<std::string> rpc_result(const boost::json::value& result);

}  // namespace sb::backend
