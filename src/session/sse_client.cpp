#include "session/sse_client.hpp"

#include <charconv>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "protocol/native/codec.hpp"
#include "transport/ws_frame.hpp"

namespace sb::session {

namespace native = protocol::native;

namespace {

// What the browser waits before reconnecting (the SSE `retry:` field), in milliseconds.
constexpr int reconnect_delay_ms = 1000;

// The frame's `type` (every native frame starts with {"type":"...), the SSE event's name.
std::string_view frame_type(std::string_view json) {
  constexpr std::string_view prefix = R"({"type":")";
  if (json.substr(0, prefix.size()) != prefix) return "message";
  json.remove_prefix(prefix.size());
  return json.substr(0, json.find('"'));
}

}  // namespace

std::string format_stream_id(const std::vector<core::StreamPosition>& positions) {
  std::string id;
  for (const auto& p : positions) {
    if (!id.empty()) id.push_back(',');
    id.append(std::to_string(p.offset)).push_back(':');
    id.append(p.epoch);
  }
  return id;
}

std::optional<std::vector<core::StreamPosition>> parse_stream_id(std::string_view id, std::size_t count) {
  std::vector<core::StreamPosition> positions;
  while (positions.size() < count) {
    const auto comma = id.find(',');
    std::string_view item = id.substr(0, comma);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    core::StreamPosition p;
    const auto digits = item.substr(0, colon);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.offset);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    p.epoch = std::string(item.substr(colon + 1));
    for (char c : p.epoch)
      if (c <= ' ' || c > '~' || c == ',') return std::nullopt;
    positions.push_back(std::move(p));
    if (comma == std::string_view::npos) break;
    id.remove_prefix(comma + 1);
    if (positions.size() == count) return std::nullopt;  // more positions than channels
  }
  if (positions.size() != count) return std::nullopt;
  return positions;
}

SseClient::SseClient(ClientServices& services, std::size_t shard, boost::asio::io_context& io, Identity identity,
                     std::string remote_ip, StreamFormat format)
    : services_(services), shard_(shard), io_(io), id_(random_hex(8).substr(0, 15)), identity_(std::move(identity)),
      remote_ip_(std::move(remote_ip)), format_(format) {}

SseClient::~SseClient() {
  unsubscribe_all();  // a stream refused in start(), or never opened
  if (services_.admission) services_.admission->release(remote_ip_);
}

void SseClient::unsubscribe_all() {
  for (auto& s : subscriptions_) services_.hub.unsubscribe(shard_, s.channel, *this);
  subscriptions_.clear();
}

// Validated first, all of them, so that a refusal leaves nothing behind; then subscribed. The hub
// delivers on this thread after this returns, so nothing live comes between the recovery and
// the first live message.
Status SseClient::start(const std::vector<std::string>& channels, const std::vector<core::StreamPosition>* since) {
  if (channels.empty()) return make_error(ErrorCode::invalid_message, "name at least one channel (?channel=)");
  if (channels.size() > max_stream_channels)
    return make_error(ErrorCode::limit_exceeded, "at most " + std::to_string(max_stream_channels) + " channels per stream");
  std::vector<const core::NamespaceOptions*> options;
  for (const auto& channel : channels) {
    auto ns = services_.namespaces.resolve(channel);
    if (!ns) return ns.error();
    if (auto allowed = check_subscribe(**ns, channel, identity_, {}, services_.verifier, unix_millis() / 1000); !allowed)
      return allowed;
    options.push_back(*ns);
  }
  std::vector<core::SubscribeResult> results;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const core::StreamPosition* from = since ? &(*since)[i] : nullptr;
    auto result = services_.hub.subscribe(shard_, channels[i], *this, options[i]->history, from);
    if (!result) return result.error();  // the destructor unsubscribes the others
    if (!result->added) return make_error(ErrorCode::invalid_message, "channel '" + channels[i] + "' named twice");
    // Until its own recovery is written, a channel stands where the client said it was.
    subscriptions_.push_back({channels[i], from && result->recovered ? *from : result->position});
    results.push_back(std::move(*result));
  }
  if (format_ == StreamFormat::sse) prelude_ = "retry: " + std::to_string(reconnect_delay_ms) + "\n\n";
  for (std::size_t i = 0; i < channels.size(); ++i) {
    auto& result = results[i];
    Subscription& sub = subscriptions_[i];
    send_frame(native::encode_subscribed({}, sub.channel, result.position,
                                         since ? std::optional<bool>(result.recovered) : std::nullopt),
               true);
    if (!since) continue;
    if (!result.recovered) {
      // Lost for good (a new epoch, past retention, no history): the client reloads its state.
      sub.position = result.position;
      send_frame(native::encode_reset(sub.channel, result.position), true);
      continue;
    }
    for (const auto& m : result.missed) {
      sub.position.offset = m.offset;
      send_frame(native::encode_message(sub.channel, m), true);
    }
    sub.position = result.position.offset >= sub.position.offset ? result.position : sub.position;
  }
  return Ok{};
}

