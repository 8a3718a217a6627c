#include "api/http_api.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

#include "common/clock.hpp"
#include "core/channel_name.hpp"
#include "protocol/json_text.hpp"
#include "protocol/native/codec.hpp"
#include "session/client.hpp"
#include "transport/ws_frame.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;
namespace raw = protocol::raw;

transport::HttpResponse error_response(const Error& error) {
  json::object body{{"error", json::object{{"code", error_code_name(error.code)},
                                           {"message", error.message},
                                           {"retryable", error.retryable()}}}};
  return HttpResponse{error_code_http_status(error.code), "application/json", json::serialize(body), {}};
}

namespace {

HttpResponse json_response(const json::value& v) { return HttpResponse{200, "application/json", json::serialize(v), {}}; }

Error invalid(std::string message) { return make_error(ErrorCode::invalid_message, std::move(message)); }

// A body whose values the server passes on (publish, broadcast, streams): checked, and split
// into raw slices so `data` and `meta` reach everyone as the exact bytes sent.
Result<protocol::JsonObject> parse_raw_object(const HttpRequest& request) {
  auto body = protocol::JsonObject::parse(request.body, "malformed JSON body", "the body must be a JSON object");
  if (!body) return body.error();
  if (!body->finite()) return protocol::non_finite_error();
  return body;
}

// A body the server only reads. Checked by the same rules first, so that no endpoint accepts
// a number the others refuse.
Result<json::object> parse_object(const HttpRequest& request) {
  if (auto ok = protocol::check_json(request.body, "malformed JSON body"); !ok) return ok.error();
  json::error_code ec;
  json::value v = json::parse(request.body, ec);
  if (ec) return invalid("malformed JSON body: " + ec.message());
  if (!v.is_object()) return invalid("the body must be a JSON object");
  return std::move(v.get_object());
}

HttpResponse method_not_allowed(std::string_view allowed) {
  HttpResponse r = error_response(invalid("method not allowed; use " + std::string(allowed)));
  r.status = 405;
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

json::object position_json(std::string_view channel, const core::StreamPosition& p) {
  return json::object{{"channel", channel}, {"offset", p.offset}, {"epoch", p.epoch}};
}

}  // namespace

HttpApi::HttpApi(Dependencies dependencies) : d_(std::move(dependencies)), gate_(d_.keys, d_.origins) {}

void HttpApi::handle(const HttpRequest& request, transport::HttpReply reply) const {
  HttpResponse response = route(request, reply);
  // An empty status means the route took `reply` and answers later.
  if (response.status != 0) reply(std::move(response));
}

HttpResponse HttpApi::route(const HttpRequest& request, transport::HttpReply& reply) const {
  const std::string_view path = request.path();
  const std::string_view method = request.method;
  if (path == "/healthz") return json_response(json::object{{"status", "ok"}});
  if (path == "/ws")
    return HttpResponse{426, "application/json",
                        R"({"error":{"code":"INVALID_MESSAGE","message":"/ws is a WebSocket endpoint: send an upgrade request","retryable":false}})",
                        {{"Upgrade", "websocket"}}};
  if (auto page = d_.web.serve(request)) return std::move(*page);
  const bool is_api = path.substr(0, 5) == "/api/";
  if (!is_api && path != "/metrics")
    return error_response(make_error(ErrorCode::not_found, "no such endpoint: " + std::string(path)));

  std::string key_name;
  if (auto refusal = gate_.refuse(request, &key_name)) return std::move(*refusal);
  // Which key was used: what a rotation needs to know before the old key goes.
  if (!key_name.empty()) spdlog::debug("{} {} with API key '{}'", request.method, path, key_name);
  const HttpResponse later{0, {}, {}, {}};
  if (path == "/metrics") return method == "GET" ? metrics() : method_not_allowed("GET");
  if (path == "/api/publish") {
    if (method != "POST") return method_not_allowed("POST");
    publish(request, std::move(reply));
    return later;
  }
  if (path == "/api/broadcast") {
    if (method != "POST") return method_not_allowed("POST");
    broadcast(request, std::move(reply));
    return later;
  }
  if (path == "/api/streams" || path.substr(0, 13) == "/api/streams/") {
    if (method != "POST") return method_not_allowed("POST");
    streams(request, std::move(reply));
    return later;
  }
  if (path == "/api/history") {
    if (method != "GET") return method_not_allowed("GET");
    history(request, std::move(reply));
    return later;
  }
  if (path == "/api/presence") return method == "GET" ? presence(request, false) : method_not_allowed("GET");
  if (path == "/api/presence_stats") return method == "GET" ? presence(request, true) : method_not_allowed("GET");
  if (path == "/api/channels") return method == "GET" ? channels(request) : method_not_allowed("GET");
  if (path == "/api/stats") return method == "GET" ? stats(request) : method_not_allowed("GET");
  if (path == "/api/nodes") return method == "GET" ? nodes() : method_not_allowed("GET");
  if (path == "/api/disconnect") return method == "POST" ? disconnect(request) : method_not_allowed("POST");
  return error_response(make_error(ErrorCode::not_found, "no such endpoint: " + std::string(path)));
}

void HttpApi::publish(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_raw_object(request);
  if (!body) return reply(error_response(body.error()));
  auto channel = body->find("channel");
  if (!channel || !raw::is_string(*channel)) return reply(error_response(invalid("'channel' must be a string")));
  auto data = body->find("data");
  if (!data) return reply(error_response(invalid("missing field 'data'")));
  std::string name = raw::string_value(*channel);
  auto ns = d_.namespaces.resolve(name);
  if (!ns) return reply(error_response(ns.error()));
  const auto& policy = (*ns)->history;
  d_.hub.publish(name, *data, policy, request.executor,
                 [name, reply = std::move(reply)](Result<core::StreamPosition> result) {
                   reply(result ? json_response(position_json(name, *result)) : error_response(result.error()));
                 });
}

void HttpApi::broadcast(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_raw_object(request);
  if (!body) return reply(error_response(body.error()));
  auto channels_text = body->find("channels");
  if (!channels_text || !raw::is_array(*channels_text))
    return reply(error_response(invalid("'channels' must be an array of strings")));
  auto data = body->find("data");
  if (!data) return reply(error_response(invalid("missing field 'data'")));
  // Only the list of names becomes a tree; `data` stays the bytes sent.
  json::error_code ec;
  const json::value channels = json::parse(json::string_view(channels_text->data(), channels_text->size()), ec);
  if (ec) return reply(error_response(invalid("'channels' must be an array of strings")));
  for (const auto& c : channels.get_array())
    if (!c.is_string()) return reply(error_response(invalid("'channels' must be an array of strings")));
  // One result per channel, filled as each publication completes (some may wait for history);
  // the last one to complete sends the answer.
  struct Gather {
    std::mutex mutex;
    json::array results;
    std::size_t pending;
    transport::HttpReply reply;
  };
  const auto& list = channels.get_array();
  auto gather = std::make_shared<Gather>();
  gather->results.resize(list.size());
  gather->pending = list.size() + 1;  // +1: held until every publish is started
  gather->reply = std::move(reply);
  auto complete = [gather](std::size_t i, json::value v) {
    std::lock_guard lock(gather->mutex);
    if (i < gather->results.size()) gather->results[i] = std::move(v);
    if (--gather->pending == 0) gather->reply(json_response(json::object{{"results", std::move(gather->results)}}));
  };
  // The same bytes go into every channel.
  const std::string_view payload = *data;
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string name(list[i].get_string());
    auto ns = d_.namespaces.resolve(name);
    if (!ns) {
      complete(i, json::object{{"channel", name},
                               {"error", json::object{{"code", error_code_name(ns.error().code)},
                                                      {"message", ns.error().message}}}});
      continue;
    }
    const auto& policy = (*ns)->history;
    d_.hub.publish(name, payload, policy, request.executor, [complete, i, name](Result<core::StreamPosition> result) {
      if (result) return complete(i, position_json(name, *result));
      complete(i, json::object{{"channel", name},
                               {"error", json::object{{"code", error_code_name(result.error().code)},
                                                      {"message", result.error().message}}}});
    });
  }
  complete(list.size(), nullptr);
}

