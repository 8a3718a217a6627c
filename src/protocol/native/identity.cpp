#include "protocol/native/identity.hpp"

#include "protocol/json_text.hpp"
#include "protocol/native/codec.hpp"

namespace sb::protocol::native {

namespace {

Error invalid(std::string message) { return make_error(ErrorCode::invalid_message, std::move(message)); }

std::string make_from(std::string_view user, std::string_view client, std::string_view info, bool verified) {
  std::string s;
  s.reserve(user.size() + client.size() + info.size() + 48);
  s.append(R"({"user":)").append(json_quote(user));
  s.append(R"(,"client":)").append(json_quote(client));
  if (!info.empty()) s.append(R"(,"info":)").append(info);
  if (!verified) s.append(R"(,"verified":false)");
  s.push_back('}');
  return s;
}

}  // namespace

std::string from_json(const core::Member& sender, bool verified) {
  return make_from(sender.user, sender.client, sender.info, verified);
}

Result<std::string> check_from(std::string_view raw) {
  if (raw.size() > max_from_bytes)
    return invalid("field 'from' must be at most " + std::to_string(max_from_bytes) + " bytes");
  auto from = JsonObject::parse(raw, "field 'from' must be an object", "field 'from' must be an object");
  if (!from) return from.error();
  std::string user;
  std::string client;
  std::string_view info;
  if (auto v = from->find("user")) {
    if (!raw::is_string(*v)) return invalid("field 'from.user' must be a string");
    user = raw::string_value(*v);
  }
  if (auto v = from->find("client")) {
    if (!raw::is_string(*v)) return invalid("field 'from.client' must be a string");
    client = raw::string_value(*v);
  }
  if (auto v = from->find("info")) {
    if (!raw::is_object(*v)) return invalid("field 'from.info' must be an object");
    info = *v;
  }
  return make_from(user, client, info, /*verified=*/true);
}

}  // namespace sb::protocol::native
