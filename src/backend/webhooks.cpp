#include "backend/webhooks.hpp"

#include "common/clock.hpp"
#include "common/random.hpp"
#include "protocol/native/codec.hpp"

namespace sb::backend {

using protocol::native::json_quote;

const std::vector<std::string_view>& webhook_event_names() {
  static const std::vector<std::string_view> names{"channel_occupied", "channel_vacated", "presence_join",
                                                   "presence_leave",   "client_event",    "typing",
                                                   "stream_cancelled", "connection_closed"};
  return names;
}

std::optional<unsigned> webhook_event_type(std::string_view name) {
  const auto& names = webhook_event_names();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return 1u << i;
  return std::nullopt;
}

Webhooks::Webhooks(boost::asio::io_context& io, WebhookOptions options, SendFunction send)
    : events_(options.events), dispatcher_(io, std::move(options.delivery), std::move(send)) {}

std::string Webhooks::start(std::string_view type) {
  // 16 random hex digits: the event's id, the same in every retry, for the backend to drop
  // duplicates (a batch whose 2xx got lost is sent again).
  std::string s = R"({"id":")" + random_hex(8) + R"(","type":")";
  s.append(type);
  s.append(R"(","time_ms":)").append(std::to_string(unix_millis()));
  return s;
}

namespace {
void append_member(std::string& s, std::string_view key, const core::Member& m) {
  s.append(",\"").append(key).append(R"(":{"client":)").append(json_quote(m.client));
  s.append(R"(,"user":)").append(json_quote(m.user));
  if (!m.info.empty()) s.append(R"(,"info":)").append(m.info);
  s.push_back('}');
}
}  // namespace

void Webhooks::channel_event(std::string_view type, std::string_view channel) {
  std::string s = start(type);
  s.append(R"(,"channel":)").append(json_quote(channel)).push_back('}');
  dispatcher_.enqueue(std::move(s));
}

void Webhooks::member_event(std::string_view type, std::string_view channel, const core::Member& member) {
  std::string s = start(type);
  s.append(R"(,"channel":)").append(json_quote(channel));
  append_member(s, "member", member);
  s.push_back('}');
  dispatcher_.enqueue(std::move(s));
}

void Webhooks::on_occupied(std::string_view channel) {
  if (enabled(channel_occupied)) channel_event("channel_occupied", channel);
}

void Webhooks::on_vacated(std::string_view channel) {
  if (enabled(channel_vacated)) channel_event("channel_vacated", channel);
}

void Webhooks::on_join(std::string_view channel, const core::Member& member) {
  if (enabled(presence_join)) member_event("presence_join", channel, member);
}

void Webhooks::on_leave(std::string_view channel, const core::Member& member) {
  if (enabled(presence_leave)) member_event("presence_leave", channel, member);
}

void Webhooks::client_event(std::string_view channel, std::string_view event, std::string_view data,
                            const core::Member& from) {
  if (!enabled(WebhookEventType::client_event)) return;
  std::string s = start("client_event");
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"event":)").append(json_quote(event));
  if (!data.empty()) s.append(R"(,"data":)").append(data);
  append_member(s, "from", from);
  s.push_back('}');
  dispatcher_.enqueue(std::move(s));
}

void Webhooks::typing(std::string_view channel, const core::Member& from, bool typing) {
  if (!enabled(typing_event)) return;
  std::string s = start("typing");
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"typing":)").append(typing ? "true" : "false");
  append_member(s, "from", from);
  s.push_back('}');
  dispatcher_.enqueue(std::move(s));
}

void Webhooks::stream_cancelled(std::string_view stream, std::string_view channel) {
  if (!enabled(WebhookEventType::stream_cancelled)) return;
  std::string s = start("stream_cancelled");
  s.append(R"(,"stream":)").append(json_quote(stream));
  s.append(R"(,"channel":)").append(json_quote(channel));
  s.append(R"(,"reason":"cancelled"})");
  dispatcher_.enqueue(std::move(s));
}

void Webhooks::connection_closed(std::string_view client, std::string_view user, std::uint16_t code,
                                 std::int64_t duration_ms) {
  if (!enabled(WebhookEventType::connection_closed)) return;
  std::string s = start("connection_closed");
  s.append(R"(,"client":)").append(json_quote(client));
  s.append(R"(,"user":)").append(json_quote(user));
  s.append(R"(,"code":)").append(std::to_string(code));
  s.append(R"(,"duration_ms":)").append(std::to_string(duration_ms)).push_back('}');
  dispatcher_.enqueue(std::move(s));
}

}  // namespace sb::backend