void HttpApi::history(const HttpRequest& request, transport::HttpReply reply) const {
  std::string channel;
  if (!request.query_param("channel", channel))
    return reply(error_response(invalid("missing query parameter 'channel'")));
  auto ns = d_.namespaces.resolve(channel);
  if (!ns) return reply(error_response(ns.error()));
  core::HistoryQuery query;
  auto number = [&request](std::string_view name, std::uint64_t& out) -> Status {
    std::string text;
    if (!request.query_param(name, text)) return Ok{};
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    // Offsets stop at 2^53 - 1 (core::max_offset); a larger one is refused, never wrapped.
    if (ec != std::errc{} || ptr != text.data() + text.size() || v > core::max_offset)
      return invalid("query parameter '" + std::string(name) + "' must be an integer from 0 to 9007199254740991");
    out = v;
    return Ok{};
  };
  std::uint64_t limit = 100;
  if (auto ok = number("since", query.after); !ok) return reply(error_response(ok.error()));
  if (auto ok = number("before", query.before); !ok) return reply(error_response(ok.error()));
  if (auto ok = number("limit", limit); !ok) return reply(error_response(ok.error()));
  if (limit == 0 || limit > protocol::native::max_history_limit)
    return reply(error_response(invalid("query parameter 'limit' must be from 1 to 1000")));
  query.limit = static_cast<std::size_t>(limit);
  query.max_bytes = d_.max_history_bytes;
  std::string reverse;
  if (request.query_param("reverse", reverse)) {
    if (reverse != "true" && reverse != "false")
      return reply(error_response(invalid("'reverse' must be true or false")));
    query.newest_first = reverse == "true";
  }
  const core::HistoryPolicy policy = (*ns)->history;
  // On a reader thread: the answer goes back through `reply`, which returns to the worker.
  auto read = [hub = &d_.hub, channel, policy, query, reply]() {
    auto page = hub->history(channel, policy, query);
    if (!page) return reply(error_response(page.error()));
    std::string body = R"({"channel":)" + protocol::native::json_quote(channel) +
                       R"(,"offset":)" + std::to_string(page->position.offset) + R"(,"epoch":)" +
                       protocol::native::json_quote(page->position.epoch) + R"(,"first_offset":)" +
                       std::to_string(page->first_offset) + R"(,"messages":)" +
                       protocol::native::messages_json(page->messages);
    if (page->more) body += R"(,"next":)" + std::to_string(page->next());
    body += "}";
    reply(HttpResponse{200, "application/json", std::move(body), {}});
  };
  if (!d_.readers) return read();
  if (!d_.readers->submit(read))
    reply(error_response(make_error(ErrorCode::unavailable, "too many history reads waiting; retry later")));
}

