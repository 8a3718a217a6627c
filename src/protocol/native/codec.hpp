#pragma once
// Native protocol v1 (docs/protocol.md): JSON text frames. decode() turns a client frame into a
// Command; the encode_* functions build complete server frames (WebSocket header included), ready
// to queue on a connection.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "core/filter.hpp"
#include "core/history.hpp"
#include "core/publication.hpp"

namespace sb::protocol::native {

inline constexpr int protocol_version = 1;

enum class CommandType {
  connect, subscribe, unsubscribe, publish, ping, history, presence, presence_stats, event, typing, stream_cancel,
  refresh, rpc
};

struct Command {
  CommandType type = CommandType::ping;
  std::string id;       // the request's `id` as the client wrote it (a number or a string), empty without one
  std::string channel;  // subscribe, unsubscribe, publish
  std::string data;     // publish, event, rpc, connect (for the backend): the `data` value, the exact bytes sent (protocol/json_text.hpp)
  std::string user;     // connect: who this client is (until tokens carry it)
  std::string info;     // connect: JSON object shown with the user, the exact bytes sent, or empty
  std::string token;    // connect, refresh: a JWT; subscribe: a subscription token (private namespaces)
  std::optional<core::StreamPosition> since;  // subscribe: recover from this position
  // history: offsets after `after` (oldest first) or before `before` (newest first)
  std::uint64_t after = 0;
  std::uint64_t before = 0;
  std::size_t limit = 100;
  bool newest_first = false;
  std::string event;    // event: its name
  bool typing = false;  // typing: started (true) or stopped (false)
  std::string stream;   // stream_cancel: the stream's id
  std::string method;   // rpc: the method's name (1 to 128 characters); `data` its argument
  std::string tags;     // publish: its tags in core/tags.hpp's encoding, empty without (tags_filters.hpp)
  std::shared_ptr<const core::Filter> filter;  // subscribe, history: null without one
};

// Most messages one history request returns.
inline constexpr std::size_t max_history_limit = 1000;

// Parses one client frame: strict JSON with finite numbers (protocol/json_text.hpp), values that
// others receive kept as the bytes sent. On error, `id` is filled whenever the frame had a usable
// `id`, so the error reply can carry it.
Result<Command> decode(std::string_view text, std::string& id);

// Server frames.
std::string encode_connected(std::string_view client, std::string_view id, std::string_view user,
                             int ping_interval_seconds);
// `recovered` is included only when the subscribe asked to recover (`since`); `info` (a serialized
// object the backend's subscribe proxy attached) only when not empty.
std::string encode_subscribed(std::string_view id, std::string_view channel, const core::StreamPosition& position,
                              std::optional<bool> recovered = std::nullopt, std::string_view info = {});
// A message frame for one stored message (recovery), same shape as a live one.
std::string encode_message(std::string_view channel, const core::StoredMessage& message);
std::string encode_history(std::string_view id, std::string_view channel, const core::HistoryPage& page);
std::string encode_presence(std::string_view id, std::string_view channel, const std::vector<core::Member>& members);
std::string encode_presence_stats(std::string_view id, std::string_view channel, const core::PresenceStats& stats);
// Pushed to the other subscribers of a channel with join_leave.
std::string encode_join(std::string_view channel, const core::Member& member);
std::string encode_leave(std::string_view channel, const core::Member& member);
// Relayed events: never stored, no offset. `data` is a checked JSON value (copied into the frame
// as it is), or empty. A connection's event names it twice: `client` and `user` from `sender`
// (as before `from` existed) and the `from` object (identity.hpp); a backend's (POST /api/event)
// has no sender and a `from` only when the backend gave one. `from` is serialized JSON or empty.
std::string encode_event(std::string_view channel, std::string_view event, std::string_view data,
                         const core::Member* sender, std::string_view from);
std::string encode_typing(std::string_view channel, const core::Member& sender, bool typing, std::string_view from);
// The reply to an `event` or `typing` request that had an id: it was relayed.
std::string encode_relayed(std::string_view id, std::string_view channel);
// Streams (AI answers and other long outputs). `meta` is serialized JSON, or empty.
std::string encode_stream_start(std::string_view channel, std::string_view stream, std::string_view meta);
std::string encode_stream_delta(std::string_view channel, std::string_view stream, std::uint64_t seq,
                                std::string_view delta);
std::string encode_stream_end(std::string_view channel, std::string_view stream, std::uint64_t seq,
                              std::string_view reason);
std::string encode_stream_cancelled(std::string_view id, std::string_view stream);

// The members as a JSON array of {client, user, info} (also used by the HTTP API).
std::string members_json(const std::vector<core::Member>& members);

// The stored messages as a JSON array of {offset, ts, from?, tags?, data} (also used by the HTTP API).
std::string messages_json(const std::vector<core::StoredMessage>& messages);
std::string encode_unsubscribed(std::string_view id, std::string_view channel);
std::string encode_published(std::string_view id, std::string_view channel, const core::StreamPosition& position);
// A publish the backend took (publish_proxy_only): nothing was broadcast, so no offset.
std::string encode_published(std::string_view id, std::string_view channel);
std::string encode_pong(std::string_view id);
// The backend's answer to an `rpc`: `data` is serialized JSON.
std::string encode_rpc_result(std::string_view id, std::string_view data);
// An error the app's backend chose (docs/backend.md): its own `code` (checked by the backend
// layer) and message; never retryable.
std::string encode_app_error(std::string_view id, std::string_view code, std::string_view message);
// `retry_after_ms` > 0 adds `retry_after` (RATE_LIMIT).
std::string encode_error(std::string_view id, const Error& error, std::int64_t retry_after_ms = 0);
// A subscription the server made at connect (token `subs`, `?channel=`) that failed: an `error`
// without `id`, naming its `channel`.
std::string encode_channel_error(std::string_view channel, const Error& error);
// Sent before the connection's token expires: answer with `refresh` {token}.
std::string encode_refresh_required(std::int64_t expires_in_seconds);
// Messages of a subscribed channel were lost for this connection and cannot be recovered (in a
// cluster, when the node was cut off from Redis beyond what history keeps): the client reloads
// the channel's state; live messages go on after `position` (docs/protocol.md).
std::string encode_reset(std::string_view channel, const core::StreamPosition& position);
std::string encode_refreshed(std::string_view id, std::int64_t expires_at);
// The payload of a `message` frame, without the WebSocket header (also used by the HTTP API).
std::string message_json(const core::Publication& publication);

// JSON string literal (quoted and escaped) for `s`.
std::string json_quote(std::string_view s);

}  // namespace sb::protocol::native
