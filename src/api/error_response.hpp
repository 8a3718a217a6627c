#pragma once
// The one place a JSON error body is built: {"error":{"code":..,"message":..,"retryable":..}}
// (docs/errors.md). The API's own errors, and the refusals transport renders through it.
#include "common/error.hpp"
#include "transport/http_types.hpp"
#include "transport/server.hpp"

namespace sb::api {

// With the status that goes with the code.
transport::HttpResponse error_response(const Error& error);
// With another status: 405, 415, 426, where the error code's own would be 400.
transport::HttpResponse error_response(const Error& error, int status);
// A refusal transport made by itself, rendered like the API's errors (the server's RefusalRenderer).
transport::HttpResponse refusal_response(const transport::Refusal& refusal);

}  // namespace sb::api
