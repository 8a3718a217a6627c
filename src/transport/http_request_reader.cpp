#include "transport/http_request_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <algorithm>
#include <vector>

namespace sb::transport {

namespace http = boost::beast::http;
using boost::beast::error_code;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// Beast's parser with our callbacks: it collects the head into an HttpRequest, checks the
// framing headers once the head is whole, and sends the body to a string or a sink.
class RequestReader::Parser final : public http::basic_parser<true> {
 public:
  Parser(RequestReader& owner) : owner_(owner) {
    header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(owner.limits_.header_limit, UINT32_MAX)));
    body_limit(boost::none);  // counted by on_body: the budget covers framing bytes too
  }

  std::optional<RequestRefusal> verdict;  // set when a callback refused the request
  std::function<void(std::string_view)> sink;

 private:
  void on_request_impl(http::verb, boost::beast::string_view method, boost::beast::string_view target, int version,
                       error_code&) override {
    owner_.request_.method = std::string(method);
    owner_.request_.target = std::string(target);
    version_ = version;
  }

  void on_response_impl(int, boost::beast::string_view, int, error_code& ec) override {
    ec = http::error::bad_method;  // a request parser never sees a status line
  }

  void on_field_impl(http::field name, boost::beast::string_view name_string, boost::beast::string_view value,
                     error_code&) override {
    if (is_header_done()) return;  // trailer fields: framing only, never handed on
    if (name == http::field::transfer_encoding) {
      transfer_encoding_seen_ = true;
      for (std::size_t start = 0; start <= value.size();) {
        std::size_t comma = value.find(',', start);
        if (comma == boost::beast::string_view::npos) comma = value.size();
        std::string_view item = trim(std::string_view(value.data() + start, comma - start));
        if (!item.empty()) codings_.emplace_back(item);
        start = comma + 1;
      }
    }
    if (name == http::field::content_length) content_length_seen_ = true;
    owner_.request_.headers.emplace_back(std::string(name_string), std::string(value));
  }

  // RFC 9112 6.1 and 6.3: decided once per request, before any body byte is read.
  void on_header_impl(error_code& ec) override {
    if (!transfer_encoding_seen_) return;
    auto refuse = [&](int status, std::string_view message) {
      verdict = RequestRefusal{status, "INVALID_MESSAGE", message};
      ec = http::error::bad_transfer_encoding;
    };
    if (content_length_seen_) return refuse(400, "Transfer-Encoding together with Content-Length");
    if (version_ < 11) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (codings_.empty()) return refuse(400, "empty Transfer-Encoding");
    for (std::size_t i = 0; i < codings_.size(); ++i) {
      if (iequals(codings_[i], "chunked") && i + 1 != codings_.size())
        return refuse(400, "chunked must be the last transfer coding, once");
    }
    for (const auto& coding : codings_)
      if (!iequals(coding, "chunked")) return refuse(501, "unsupported transfer coding; only chunked is accepted");
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override {
    if (content_length && *content_length > owner_.limits_.max_body && !sink) {
      verdict = RequestRefusal{413, "MESSAGE_TOO_LARGE", "request body above max_http_body"};
      ec = http::error::body_limit;
    }
  }

  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override { return take(body, ec); }

  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view extensions, error_code& ec) override {
    if (extensions.size() > owner_.limits_.max_chunk_line) {
      verdict = RequestRefusal{400, "INVALID_MESSAGE", "chunk extension too long"};
      ec = http::error::bad_chunk_extension;
    }
  }

  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, error_code& ec) override {
    return take(body, ec);
  }

  void on_finish_impl(error_code&) override {}

  std::size_t take(boost::beast::string_view body, error_code& ec) {
    if (sink) {
      owner_.streamed_ += body.size();
      sink(std::string_view(body.data(), body.size()));
      return body.size();
    }
    if (owner_.request_.body.size() + body.size() > owner_.limits_.max_body) {
      verdict = RequestRefusal{413, "MESSAGE_TOO_LARGE", "request body above max_http_body"};
      ec = http::error::body_limit;
      return 0;
    }
    owner_.request_.body.append(body.data(), body.size());
    return body.size();
  }

  RequestReader& owner_;
  int version_ = 11;
  bool transfer_encoding_seen_ = false;
  bool content_length_seen_ = false;
  std::vector<std::string> codings_;
};

