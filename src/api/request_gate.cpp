#include "api/request_gate.hpp"

#include "api/error_response.hpp"

namespace sb::api {

namespace {

transport::HttpResponse refusal(ErrorCode code, std::string message, int status = 0) {
  const Error error = make_error(code, std::move(message));
  return status ? error_response(error, status) : error_response(error);
}

// POST /api/streams/{id}/pipe
bool pipe_path(std::string_view path) {
  return path.size() > 18 && path.substr(0, 13) == "/api/streams/" && path.substr(path.size() - 5) == "/pipe";
}

}  // namespace

bool media_type_is(std::string_view content_type, std::string_view type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  std::size_t begin = 0, end = media.size();
  while (begin < end && (media[begin] == ' ' || media[begin] == '\t')) ++begin;
  while (end > begin && (media[end - 1] == ' ' || media[end - 1] == '\t')) --end;
  return transport::iequals(media.substr(begin, end - begin), type);
}

std::optional<transport::HttpResponse> RequestGate::refuse(const transport::HttpRequest& request,
                                                           std::string* key_name) const {
  const std::string_view host = request.header("Host");
  const std::string_view origin = request.header("Origin");
  // A foreign page is refused whatever it carries: the API never grants it CORS, so it could
  // only act blind, through requests that need none.
  if (!origin.empty() && !origins_.origin_allowed(origin, host))
    return refusal(ErrorCode::permission_denied,
                   "origin '" + std::string(origin.substr(0, 200)) +
                       "' is not allowed: the HTTP API answers pages of this server and of auth.allowed_origins");
  const bool loopback = request.remote_is_loopback && origins_.host_allowed(host);
  if (keys_.empty() && request.remote_is_loopback && !loopback)
    return refusal(ErrorCode::permission_denied,
                   "Host '" + std::string(host.substr(0, 200)) +
                       "' is not a loopback name: without an API key the HTTP API answers requests to localhost, "
                       "127.0.0.1 or [::1], or to a name listed in auth.allowed_hosts");
  if (auto auth = keys_.check(request.header("Authorization"), loopback, key_name); !auth) {
    transport::HttpResponse r = error_response(auth.error());
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (request.method == "POST") {
    const std::string_view type = request.header("Content-Type");
    auto sent = [type] {
      return type.empty() ? std::string("no Content-Type") : "Content-Type '" + std::string(type.substr(0, 100)) + "'";
    };
    // The pipe's body is lines of text, not one JSON value, and may say so. None of its types is
    // one a page may send without a preflight either.
    if (pipe_path(request.path())) {
      if (!media_type_is(type, "application/json") && !media_type_is(type, "application/x-ndjson") &&
          !media_type_is(type, "application/octet-stream"))
        return refusal(ErrorCode::invalid_message,
                       "wrong content type (" + sent() +
                           "): send the lines with Content-Type: application/octet-stream (or application/x-ndjson)",
                       415);
    } else if (!media_type_is(type, "application/json")) {
      return refusal(ErrorCode::invalid_message,
                     "wrong content type (" + sent() +
                         "): send the JSON body with Content-Type: application/json (curl --json)",
                     415);
    }
  }
  return std::nullopt;
}

}  // namespace sb::api
