#include "api/json_io.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sb::api {

namespace json = boost::json;

transport::HttpResponse json_response(const json::value& v) {
  return transport::HttpResponse{200, "application/json", json::serialize(v), {}};
}

Error invalid(std::string message) { return make_error(ErrorCode::invalid_message, std::move(message)); }

transport::HttpResponse method_not_allowed(std::string_view allowed) {
  transport::HttpResponse r = error_response(invalid("method not allowed; use " + std::string(allowed)), 405);
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

transport::HttpResponse no_such_endpoint(std::string_view path) {
  return error_response(make_error(ErrorCode::not_found, "no such endpoint: " + std::string(path)));
}

Result<protocol::JsonObject> parse_raw_object(const transport::HttpRequest& request) {
  auto body = protocol::JsonObject::parse(request.body, "malformed JSON body", "the body must be a JSON object");
  if (!body) return body.error();
  if (!body->finite()) return protocol::non_finite_error();
  return body;
}

Result<json::object> parse_object(const transport::HttpRequest& request) {
  if (auto ok = protocol::check_json(request.body, "malformed JSON body"); !ok) return ok.error();
  json::error_code ec;
  json::value v = json::parse(request.body, ec);
  if (ec) return invalid("malformed JSON body: " + ec.message());
  if (!v.is_object()) return invalid("the body must be a JSON object");
  return std::move(v.get_object());
}

bool cluster_scope(const transport::HttpRequest& request, Status& bad) {
  std::string scope;
  if (!request.query_param("scope", scope) || scope == "node") return false;
  if (scope != "cluster") bad = invalid("'scope' is node or cluster, got '" + scope + "'");
  return true;
}

json::array channels_json(const core::Hub& hub, std::string_view prefix) {
  json::array list;
  for (const auto& c : hub.channels(prefix))
    list.push_back(json::object{{"channel", c.channel}, {"subscribers", c.subscribers}});
  return list;
}

}  // namespace sb::api
