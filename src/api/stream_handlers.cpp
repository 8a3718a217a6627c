// The streams endpoints: POST /api/streams (start), /api/streams/{id}/append, /end, and /pipe,
// whose body is appended line by line as it arrives (StreamPipe, the BodySink transport feeds).
#include <boost/json/parse.hpp>

#include "api/http_api.hpp"
#include "api/json_io.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;
namespace raw = protocol::raw;

namespace {

// The end of a stream: its answer waits for the finished text to be published.
void end_stream(session::Streams& streams, const std::string& id, const std::string& reason,
                std::optional<std::uint64_t> seq, transport::HttpReply reply) {
  auto shared_reply = std::make_shared<transport::HttpReply>(std::move(reply));
  auto ended = streams.end(id, reason, [id, seq, shared_reply](Result<core::StreamPosition> stored) {
    if (!stored) return (*shared_reply)(error_response(stored.error()));
    json::object answer{{"stream", id}};
    if (seq) answer["seq"] = *seq;
    answer["offset"] = stored->offset;
    answer["epoch"] = stored->epoch;
    (*shared_reply)(json_response(answer));
  });
  if (!ended) (*shared_reply)(error_response(ended.error()));
}

// One line of a piped body is one delta: a JSON string literal ("Hello, \nworld") when it is
// one, so deltas may hold newlines, else the line as is. Empty lines are skipped (keep-alives).
std::optional<std::string> delta_of_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  if (line.front() == '"') {
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_string()) return std::string(v.get_string());
  }
  return std::string(line);
}

// The body of /api/streams/{id}/pipe: complete lines go out as they arrive; at the end the
// stream ends ("done") unless the query says end=false.
class StreamPipe final : public transport::BodySink {
 public:
  StreamPipe(session::Streams& streams, std::string id, bool end) : streams_(streams), id_(std::move(id)), end_(end) {}

  void on_data(std::string_view bytes) override {
    pending_.append(bytes);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
      append(std::string_view(pending_).substr(start, nl - start));
    pending_.erase(0, start);
    // A "line" longer than a stream may ever hold will not end well: take it as it is.
    if (pending_.size() > 64 * 1024) {
      append(pending_);
      pending_.clear();
    }
  }

  void on_end(std::function<void(HttpResponse)> reply) override {
    if (!pending_.empty()) append(pending_);
    if (failure_) return reply(error_response(*failure_));
    if (!end_) return reply(json_response(json::object{{"stream", id_}, {"seq", seq_}}));
    end_stream(streams_, id_, "done", seq_, std::move(reply));
  }

 private:
  void append(std::string_view line) {
    if (failure_) return;
    auto delta = delta_of_line(line);
    if (!delta) return;
    auto seq = streams_.append(id_, *delta);
    if (!seq) failure_ = seq.error();
    else seq_ = *seq;
  }

  session::Streams& streams_;
  std::string id_;
  bool end_;
  std::string pending_;
  std::uint64_t seq_ = 0;
  std::optional<Error> failure_;
};

// "/api/streams/{id}/pipe" -> id, else empty.
std::string pipe_stream_id(std::string_view path) {
  constexpr std::string_view prefix = "/api/streams/", suffix = "/pipe";
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix)
    return {};
  std::string_view id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  return id.find('/') == std::string_view::npos ? std::string(id) : std::string{};
}

}  // namespace

void HttpApi::streams(const HttpRequest& request, transport::HttpReply reply) const {
  if (const std::string id = pipe_stream_id(request.path()); !id.empty()) {
    // The whole body at once: the stream it names was not running when the head arrived, or
    // it was sent without streaming. Same line rules as the streamed case.
    if (streams_.channel_of(id).empty())
      return reply(error_response(make_error(ErrorCode::not_found, "no running stream '" + id + "'")));
    std::string end;
    StreamPipe pipe(streams_, id, !(request.query_param("end", end) && end == "false"));
    pipe.on_data(request.body);
    pipe.on_end(std::move(reply));
    return;
  }
  const std::string_view path = request.path();
  if (path == "/api/streams") {
    // `meta` goes to every subscriber: kept as the bytes sent, like a publication's `data`.
    auto start = parse_raw_object(request);
    if (!start) return reply(error_response(start.error()));
    auto channel = start->find("channel");
    if (!channel || !raw::is_string(*channel)) return reply(error_response(invalid("'channel' must be a string")));
    auto meta = start->find("meta");
    if (meta && !raw::is_object(*meta)) return reply(error_response(invalid("'meta' must be an object")));
    std::string name = raw::string_value(*channel);
    auto id = streams_.start(name, meta ? std::string(*meta) : std::string{});
    if (!id) return reply(error_response(id.error()));
    return reply(json_response(json::object{{"stream", *id}, {"channel", name}}));
  }
  auto body = parse_object(request);
  if (!body) return reply(error_response(body.error()));
  // /api/streams/{id}/append or /api/streams/{id}/end
  std::string_view rest = path.substr(13);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return reply(error_response(make_error(ErrorCode::not_found, "no such endpoint")));
  const std::string id(rest.substr(0, slash));
  const std::string_view action = rest.substr(slash + 1);
  if (action == "append") {
    const json::value* delta = body->if_contains("delta");
    if (!delta || !delta->is_string()) return reply(error_response(invalid("'delta' must be a string")));
    auto seq = streams_.append(id, delta->get_string());
    if (!seq) return reply(error_response(seq.error()));
    return reply(json_response(json::object{{"stream", id}, {"seq", *seq}}));
  }
  if (action == "end") {
    std::string reason = "done";
    if (const json::value* r = body->if_contains("reason")) {
      if (!r->is_string() || r->get_string().empty() || r->get_string().size() > 64)
        return reply(error_response(invalid("'reason' must be a string of 1 to 64 characters")));
      reason = std::string(r->get_string());
    }
    return end_stream(streams_, id, reason, std::nullopt, std::move(reply));
  }
  reply(no_such_endpoint(path));
}

std::unique_ptr<transport::BodySink> HttpApi::body_stream(const HttpRequest& head) const {
  if (head.method != "POST") return nullptr;
  const std::string id = pipe_stream_id(head.path());
  if (id.empty()) return nullptr;
  // Refused (or unknown) pipes take the ordinary path, which answers with the error.
  if (gate_.refuse(head)) return nullptr;
  if (streams_.channel_of(id).empty()) return nullptr;
  std::string end;
  const bool end_at_eof = !(head.query_param("end", end) && end == "false");
  return std::make_unique<StreamPipe>(streams_, id, end_at_eof);
}

}  // namespace sb::api
