#pragma once
// Turns the bytes of an HTTP/1.1 connection into requests, one at a time, with Beast's parser
// underneath and every hostile-input rule of the server on top. Knows no socket: the session
// feeds it what it read (plain or decrypted), and the fuzz target feeds it arbitrary bytes.
//
// Rules (docs/http-api.md, "Request framing"):
// - Every byte of one request counts: head, chunk-size lines with their extensions, trailers and
//   body together stay within header_limit + max_body (413 above); the body alone within
//   max_body (413). The head within header_limit (431).
// - One chunk-size line (extensions included) or the trailer section within max_chunk_line (400):
//   Beast keeps a line whole until its CRLF, so this bounds what waits in the buffer.
// - Transfer-Encoding (RFC 9112 6.1): `chunked` alone is the only coding accepted. An unknown
//   or unsupported coding (`xchunked`, `gzip, chunked`) is 501; `chunked` not last or twice,
//   Transfer-Encoding with Content-Length, or in an HTTP/1.0 request is 400. Every refusal
//   ends the connection: what follows the head is never read as another request.
#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "transport/http_types.hpp"

namespace sb::transport {

struct RequestLimits {
  // A request head above this is refused with 431. 16 KiB holds any browser's cookies and a JWT.
  std::size_t header_limit = 16 * 1024;
  std::size_t max_body = 1024 * 1024;  // Limits::max_http_body
  // One chunk-size line with its extensions, or the whole trailer section. Real clients send
  // none or a few bytes; 4 KiB leaves room and keeps a buffered line small.
  std::size_t max_chunk_line = 4 * 1024;
};

// Why a request was refused: the HTTP status and the error's code and message (our constants).
struct RequestRefusal {
  int status = 400;
  std::string_view code = "INVALID_MESSAGE";
  std::string_view message;
};

class RequestReader {
 public:
  enum class Step {
    need_more,  // feed more bytes
    head,       // the head is complete (head() is valid); call parse() again to read the body
    done,       // the request is complete (request() is valid)
    refused,    // refusal() says why; the connection must close
  };

  explicit RequestReader(RequestLimits limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Starts the next request on the same connection. Bytes already fed and not used by the last
  // request (pipelined) stay and are parsed first.
  void reset();
  // Appends bytes read from the connection. The caller feeds only after need_more, so what is
  // buffered stays within the caps above.
  void feed(const char* data, std::size_t size);
  Step parse();

  // After Step::head: the head as the layers above see it (no remote address, no body).
  const HttpRequest& head() const noexcept { return request_; }
  bool has_body() const noexcept;
  // After Step::head, before parsing on: the body goes to `sink` piece by piece instead of into
  // request().body, and only the framing bytes count against the request's budget (the sink
  // bounds what it keeps).
  void stream_body_to(std::function<void(std::string_view)> sink);

  // After Step::done.
  HttpRequest& request() noexcept { return request_; }
  bool keep_alive() const noexcept;
  bool upgrade() const noexcept;
  const RequestRefusal& refusal() const noexcept { return refusal_; }
  // Bytes received after the request (the first bytes of a WebSocket, or the next request).
  std::string take_unparsed();
  bool started() const noexcept;  // some byte of a request arrived

 private:
  class Parser;
  Step refuse(int status, std::string_view code, std::string_view message);
  void compact();

  RequestLimits limits_;
  std::unique_ptr<Parser> parser_;
  HttpRequest request_;
  std::string in_;        // bytes fed and not yet consumed by the parser, from in_pos_
  std::size_t in_pos_ = 0;
  std::size_t consumed_ = 0;  // bytes of this request the parser consumed
  std::size_t streamed_ = 0;  // body bytes handed to the sink
  bool head_reported_ = false;
  RequestRefusal refusal_;
};

}  // namespace sb::transport