namespace {

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
    auto shared_reply = std::make_shared<std::function<void(HttpResponse)>>(std::move(reply));
    const std::string id = id_;
    const std::uint64_t seq = seq_;
    auto ended = streams_.end(id_, "done", [id, seq, shared_reply](Result<core::StreamPosition> stored) {
      if (!stored) return (*shared_reply)(error_response(stored.error()));
      (*shared_reply)(json_response(
          json::object{{"stream", id}, {"seq", seq}, {"offset", stored->offset}, {"epoch", stored->epoch}}));
    });
    if (!ended) (*shared_reply)(error_response(ended.error()));
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
    if (d_.streams.channel_of(id).empty())
      return reply(error_response(make_error(ErrorCode::not_found, "no running stream '" + id + "'")));
    std::string end;
    StreamPipe pipe(d_.streams, id, !(request.query_param("end", end) && end == "false"));
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
    auto id = d_.streams.start(name, meta ? std::string(*meta) : std::string{});
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
    auto seq = d_.streams.append(id, delta->get_string());
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
    auto shared_reply = std::make_shared<transport::HttpReply>(std::move(reply));
    auto ended = d_.streams.end(id, reason, [id, shared_reply](Result<core::StreamPosition> stored) {
      if (!stored) return (*shared_reply)(error_response(stored.error()));
      (*shared_reply)(json_response(json::object{{"stream", id},
                                                 {"offset", stored->offset},
                                                 {"epoch", stored->epoch}}));
    });
    if (!ended) (*shared_reply)(error_response(ended.error()));
    return;
  }
  reply(error_response(make_error(ErrorCode::not_found, "no such endpoint: " + std::string(path))));
}

std::unique_ptr<transport::BodySink> HttpApi::body_stream(const HttpRequest& head) const {
  if (head.method != "POST") return nullptr;
  const std::string id = pipe_stream_id(head.path());
  if (id.empty()) return nullptr;
  // Refused (or unknown) pipes take the ordinary path, which answers with the error.
  if (gate_.refuse(head)) return nullptr;
  if (d_.streams.channel_of(id).empty()) return nullptr;
  std::string end;
  const bool end_at_eof = !(head.query_param("end", end) && end == "false");
  return std::make_unique<StreamPipe>(d_.streams, id, end_at_eof);
}

