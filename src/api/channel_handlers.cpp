// What the API tells about channels: GET /api/history (a page of stored messages, read off the
// worker thread), /api/presence and /api/presence_stats, /api/channels (this node's; with
// scope=cluster, cluster_queries.cpp).
#include <charconv>

#include "api/http_api.hpp"
#include "api/json_io.hpp"
#include "protocol/native/codec.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

// A query parameter that is an offset or a count: absent leaves `out` as it is.
Status offset_param(const HttpRequest& request, std::string_view name, std::uint64_t& out) {
  std::string text;
  if (!request.query_param(name, text)) return Ok{};
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // Offsets stop at 2^53 - 1 (core::max_offset); a larger one is refused, never wrapped.
  if (ec != std::errc{} || ptr != text.data() + text.size() || v > core::max_offset)
    return invalid("query parameter '" + std::string(name) + "' must be an integer from 0 to 9007199254740991");
  out = v;
  return Ok{};
}

// The history query a request asks for, or why it cannot be read.
Result<core::HistoryQuery> history_query(const HttpRequest& request, std::size_t max_bytes) {
  core::HistoryQuery query;
  std::uint64_t limit = 100;
  if (auto ok = offset_param(request, "since", query.after); !ok) return ok.error();
  if (auto ok = offset_param(request, "before", query.before); !ok) return ok.error();
  if (auto ok = offset_param(request, "limit", limit); !ok) return ok.error();
  if (limit == 0 || limit > protocol::native::max_history_limit)
    return invalid("query parameter 'limit' must be from 1 to 1000");
  query.limit = static_cast<std::size_t>(limit);
  query.max_bytes = max_bytes;
  std::string reverse;
  if (request.query_param("reverse", reverse)) {
    if (reverse != "true" && reverse != "false") return invalid("'reverse' must be true or false");
    query.newest_first = reverse == "true";
  }
  return query;
}

// The page as its JSON, the messages' data as the bytes stored.
std::string history_json(std::string_view channel, const core::HistoryPage& page) {
  std::string body = R"({"channel":)" + protocol::native::json_quote(channel) + R"(,"offset":)" +
                     std::to_string(page.position.offset) + R"(,"epoch":)" +
                     protocol::native::json_quote(page.position.epoch) + R"(,"first_offset":)" +
                     std::to_string(page.first_offset) + R"(,"messages":)" +
                     protocol::native::messages_json(page.messages);
  if (page.more) body += R"(,"next":)" + std::to_string(page.next());
  body += "}";
  return body;
}

// The channel named by ?channel= in a namespace with presence, or the error to answer.
Result<std::string> presence_channel(const HttpRequest& request, const core::Namespaces& namespaces) {
  std::string channel;
  if (!request.query_param("channel", channel)) return invalid("missing query parameter 'channel'");
  auto ns = namespaces.resolve(channel);
  if (!ns) return ns.error();
  if (!(*ns)->presence) return make_error(ErrorCode::permission_denied, "presence is off in this namespace");
  return channel;
}

}  // namespace

void HttpApi::history(const HttpRequest& request, transport::HttpReply reply) const {
  std::string channel;
  if (!request.query_param("channel", channel))
    return reply(error_response(invalid("missing query parameter 'channel'")));
  auto ns = namespaces_.resolve(channel);
  if (!ns) return reply(error_response(ns.error()));
  auto query = history_query(request, max_history_bytes_);
  if (!query) return reply(error_response(query.error()));
  const core::HistoryPolicy policy = (*ns)->history;
  // On a reader thread: the answer goes back through `reply`, which returns to the worker.
  auto read = [hub = &hub_, channel, policy, query = *query, reply]() {
    auto page = hub->history(channel, policy, query);
    if (!page) return reply(error_response(page.error()));
    reply(HttpResponse{200, "application/json", history_json(channel, *page), {}});
  };
  if (!readers_) return read();
  if (!readers_->submit(read))
    reply(error_response(make_error(ErrorCode::unavailable, "too many history reads waiting; retry later")));
}

void HttpApi::presence(const HttpRequest& request, transport::HttpReply reply) const {
  auto channel = presence_channel(request, namespaces_);
  if (!channel) return reply(error_response(channel.error()));
  auto members = hub_.presence(*channel);
  if (!members) return reply(error_response(members.error()));
  std::string body = R"({"channel":)" + protocol::native::json_quote(*channel) + R"(,"members":)" +
                     protocol::native::members_json(*members) + "}";
  reply(HttpResponse{200, "application/json", std::move(body), {}});
}

void HttpApi::presence_stats(const HttpRequest& request, transport::HttpReply reply) const {
  auto channel = presence_channel(request, namespaces_);
  if (!channel) return reply(error_response(channel.error()));
  auto stats = hub_.presence_stats(*channel);
  if (!stats) return reply(error_response(stats.error()));
  reply(json_response(json::object{{"channel", *channel}, {"clients", stats->clients}, {"users", stats->users}}));
}

void HttpApi::channels(const HttpRequest& request, transport::HttpReply reply) const {
  std::string prefix;
  request.query_param("prefix", prefix);
  Status bad = Ok{};
  if (!cluster_scope(request, bad)) return reply(json_response(json::object{{"channels", channels_json(hub_, prefix)}}));
  if (!bad) return reply(error_response(bad.error()));
  reply(cluster_channels(prefix));
}

}  // namespace sb::api