RequestReader::RequestReader(RequestLimits limits) : limits_(limits) { reset(); }

RequestReader::~RequestReader() = default;

void RequestReader::reset() {
  parser_ = std::make_unique<Parser>(*this);
  request_ = HttpRequest{};
  consumed_ = 0;
  streamed_ = 0;
  head_reported_ = false;
  refusal_ = RequestRefusal{};
  compact();
}

void RequestReader::compact() {
  if (in_pos_ == 0) return;
  in_.erase(0, in_pos_);
  in_pos_ = 0;
}

void RequestReader::feed(const char* data, std::size_t size) {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  in_.append(data, size);
}

bool RequestReader::has_body() const noexcept { return parser_->is_header_done() && !parser_->is_done(); }

void RequestReader::stream_body_to(std::function<void(std::string_view)> sink) { parser_->sink = std::move(sink); }

bool RequestReader::keep_alive() const noexcept { return parser_->keep_alive(); }

bool RequestReader::upgrade() const noexcept { return parser_->upgrade(); }

bool RequestReader::started() const noexcept { return consumed_ > 0 || in_.size() > in_pos_; }

std::string RequestReader::take_unparsed() {
  std::string rest = in_.substr(in_pos_);
  in_.clear();
  in_pos_ = 0;
  return rest;
}

RequestReader::Step RequestReader::refuse(int status, std::string_view code, std::string_view message) {
  refusal_ = RequestRefusal{status, code, message};
  return Step::refused;
}

RequestReader::Step RequestReader::parse() {
  if (refusal_.message.size() > 0) return Step::refused;
  const std::size_t budget = limits_.header_limit + limits_.max_body;
  for (;;) {
    if (head_reported_ && parser_->is_done()) return Step::done;
    // A declared length above the limit is refused before any body byte arrives (the client may
    // be waiting for 100-continue); Beast would only look at it with the first byte.
    if (head_reported_ && !parser_->sink && parser_->content_length().value_or(0) > limits_.max_body)
      return refuse(413, "MESSAGE_TOO_LARGE", "request body above max_http_body");
    const std::size_t available = in_.size() - in_pos_;
    error_code ec;
    std::size_t used = 0;
    if (available > 0)
      used = parser_->put(boost::asio::buffer(in_.data() + in_pos_, available), ec);
    else
      ec = http::error::need_more;
    in_pos_ += used;
    consumed_ += used;
    if (ec && ec != http::error::need_more) {
      if (parser_->verdict) return refuse(parser_->verdict->status, parser_->verdict->code, parser_->verdict->message);
      if (ec == http::error::header_limit) return refuse(431, "INVALID_MESSAGE", "request headers too large");
      if (ec == http::error::body_limit) return refuse(413, "MESSAGE_TOO_LARGE", "request body above max_http_body");
      return refuse(400, "INVALID_MESSAGE", "malformed HTTP request");
    }
    // Framing bytes (and, unless streamed, the body) of this request, received so far.
    const std::size_t buffered = in_.size() - in_pos_;
    if (consumed_ - streamed_ + buffered > budget)
      return refuse(413, "MESSAGE_TOO_LARGE", "request above the header limit plus max_http_body");
    if (parser_->is_header_done() && !head_reported_) {
      head_reported_ = true;
      parser_->eager(true);  // from here on, parse as far as the bytes go
      return Step::head;
    }
    if (parser_->is_done()) return Step::done;
    if (ec == http::error::need_more || used == 0) {
      // What waits for its end of line: part of the head, a chunk-size line or the trailers.
      if (!parser_->is_header_done() && buffered > limits_.header_limit)
        return refuse(431, "INVALID_MESSAGE", "request headers too large");
      if (parser_->is_header_done() && buffered > limits_.max_chunk_line)
        return refuse(400, "INVALID_MESSAGE", "chunk-size line or trailers too long");
      compact();
      return Step::need_more;
    }
  }
}

}  // namespace sb::transport