HttpResponse HttpApi::presence(const HttpRequest& request, bool stats_only) const {
  std::string channel;
  if (!request.query_param("channel", channel)) return error_response(invalid("missing query parameter 'channel'"));
  auto ns = d_.namespaces.resolve(channel);
  if (!ns) return error_response(ns.error());
  if (!(*ns)->presence)
    return error_response(make_error(ErrorCode::permission_denied, "presence is off in this namespace"));
  if (stats_only) {
    auto stats = d_.hub.presence_stats(channel);
    if (!stats) return error_response(stats.error());
    return json_response(json::object{{"channel", channel}, {"clients", stats->clients}, {"users", stats->users}});
  }
  auto members = d_.hub.presence(channel);
  if (!members) return error_response(members.error());
  std::string body = R"({"channel":)" + protocol::native::json_quote(channel) + R"(,"members":)" +
                     protocol::native::members_json(*members) + "}";
  return HttpResponse{200, "application/json", std::move(body), {}};
}

namespace {

json::object stats_json(const Stats& s) {
  return json::object{{"connections", s.connections},
                      {"connections_total", s.connections_total},
                      {"subscriptions", s.subscriptions},
                      {"channels", s.channels},
                      {"messages_in", s.messages_in},
                      {"messages_out", s.messages_out},
                      {"bytes_in", s.bytes_in},
                      {"bytes_out", s.bytes_out},
                      {"slow_consumers", s.slow_consumers},
                      {"uptime_seconds", static_cast<std::uint64_t>(s.uptime_seconds)}};
}

bool cluster_scope(const HttpRequest& request, Status& bad) {
  std::string scope;
  if (!request.query_param("scope", scope) || scope == "node") return false;
  if (scope != "cluster") bad = invalid("'scope' is node or cluster, got '" + scope + "'");
  return true;
}

// This node's channels with subscribers, as the API lists them.
json::array channels_json(const core::Hub& hub, std::string_view prefix) {
  json::array list;
  for (const auto& c : hub.channels(prefix))
    list.push_back(json::object{{"channel", c.channel}, {"subscribers", c.subscribers}});
  return list;
}

// A node's answer to a disconnect: how many connections it closed.
std::uint64_t count_of(std::string_view answer) {
  std::uint64_t n = 0;
  std::from_chars(answer.data(), answer.data() + answer.size(), n);
  return n;
}

void close_client(session::Client& c) { c.disconnect(transport::close_code::disconnected, "disconnected by the server"); }

}  // namespace

std::string HttpApi::answer(std::string_view question, std::string_view argument) const {
  if (question == "stats") return json::serialize(stats_json(d_.stats()));
  if (question == "channels") {
    return json::serialize(channels_json(d_.hub, argument));
  }
  if (question == "disconnect_user") return std::to_string(d_.registry.with_user(argument, close_client));
  if (question == "disconnect_client") return std::to_string(d_.registry.with_client(argument, close_client));
  return "null";
}

Result<std::vector<core::NodeAnswer>> HttpApi::ask_all(std::string_view question, std::string_view argument) const {
  if (!d_.cluster) return std::vector<core::NodeAnswer>{core::NodeAnswer{"", answer(question, argument)}};
  return d_.cluster->ask(question, argument);
}

HttpResponse HttpApi::channels(const HttpRequest& request) const {
  std::string prefix;
  request.query_param("prefix", prefix);
  Status bad = Ok{};
  if (!cluster_scope(request, bad)) {
    return json_response(json::object{{"channels", channels_json(d_.hub, prefix)}});
  }
  if (!bad) return error_response(bad.error());
  auto answers = ask_all("channels", prefix);
  if (!answers) return error_response(answers.error());
  // Summed over the nodes, with the nodes that have subscribers.
  std::map<std::string, std::pair<std::uint64_t, json::array>> merged;
  for (const auto& a : *answers) {
    json::error_code ec;
    json::value list = json::parse(a.answer, ec);
    if (ec || !list.is_array()) continue;
    for (const auto& item : list.get_array()) {
      if (!item.is_object()) continue;
      const auto* name = item.get_object().if_contains("channel");
      const auto* count = item.get_object().if_contains("subscribers");
      if (!name || !name->is_string() || !count || !count->is_number()) continue;
      auto& entry = merged[std::string(name->get_string())];
      entry.first += count->to_number<std::uint64_t>();
      entry.second.push_back(json::object{{"node", a.node}, {"subscribers", *count}});
    }
  }
  json::array list;
  for (auto& [name, entry] : merged)
    list.push_back(json::object{{"channel", name}, {"subscribers", entry.first}, {"nodes", std::move(entry.second)}});
  return json_response(json::object{{"scope", "cluster"}, {"nodes_answered", answers->size()}, {"channels", std::move(list)}});
}

