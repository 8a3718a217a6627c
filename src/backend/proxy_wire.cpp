#include "backend/proxy_wire.hpp"

#include <boost/json/serialize.hpp>

#include "protocol/native/codec.hpp"

namespace sb::backend {

namespace json = boost::json;
using protocol::native::json_quote;

namespace {

Error bad(std::string why) { return make_error(ErrorCode::backend_error, std::move(why)); }

// `{"client":"...","user":"..."` with the user left out when `with_user` is false.
std::string start(std::string_view client, std::string_view user, bool with_user = true) {
  std::string s;
  s.reserve(128);
  s.append(R"({"client":)").append(json_quote(client));
  if (with_user) s.append(R"(,"user":)").append(json_quote(user));
  return s;
}

const json::object* result_object(const json::value& v) { return v.if_object(); }

// An optional object member, serialized; an error when present and not an object.
Result<std::string> optional_info(const json::object& o, std::string_view hook) {
  const json::value* info = o.if_contains("info");
  if (!info || info->is_null()) return std::string();
  if (!info->is_object()) return bad(std::string(hook) + ": 'info' must be an object");
  return json::serialize(*info);
}

}  // namespace

std::string connect_body(std::string_view client, std::string_view remote_addr, std::string_view user,
                         std::string_view data) {
  std::string s = start(client, user, !user.empty());
  s.append(R"(,"transport":"websocket","remote_addr":)").append(json_quote(remote_addr));
  if (!data.empty()) s.append(R"(,"data":)").append(data);
  s.push_back('}');
  return s;
}

std::string refresh_body(std::string_view client, std::string_view user) { return start(client, user) + "}"; }

std::string subscribe_body(std::string_view client, std::string_view user, std::string_view channel,
                           std::string_view data) {
  std::string s = start(client, user);
  s.append(R"(,"channel":)").append(json_quote(channel));
  if (!data.empty()) s.append(R"(,"data":)").append(data);
  s.push_back('}');
  return s;
}

std::string publish_body(std::string_view client, std::string_view user, std::string_view channel,
                         std::string_view data) {
  std::string s = start(client, user);
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"data":)").append(data.empty() ? std::string_view("null") : data);
  s.push_back('}');
  return s;
}

std::string rpc_body(std::string_view client, std::string_view user, std::string_view method, std::string_view data) {
  std::string s = start(client, user);
  s.append(R"(,"method":)").append(json_quote(method));
  s.append(R"(,"data":)").append(data.empty() ? std::string_view("null") : data);
  s.push_back('}');
  return s;
}

Result<ConnectResult> connect_result(const json::value& v) {
  const json::object* o = result_object(v);
  if (!o) return bad("connect: 'result' must be an object");
  ConnectResult r;
  if (const json::value* user = o->if_contains("user"); user && !user->is_null()) {
    if (!user->is_string()) return bad("connect: 'user' must be a string");
    r.user = std::string(user->as_string());
  }
  auto info = optional_info(*o, "connect");
  if (!info) return info.error();
  r.info = std::move(*info);
  if (const json::value* channels = o->if_contains("channels"); channels && !channels->is_null()) {
    const json::array* a = channels->if_array();
    if (!a) return bad("connect: 'channels' must be an array of strings");
    for (const json::value& c : *a) {
      if (!c.is_string()) return bad("connect: 'channels' must be an array of strings");
      r.channels.emplace_back(c.as_string());
    }
  }
  if (const json::value* exp = o->if_contains("expire_at"); exp && !exp->is_null()) {
    if (!exp->is_int64() || exp->as_int64() < 0) return bad("connect: 'expire_at' must be unix seconds");
    r.expire_at = exp->as_int64();
  }
  return r;
}

Result<RefreshResult> refresh_result(const json::value& v) {
  const json::object* o = result_object(v);
  const json::value* exp = o ? o->if_contains("expire_at") : nullptr;
  if (!exp || !exp->is_int64() || exp->as_int64() <= 0)
    return bad("refresh: 'result' must be an object with 'expire_at' (unix seconds)");
  RefreshResult r;
  r.expire_at = exp->as_int64();
  if (o->contains("info")) {
    auto info = optional_info(*o, "refresh");
    if (!info) return info.error();
    r.info = std::move(*info);
  }
  return r;
}

Result<std::string> subscribe_result(const json::value& v) {
  const json::object* o = result_object(v);
  if (!o) return bad("subscribe: 'result' must be an object");
  return optional_info(*o, "subscribe");
}

Result<std::optional<std::string>> publish_result(const json::value& v) {
  const json::object* o = result_object(v);
  if (!o) return bad("publish: 'result' must be an object");
  const json::value* data = o->if_contains("data");
  if (!data) return std::optional<std::string>();
  return std::optional<std::string>(json::serialize(*data));
}

Result<std::string> rpc_result(const json::value& v) {
  const json::object* o = result_object(v);
  if (!o) return bad("rpc: 'result' must be an object");
  const json::value* data = o->if_contains("data");
  return data ? json::serialize(*data) : std::string("null");
}

}  // namespace sb::backend
