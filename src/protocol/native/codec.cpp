#include "protocol/native/codec.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include "protocol/json_text.hpp"
#include "protocol/native/tags_filters.hpp"
#include "transport/ws_frame.hpp"

namespace sb::protocol::native {

namespace json = boost::json;
using transport::WsOpcode;
namespace raw = protocol::raw;
using protocol::JsonObject;
using protocol::non_finite_error;

namespace {

Error invalid(std::string message) { return make_error(ErrorCode::invalid_message, std::move(message)); }

// Wraps a JSON text in an unmasked text frame, header first, in one allocation.
std::string frame(std::string_view json_text) { return transport::encode_frame(WsOpcode::text, json_text); }

Result<std::string> required_string(const JsonObject& o, std::string_view key) {
  auto v = o.find(key);
  if (!v) return invalid("missing field '" + std::string(key) + "'");
  if (!raw::is_string(*v)) return invalid("field '" + std::string(key) + "' must be a string");
  return raw::string_value(*v);
}

// An optional string field: absent leaves `out` as it is.
Status optional_string(const JsonObject& o, std::string_view key, std::string& out) {
  auto v = o.find(key);
  if (!v) return Ok{};
  if (!raw::is_string(*v)) return invalid("field '" + std::string(key) + "' must be a string");
  out = raw::string_value(*v);
  return Ok{};
}

// An optional non-negative integer field: absent leaves `out` as it is.
Status optional_offset(const JsonObject& o, std::string_view key, std::uint64_t& out) {
  auto v = o.find(key);
  if (!v) return Ok{};
  auto n = raw::uint_value(*v);
  if (!n) return invalid("field '" + std::string(key) + "' must be a non-negative integer");
  out = *n;
  return Ok{};
}

Result<core::StreamPosition> since_of(std::string_view v) {
  const Error error = invalid(R"('since' must be {"offset": <integer >= 0>, "epoch": <string>})");
  auto since = JsonObject::parse(v);
  if (!since) return error;
  auto offset = since->find("offset");
  auto epoch = since->find("epoch");
  auto n = offset ? raw::uint_value(*offset) : std::nullopt;
  if (!n || !epoch || !raw::is_string(*epoch)) return error;
  return core::StreamPosition{*n, raw::string_value(*epoch)};
}

// The fields of each command type, read from the frame's object into `c` (type and id already
// set). Each checks its fields in a fixed order: a frame with several bad ones is refused for the
// first of them.
Status channel_field(const JsonObject& o, Command& c) {
  auto channel = required_string(o, "channel");
  if (!channel) return channel.error();
  c.channel = std::move(*channel);
  return Ok{};
}

Status no_fields(const JsonObject&, Command&) { return Ok{}; }

Status connect_fields(const JsonObject& o, Command& c) {
  if (auto ok = optional_string(o, "user", c.user); !ok) return ok;
  if (auto v = o.find("info")) {
    if (!raw::is_object(*v)) return invalid("field 'info' must be an object");
    c.info = std::string(*v);
  }
  // For the backend's connect proxy (docs/backend.md): any JSON value, passed on as sent.
  if (auto v = o.find("data")) c.data = std::string(*v);
  return optional_string(o, "token", c.token);
}

// subscribe, history: an optional `filter` (docs/filters.md); `null` is the same as none.
Status filter_field(const JsonObject& o, Command& c) {
  auto v = o.find("filter");
  if (!v || *v == "null") return Ok{};
  auto filter = parse_filter(*v);
  if (!filter) return filter.error();
  c.filter = std::move(*filter);
  return Ok{};
}

Status subscribe_fields(const JsonObject& o, Command& c) {
  if (auto ok = channel_field(o, c); !ok) return ok;
  if (auto ok = optional_string(o, "token", c.token); !ok) return ok;
  if (auto v = o.find("since")) {
    auto since = since_of(*v);
    if (!since) return since.error();
    c.since = std::move(*since);
  }
  return filter_field(o, c);
}

Status publish_fields(const JsonObject& o, Command& c) {
  if (auto ok = channel_field(o, c); !ok) return ok;
  auto data = o.find("data");
  if (!data) return invalid("missing field 'data'");
  c.data = std::string(*data);
  if (auto v = o.find("tags")) {
    auto tags = parse_tags(*v);
    if (!tags) return tags.error();
    c.tags = std::move(*tags);
  }
  return Ok{};
}

Status history_fields(const JsonObject& o, Command& c) {
  if (auto ok = channel_field(o, c); !ok) return ok;
  if (auto ok = optional_offset(o, "since", c.after); !ok) return ok;
  if (auto ok = optional_offset(o, "before", c.before); !ok) return ok;
  std::uint64_t limit = c.limit;
  if (auto ok = optional_offset(o, "limit", limit); !ok) return ok;
  if (limit == 0 || limit > max_history_limit) return invalid("field 'limit' must be from 1 to 1000");
  c.limit = static_cast<std::size_t>(limit);
  if (auto v = o.find("reverse")) {
    auto b = raw::bool_value(*v);
    if (!b) return invalid("field 'reverse' must be true or false");
    c.newest_first = *b;
  }
  return filter_field(o, c);
}

Status event_fields(const JsonObject& o, Command& c) {
  if (auto ok = channel_field(o, c); !ok) return ok;
  auto event = required_string(o, "event");
  if (!event) return event.error();
  if (event->empty() || event->size() > 64) return invalid("field 'event' must be 1 to 64 characters");
  c.event = std::move(*event);
  if (auto data = o.find("data")) c.data = std::string(*data);
  return Ok{};
}

Status typing_fields(const JsonObject& o, Command& c) {
  if (auto ok = channel_field(o, c); !ok) return ok;
  auto typing = o.find("typing");
  auto b = typing ? raw::bool_value(*typing) : std::nullopt;
  if (!b) return invalid("field 'typing' must be true or false");
  c.typing = *b;
  return Ok{};
}

Status refresh_fields(const JsonObject& o, Command& c) {
  auto token = required_string(o, "token");
  if (!token) return token.error();
  c.token = std::move(*token);
  return Ok{};
}

Status stream_cancel_fields(const JsonObject& o, Command& c) {
  auto stream = required_string(o, "stream");
  if (!stream) return stream.error();
  c.stream = std::move(*stream);
  return Ok{};
}

Status rpc_fields(const JsonObject& o, Command& c) {
  if (c.id.empty()) return invalid("an rpc needs an 'id': the answer is matched to it");
  auto method = required_string(o, "method");
  if (!method) return method.error();
  if (method->empty() || method->size() > 128) return invalid("field 'method' must be 1 to 128 characters");
  c.method = std::move(*method);
  if (auto data = o.find("data")) c.data = std::string(*data);
  return Ok{};
}

// What a frame's `type` names: the command and the reader of its fields. The busiest first.
struct CommandKind {
  std::string_view type;
  CommandType command;
  Status (*read_fields)(const JsonObject&, Command&);
};
constexpr CommandKind command_kinds[] = {
    {"publish", CommandType::publish, publish_fields},
    {"subscribe", CommandType::subscribe, subscribe_fields},
    {"unsubscribe", CommandType::unsubscribe, channel_field},
    {"ping", CommandType::ping, no_fields},
    {"history", CommandType::history, history_fields},
    {"presence", CommandType::presence, channel_field},
    {"presence_stats", CommandType::presence_stats, channel_field},
    {"event", CommandType::event, event_fields},
    {"typing", CommandType::typing, typing_fields},
    {"connect", CommandType::connect, connect_fields},
    {"refresh", CommandType::refresh, refresh_fields},
    {"stream_cancel", CommandType::stream_cancel, stream_cancel_fields},
    {"rpc", CommandType::rpc, rpc_fields},
};

const CommandKind* command_kind(std::string_view type) {
  for (const CommandKind& kind : command_kinds)
    if (kind.type == type) return &kind;
  return nullptr;
}

}  // namespace

std::string json_quote(std::string_view s) { return json::serialize(json::string_view(s.data(), s.size())); }

// Client values that others receive (`data`, `info`) are kept as the raw slices of the frame
// (protocol/json_text.hpp): the exact bytes the client sent, never parsed into a tree.
Result<Command> decode(std::string_view text, std::string& id) {
  id.clear();
  auto parsed = JsonObject::parse(text, "malformed JSON", "a frame must be a JSON object");
  if (!parsed) return parsed.error();
  const JsonObject& o = *parsed;

  if (auto v = o.find("id")) {
    // Echoed in the reply as the client wrote it.
    if (raw::is_string(*v) || raw::int_value(*v) || raw::uint_value(*v)) id = std::string(*v);
    else return invalid("'id' must be a string or an integer");
  }
  // Refused after reading the id, so the client learns which request it was.
  if (!o.finite()) return non_finite_error();
  auto type_value = o.find("type");
  if (!type_value) return invalid("missing field 'type'");
  if (!raw::is_string(*type_value)) return invalid("field 'type' must be a string");
  const std::string type = raw::string_value(*type_value);
  const CommandKind* kind = command_kind(type);
  if (!kind) return invalid("unknown type '" + type + "'");

  Command c;
  c.id = id;
  c.type = kind->command;
  if (auto ok = kind->read_fields(o, c); !ok) return ok.error();
  return c;
}

namespace {
// Starts `{"type":"<type>"` and the id if there is one.
std::string start(std::string_view type, std::string_view id) {
  std::string s;
  s.reserve(96);
  s.append(R"({"type":")").append(type).push_back('"');
  if (!id.empty()) s.append(R"(,"id":)").append(id);
  return s;
}
void append_position(std::string& s, const core::StreamPosition& p) {
  s.append(R"(,"offset":)").append(std::to_string(p.offset));
  s.append(R"(,"epoch":")").append(p.epoch).push_back('"');
}
}  // namespace

std::string encode_connected(std::string_view client, std::string_view id, std::string_view user,
                             int ping_interval_seconds) {
  std::string s = start("connected", id);
  s.append(R"(,"client":)").append(json_quote(client));
  if (!user.empty()) s.append(R"(,"user":)").append(json_quote(user));
  s.append(R"(,"version":)").append(std::to_string(protocol_version));
  s.append(R"(,"ping_interval":)").append(std::to_string(ping_interval_seconds));
  s.push_back('}');
  return frame(s);
}

std::string encode_subscribed(std::string_view id, std::string_view channel, const core::StreamPosition& position,
                              std::optional<bool> recovered, std::string_view info) {
  std::string s = start("subscribed", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  append_position(s, position);
  if (recovered) s.append(R"(,"recovered":)").append(*recovered ? "true" : "false");
  if (!info.empty()) s.append(R"(,"info":)").append(info);
  s.push_back('}');
  return frame(s);
}

std::string encode_message(std::string_view channel, const core::StoredMessage& m) {
  return frame(message_json(core::Publication{channel, m.data, m.offset, m.ts, m.from, m.tags}));
}

namespace {
void append_member(std::string& s, const core::Member& m) {
  s.append(R"("client":)").append(json_quote(m.client));
  s.append(R"(,"user":)").append(json_quote(m.user));
  if (!m.info.empty()) s.append(R"(,"info":)").append(m.info);
}
}  // namespace

std::string members_json(const std::vector<core::Member>& members) {
  std::string s = "[";
  for (const auto& m : members) {
    if (s.size() > 1) s.push_back(',');
    s.push_back('{');
    append_member(s, m);
    s.push_back('}');
  }
  s.push_back(']');
  return s;
}

std::string encode_presence(std::string_view id, std::string_view channel, const std::vector<core::Member>& members) {
  std::string s = start("presence", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"members":)").append(members_json(members)).push_back('}');
  return frame(s);
}

std::string encode_presence_stats(std::string_view id, std::string_view channel, const core::PresenceStats& stats) {
  std::string s = start("presence_stats", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"clients":)").append(std::to_string(stats.clients));
  s.append(R"(,"users":)").append(std::to_string(stats.users)).push_back('}');
  return frame(s);
}

static std::string member_event(std::string_view type, std::string_view channel, const core::Member& m) {
  std::string s = start(type, {});
  s.append(R"(,"channel":)").append(json_quote(channel)).push_back(',');
  append_member(s, m);
  s.push_back('}');
  return frame(s);
}

std::string encode_join(std::string_view channel, const core::Member& m) { return member_event("join", channel, m); }
std::string encode_leave(std::string_view channel, const core::Member& m) { return member_event("leave", channel, m); }

std::string encode_event(std::string_view channel, std::string_view event, std::string_view data,
                         const core::Member* sender, std::string_view from) {
  std::string s = start("event", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"event":)").append(json_quote(event));
  if (!data.empty()) s.append(R"(,"data":)").append(data);
  if (sender) {
    s.append(R"(,"client":)").append(json_quote(sender->client));
    s.append(R"(,"user":)").append(json_quote(sender->user));
  }
  if (!from.empty()) s.append(R"(,"from":)").append(from);
  s.push_back('}');
  return frame(s);
}

std::string encode_typing(std::string_view channel, const core::Member& sender, bool typing, std::string_view from) {
  std::string s = start("typing", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"client":)").append(json_quote(sender.client));
  s.append(R"(,"user":)").append(json_quote(sender.user));
  s.append(R"(,"typing":)").append(typing ? "true" : "false");
  if (!from.empty()) s.append(R"(,"from":)").append(from);
  s.push_back('}');
  return frame(s);
}

std::string encode_stream_start(std::string_view channel, std::string_view stream, std::string_view meta) {
  std::string s = start("stream_start", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"stream":)").append(json_quote(stream));
  if (!meta.empty()) s.append(R"(,"meta":)").append(meta);
  s.push_back('}');
  return frame(s);
}

std::string encode_stream_delta(std::string_view channel, std::string_view stream, std::uint64_t seq,
                                std::string_view delta) {
  std::string s = start("stream_delta", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"stream":)").append(json_quote(stream));
  s.append(R"(,"seq":)").append(std::to_string(seq));
  s.append(R"(,"delta":)").append(json_quote(delta)).push_back('}');
  return frame(s);
}

std::string encode_stream_end(std::string_view channel, std::string_view stream, std::uint64_t seq,
                              std::string_view reason) {
  std::string s = start("stream_end", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"stream":)").append(json_quote(stream));
  s.append(R"(,"seq":)").append(std::to_string(seq));
  s.append(R"(,"reason":)").append(json_quote(reason)).push_back('}');
  return frame(s);
}

std::string encode_stream_cancelled(std::string_view id, std::string_view stream) {
  std::string s = start("stream_cancelled", id);
  s.append(R"(,"stream":)").append(json_quote(stream)).push_back('}');
  return frame(s);
}

std::string encode_relayed(std::string_view id, std::string_view channel) {
  std::string s = start("relayed", id);
  s.append(R"(,"channel":)").append(json_quote(channel)).push_back('}');
  return frame(s);
}

std::string messages_json(const std::vector<core::StoredMessage>& messages) {
  std::string s = "[";
  // Sized once: a page may be megabytes, and growing by doubling would briefly hold it twice.
  std::size_t size = 2;
  for (const auto& m : messages) size += core::page_bytes(m);
  s.reserve(size);
  for (const auto& m : messages) {
    if (s.size() > 1) s.push_back(',');
    s.append(R"({"offset":)").append(std::to_string(m.offset));
    s.append(R"(,"ts":)").append(std::to_string(m.ts));
    // Before `data`: a message's object ends with its payload, as it did before `from` existed.
    if (!m.from.empty()) s.append(R"(,"from":)").append(m.from);
    append_tags_json(s, m.tags);
    s.append(R"(,"data":)").append(m.data).push_back('}');
  }
  s.push_back(']');
  return s;
}

std::string encode_history(std::string_view id, std::string_view channel, const core::HistoryPage& page) {
  std::string s = start("history", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  append_position(s, page.position);
  s.append(R"(,"first_offset":)").append(std::to_string(page.first_offset));
  s.append(R"(,"messages":)").append(messages_json(page.messages));
  // The cursor: present only when more messages match than this page holds.
  if (page.more) s.append(R"(,"next":)").append(std::to_string(page.next()));
  s.push_back('}');
  return frame(s);
}

std::string encode_unsubscribed(std::string_view id, std::string_view channel) {
  std::string s = start("unsubscribed", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.push_back('}');
  return frame(s);
}

std::string encode_published(std::string_view id, std::string_view channel, const core::StreamPosition& position) {
  std::string s = start("published", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  append_position(s, position);
  s.push_back('}');
  return frame(s);
}

std::string encode_published(std::string_view id, std::string_view channel) {
  std::string s = start("published", id);
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.push_back('}');
  return frame(s);
}

std::string encode_rpc_result(std::string_view id, std::string_view data) {
  std::string s = start("rpc_result", id);
  s.append(R"(,"data":)").append(data);
  s.push_back('}');
  return frame(s);
}

std::string encode_app_error(std::string_view id, std::string_view code, std::string_view message) {
  std::string s = start("error", id);
  s.append(R"(,"code":)").append(json_quote(code));
  s.append(R"(,"message":)").append(json_quote(message));
  s.append(R"(,"retryable":false})");
  return frame(s);
}

std::string encode_pong(std::string_view id) { return frame(start("pong", id) + "}"); }

std::string encode_error(std::string_view id, const Error& error, std::int64_t retry_after_ms) {
  std::string s = start("error", id);
  s.append(R"(,"code":")").append(error_code_name(error.code)).push_back('"');
  s.append(R"(,"message":)").append(json_quote(error.message));
  s.append(R"(,"retryable":)").append(error.retryable() ? "true" : "false");
  if (retry_after_ms > 0) s.append(R"(,"retry_after":)").append(std::to_string(retry_after_ms));
  s.push_back('}');
  return frame(s);
}

std::string encode_channel_error(std::string_view channel, const Error& error) {
  std::string s = start("error", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"code":")").append(error_code_name(error.code)).push_back('"');
  s.append(R"(,"message":)").append(json_quote(error.message));
  s.append(R"(,"retryable":)").append(error.retryable() ? "true" : "false");
  s.push_back('}');
  return frame(s);
}

std::string encode_refresh_required(std::int64_t expires_in_seconds) {
  return frame(start("refresh_required", {}) + R"(,"expires_in":)" + std::to_string(expires_in_seconds) + "}");
}

std::string encode_reset(std::string_view channel, const core::StreamPosition& position) {
  std::string s = start("reset", {});
  s.append(R"(,"channel":)").append(json_quote(channel));
  append_position(s, position);
  s.push_back('}');
  return frame(s);
}

std::string encode_refreshed(std::string_view id, std::int64_t expires_at) {
  return frame(start("refreshed", id) + R"(,"expires_at":)" + std::to_string(expires_at) + "}");
}

std::string message_json(const core::Publication& p) {
  std::string s;
  s.reserve(p.data.size() + p.from.size() + 2 * p.tags.size() + p.channel.size() + 88);
  s.append(R"({"type":"message","channel":)").append(json_quote(p.channel));
  s.append(R"(,"data":)").append(p.data);
  s.append(R"(,"offset":)").append(std::to_string(p.offset));
  s.append(R"(,"ts":)").append(std::to_string(p.ts));
  if (!p.from.empty()) s.append(R"(,"from":)").append(p.from);
  append_tags_json(s, p.tags);
  s.push_back('}');
  return s;
}

}  // namespace sb::protocol::native
