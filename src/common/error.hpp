#pragma once
// Errors as values: everything a client, the network or the disk can cause comes back as an
// sb::Error with a stable code. The codes are part of the wire protocol (docs/errors.md) and
// never change meaning once released.
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sb {

enum class ErrorCode {
  invalid_message,    // malformed JSON, missing field, wrong type, unknown type
  unknown_channel,    // channel name invalid, or namespace not configured
  permission_denied,  // the operation is not allowed for this client or namespace
  message_too_large,  // a frame or payload above the configured limit
  rate_limit,         // too many requests; retry later
  auth_failed,        // bad or missing credentials
  timeout,            // the request did not complete in time
  server_error,       // our fault or a dependency's; retry later
  not_found,          // HTTP: no such route or object
  unavailable,        // a dependency is down (storage, broker); retry later
  limit_exceeded,     // a server-wide capacity is used up (channels, streams); retry later
  // The app's backend (proxies, docs/backend.md):
  backend_unavailable,  // it could not be reached, timed out, or has too many calls in flight; retry later
  backend_error,        // it answered, but not 200 with a well-formed answer
  invalid_filter,       // a subscribe's or history's `filter` is malformed or too large (docs/filters.md)
};

// The wire name of a code, e.g. "INVALID_MESSAGE".
std::string_view error_code_name(ErrorCode code) noexcept;
// Whether a client should retry the same request later.
bool error_code_retryable(ErrorCode code) noexcept;
// The HTTP status the HTTP API answers with for this code.
int error_code_http_status(ErrorCode code) noexcept;

struct Error {
  ErrorCode code;
  std::string message;

  bool retryable() const noexcept { return error_code_retryable(code); }
};

// A value or an Error. Small on purpose: the hot path needs nothing more.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace sb