HttpResponse HttpApi::stats(const HttpRequest& request) const {
  Status bad = Ok{};
  if (!cluster_scope(request, bad)) return json_response(stats_json(d_.stats()));
  if (!bad) return error_response(bad.error());
  auto answers = ask_all("stats", "");
  if (!answers) return error_response(answers.error());
  json::object total;
  json::array per_node;
  for (const auto& a : *answers) {
    json::error_code ec;
    json::value figures = json::parse(a.answer, ec);
    if (ec || !figures.is_object()) continue;
    for (const auto& [k, v] : figures.get_object()) {
      if (!v.is_number() || k == "uptime_seconds") continue;  // a sum of uptimes means nothing
      total[k] = (total.contains(k) ? total[k].to_number<std::uint64_t>() : 0) + v.to_number<std::uint64_t>();
    }
    json::object node = figures.get_object();
    node["node"] = a.node;
    per_node.push_back(std::move(node));
  }
  // Summed per node: a channel with subscribers on two nodes counts twice in `channels`.
  total["scope"] = "cluster";
  total["nodes_answered"] = answers->size();
  total["nodes"] = std::move(per_node);
  return json_response(total);
}

HttpResponse HttpApi::nodes() const {
  if (!d_.cluster) {
    // One node: the same shape as in a cluster, this node alone, nameless.
    const Stats s = d_.stats();
    json::object info{{"connections", s.connections},
                      {"subscriptions", s.subscriptions},
                      {"channels", s.channels},
                      {"uptime_seconds", static_cast<std::uint64_t>(s.uptime_seconds)}};
    return json_response(json::object{{"nodes", json::array{json::object{
                                           {"node", ""}, {"self", true}, {"last_seen", unix_millis()}, {"info", std::move(info)}}}}});
  }
  auto live = d_.cluster->nodes();
  if (!live) return error_response(live.error());
  json::array list;
  for (const auto& n : *live) {
    json::error_code ec;
    json::value info = json::parse(n.info, ec);
    list.push_back(json::object{{"node", n.id},
                                {"self", n.id == d_.cluster->node_id()},
                                {"last_seen", n.last_seen_ms},
                                {"info", ec ? json::value(json::object{}) : std::move(info)}});
  }
  return json_response(json::object{{"nodes", std::move(list)}});
}

HttpResponse HttpApi::disconnect(const HttpRequest& request) const {
  auto body = parse_object(request);
  if (!body) return error_response(body.error());
  const json::value* client = body->if_contains("client");
  const json::value* user = body->if_contains("user");
  if ((client == nullptr) == (user == nullptr))
    return error_response(invalid("give exactly one of 'client' or 'user'"));
  const json::value* which = client ? client : user;
  if (!which->is_string()) return error_response(invalid(client ? "'client' must be a string" : "'user' must be a string"));
  // Every node closes its own connections of that client or user.
  const std::string_view question = client ? "disconnect_client" : "disconnect_user";
  auto answers = ask_all(question, which->get_string());
  if (!answers) {
    // The other nodes cannot be asked (Redis is down): this node's connections still go, and
    // the answer says it is this node's count only.
    return json_response(json::object{{"disconnected", count_of(answer(question, which->get_string()))},
                                      {"scope", "node"},
                                      {"cluster_error", answers.error().message}});
  }
  // This node answers through Redis like the others; if its own question got lost on the way,
  // its connections are closed here all the same.
  if (d_.cluster && std::none_of(answers->begin(), answers->end(),
                                 [&](const core::NodeAnswer& a) { return a.node == d_.cluster->node_id(); }))
    answers->push_back(core::NodeAnswer{d_.cluster->node_id(), answer(question, which->get_string())});
  std::uint64_t n = 0;
  for (const auto& a : *answers) n += count_of(a.answer);
  return json_response(json::object{{"disconnected", n}});
}

