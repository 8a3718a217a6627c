#include "api/error_response.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace sb::api {

namespace json = boost::json;

namespace {

transport::HttpResponse error_body(int status, std::string_view code, std::string_view message, bool retryable) {
  json::object body{{"error", json::object{{"code", code}, {"message", message}, {"retryable", retryable}}}};
  return transport::HttpResponse{status, "application/json", json::serialize(body), {}};
}

}  // namespace

transport::HttpResponse error_response(const Error& error) {
  return error_response(error, error_code_http_status(error.code));
}

transport::HttpResponse error_response(const Error& error, int status) {
  return error_body(status, error_code_name(error.code), error.message, error.retryable());
}

transport::HttpResponse refusal_response(const transport::Refusal& refusal) {
  return error_body(refusal.status, refusal.code, refusal.message, refusal.retryable);
}

}  // namespace sb::api
