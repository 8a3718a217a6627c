#pragma once
// What the API's endpoints share (api/*_handlers.cpp, cluster_queries.cpp, metrics.cpp): reading
// a request's JSON body and query, and writing a JSON answer. Not for use outside src/api/.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

#include "api/error_response.hpp"
#include "common/error.hpp"
#include "core/hub.hpp"
#include "protocol/json_text.hpp"
#include "transport/http_types.hpp"

namespace sb::api {

// 200 with `v` serialized.
transport::HttpResponse json_response(const boost::json::value& v);
// INVALID_MESSAGE with `message`.
Error invalid(std::string message);
// 405 with the Allow header.
transport::HttpResponse method_not_allowed(std::string_view allowed);
// 404 NOT_FOUND "no such endpoint: <path>".
transport::HttpResponse no_such_endpoint(std::string_view path);

// A body whose values the server passes on (publish, broadcast, streams): checked, and split
// into raw slices so `data` and `meta` reach everyone as the exact bytes sent.
Result<protocol::JsonObject> parse_raw_object(const transport::HttpRequest& request);
// A body the server only reads. Checked by the same rules first, so that no endpoint accepts
// a number the others refuse.
Result<boost::json::object> parse_object(const transport::HttpRequest& request);

// Whether the request asks for ?scope=cluster (false for none or scope=node); `bad` gets the
// error for any other scope (then the answer is true).
bool cluster_scope(const transport::HttpRequest& request, Status& bad);

// This node's channels with subscribers, as the API lists them: [{"channel":..,"subscribers":..}].
boost::json::array channels_json(const core::Hub& hub, std::string_view prefix);

}  // namespace sb::api