void SseClient::on_open(transport::EventStream& stream) {
  stream_ = &stream;
  services_.registry.add(*this);
  if (!identity_.user.empty()) services_.registry.set_user(*this, identity_.user);
  write(prelude_);
  std::string().swap(prelude_);
}

std::chrono::seconds SseClient::heartbeat_interval() const {
  return std::chrono::seconds(services_.stream_heartbeat_seconds);
}

void SseClient::on_heartbeat() {
  // A token that expired ends the stream: a WebSocket client would refresh it, this one reconnects.
  if (identity_.verified && identity_.expires() > 0 &&
      identity_.expires() + services_.token_leeway_seconds < unix_millis() / 1000)
    return end(make_error(ErrorCode::auth_failed, "token expired"));
  write(format_ == StreamFormat::sse ? std::string_view(": ping\n\n") : std::string_view("\n"));
}

void SseClient::on_close() {
  unsubscribe_all();
  services_.registry.remove(*this);
  stream_ = nullptr;
}

void SseClient::end(const Error& why) {
  if (!stream_) return;
  const std::string frame = native::encode_error({}, why, 0);
  send_event(transport::frame_payload(frame), false);
  stream_->close();
}

void SseClient::disconnect(std::uint16_t, std::string_view reason) {
  end(make_error(ErrorCode::permission_denied, std::string(reason)));
}

SseClient::Subscription* SseClient::find(std::string_view channel) {
  for (auto& s : subscriptions_)
    if (s.channel == channel) return &s;
  return nullptr;
}

void SseClient::deliver(const SharedBytes& frame, std::string_view channel, std::uint64_t offset,
                        std::string_view stream) {
  if (!stream_) return;
  const bool publication = offset != 0 && stream.empty();
  if (publication) {
    Subscription* sub = find(channel);
    if (!sub) return;
    if (offset <= sub->position.offset) return;  // already sent by the start's recovery
    sub->position.offset = offset;
  }
  send_event(transport::frame_payload(*frame), publication);
}

void SseClient::on_gap(std::string_view channel, const core::StreamPosition& last) {
  Subscription* sub = find(channel);
  if (!stream_ || !sub) return;
  auto ns = services_.namespaces.find(sub->channel);
  if (!ns) return;
  // As Client::on_gap: recover after what this client was sent, else reset.
  core::StreamPosition since = last;
  since.offset = std::max(since.offset, sub->position.offset);
  auto result = services_.hub.subscribe(shard_, sub->channel, *this, (*ns)->history, &since);
  if (result && result->recovered) {
    sub->position.epoch = since.epoch;
    for (const auto& m : result->missed) {
      sub->position.offset = m.offset;
      send_frame(native::encode_message(sub->channel, m), true);
    }
    return;
  }
  sub->position = result ? result->position : last;
  send_frame(native::encode_reset(sub->channel, sub->position), true);
}

void SseClient::send_frame(const std::string& ws_frame, bool with_id) {
  send_event(transport::frame_payload(ws_frame), with_id);
}

void SseClient::send_event(std::string_view payload, bool with_id) {
  std::string event;
  if (format_ == StreamFormat::ndjson) {
    event.reserve(payload.size() + 1);
    event.append(payload).push_back('\n');
    return write(event);
  }
  const std::string_view type = frame_type(payload);
  std::string id;
  if (with_id) {
    std::vector<core::StreamPosition> positions;
    positions.reserve(subscriptions_.size());
    for (const auto& s : subscriptions_) positions.push_back(s.position);
    id = format_stream_id(positions);
  }
  event.reserve(payload.size() + type.size() + id.size() + 24);
  event.append("event: ").append(type).push_back('\n');
  if (with_id) event.append("id: ").append(id).push_back('\n');
  // One line: the JSON text of a native frame has no raw newline (they are escaped in strings).
  event.append("data: ").append(payload).append("\n\n");
  write(event);
}

void SseClient::write(std::string_view bytes) {
  if (stream_) stream_->send(bytes);
  else prelude_.append(bytes);
}

}  // namespace sb::session
