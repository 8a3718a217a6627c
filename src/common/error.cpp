#include "common/error.hpp"

namespace sb {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_message: return "INVALID_MESSAGE";
    case ErrorCode::unknown_channel: return "UNKNOWN_CHANNEL";
    case ErrorCode::permission_denied: return "PERMISSION_DENIED";
    case ErrorCode::message_too_large: return "MESSAGE_TOO_LARGE";
    case ErrorCode::rate_limit: return "RATE_LIMIT";
    case ErrorCode::auth_failed: return "AUTH_FAILED";
    case ErrorCode::timeout: return "TIMEOUT";
    case ErrorCode::server_error: return "SERVER_ERROR";
    case ErrorCode::not_found: return "NOT_FOUND";
    case ErrorCode::unavailable: return "UNAVAILABLE";
    case ErrorCode::limit_exceeded: return "LIMIT_EXCEEDED";
    case ErrorCode::backend_unavailable: return "BACKEND_UNAVAILABLE";
    case ErrorCode::backend_error: return "BACKEND_ERROR";
    case ErrorCode::invalid_filter: return "INVALID_FILTER";
  }
  return "SERVER_ERROR";
}

bool error_code_retryable(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::rate_limit:
    case ErrorCode::timeout:
    case ErrorCode::server_error:
    case ErrorCode::unavailable:
    case ErrorCode::limit_exceeded:
    case ErrorCode::backend_unavailable:
      return true;
    default:
      return false;
  }
}

int error_code_http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_message: return 400;
    case ErrorCode::unknown_channel: return 400;
    case ErrorCode::permission_denied: return 403;
    case ErrorCode::message_too_large: return 413;
    case ErrorCode::rate_limit: return 429;
    case ErrorCode::auth_failed: return 401;
    case ErrorCode::timeout: return 504;
    case ErrorCode::server_error: return 500;
    case ErrorCode::not_found: return 404;
    case ErrorCode::unavailable: return 503;
    // 503, not 429: the server is full for everyone, not this caller too fast.
    case ErrorCode::limit_exceeded: return 503;
    case ErrorCode::backend_unavailable: return 503;
    case ErrorCode::backend_error: return 502;
    case ErrorCode::invalid_filter: return 400;
  }
  return 500;
}

}  // namespace sb