HttpResponse HttpApi::metrics() const {
  Stats s = d_.stats();
  std::string out;
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help, auto value) {
    out.append("# HELP switchboard_").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE switchboard_").append(name).append(" ").append(type).append("\n");
    out.append("switchboard_").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  metric("connections", "gauge", "Open WebSocket connections.", s.connections);
  metric("connections_total", "counter", "WebSocket upgrades since start.", s.connections_total);
  metric("subscriptions", "gauge", "Current channel subscriptions.", s.subscriptions);
  metric("channels", "gauge", "Channels with at least one subscriber.", s.channels);
  metric("messages_in_total", "counter", "Messages published (HTTP and WebSocket).", s.messages_in);
  metric("messages_out_total", "counter", "Messages delivered to subscribers.", s.messages_out);
  metric("bytes_in_total", "counter", "WebSocket bytes received.", s.bytes_in);
  metric("bytes_out_total", "counter", "WebSocket bytes sent.", s.bytes_out);
  metric("socket_writes_total", "counter", "Gathered socket writes (bytes_out / writes is the batching).", s.writes);
  metric("slow_consumers_total", "counter", "Connections closed for a full send queue.", s.slow_consumers);
  metric("oversized_messages_total", "counter", "Connections closed (1009) for a message above limits.max_message_size.",
         s.oversized_messages);
  metric("upgrades_refused_total", "counter",
         "WebSocket upgrades refused by limits.max_connections or max_connections_per_ip.", s.upgrades_refused);
  metric("rate_limited_total", "counter", "WebSocket requests refused with RATE_LIMIT (per connection or per user).",
         s.rate_limited);
  metric("ping_timeouts_total", "counter", "Connections closed for not answering pings.", s.ping_timeouts);
  metric("http_requests_total", "counter", "HTTP requests served.", s.http_requests);
  metric("channel_states", "gauge", "Channels the hub holds state for (bounded by limits.max_channels).",
         s.channel_states);
  metric("channels_refused_total", "counter", "Subscribes and publishes refused by limits.max_channels.",
         s.channels_refused);
  metric("history_reads_refused_total", "counter", "History reads refused because history.read_queue was full.",
         s.history_reads_refused);
  metric("streams", "gauge", "Streams running.", s.streams);
  metric("stream_bytes", "gauge", "Text held by running streams (bounded by streams.max_total_bytes).", s.stream_bytes);
  metric("streams_refused_total", "counter", "Stream starts and appends refused by streams.max_streams or max_total_bytes.",
         s.streams_refused);
  metric("frame_rate_closes_total", "counter", "Connections closed (1008) for sending frames above limits.frame_rate.",
         s.frame_rate_closes);
  metric("untrusted_frame_closes_total", "counter",
         "Connections closed (1008) for sending more than limits.untrusted_frames before authenticating.",
         s.untrusted_frame_closes);
  metric("fragment_closes_total", "counter",
         "Connections closed (1009) for a message in more than limits.max_message_fragments frames.", s.fragment_closes);
  metric("pongs_coalesced_total", "counter", "Pings answered only by a newer pong (one pong pending per connection).",
         s.pongs_coalesced);
  metric("memory_trims_total", "counter", "Times freed memory was handed back to the OS (limits.trim_memory_after).",
         s.memory_trims);
  metric("http_connections", "gauge", "Open HTTP connections (not upgraded).", s.http_connections);
  metric("http_requests_refused_total", "counter",
         "HTTP requests refused for their framing or size (400, 413, 431, 501), connection closed.",
         s.http_requests_refused);
  metric("http_connections_refused_total", "counter",
         "HTTP connections refused above max_http_connections or max_http_connections_per_ip (503).",
         s.http_connections_refused);
  metric("accept_refused_total", "counter",
         "Connections answered and closed at once because the server was out of file descriptors.", s.accept_refused);
  metric("http_timeouts_total", "counter",
         "HTTP connections closed by a deadline: handshake_timeout, or http_keepalive_timeout of silence.",
         s.http_timeouts);
  metric("uptime_seconds", "gauge", "Seconds since the server started.", s.uptime_seconds);
  return HttpResponse{200, "text/plain; version=0.0.4", std::move(out), {}};
}

}  // namespace sb::api
