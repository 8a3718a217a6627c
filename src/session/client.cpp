#include "session/client.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "core/channel_name.hpp"
#include "session/registry.hpp"
#include "session/streams.hpp"
#include "transport/worker.hpp"

namespace sb::session {

namespace native = protocol::native;
using native::CommandType;

// 60 random bits, in hex: unique among any number of live clients for practical purposes, and
// short enough to stay in std::string's small buffer (no allocation, here and in the registry).
constexpr std::size_t client_id_length = 15;

Client::Client(ClientServices& services, std::size_t shard, boost::asio::io_context& io, Identity identity,
               bool anonymous_allowed, std::string remote_ip)
    : services_(services), io_(io), shard_(shard), id_(random_hex(8).substr(0, client_id_length)),
      identity_(std::move(identity)),
      anonymous_allowed_(anonymous_allowed), remote_ip_(std::move(remote_ip)),
      bucket_(services.admission ? services.admission->rates().per_connection : 1e9,
              services.admission ? services.admission->rates().per_connection_burst : 1e9) {}

namespace {
std::int64_t unix_seconds() { return unix_millis() / 1000; }
}  // namespace

Client::~Client() {
  // Here, not in on_close: a client whose 101 never got written is destroyed without opening.
  if (services_.admission) services_.admission->release(remote_ip_);
}

void Client::on_open(transport::WsConnection& connection) {
  connection_ = &connection;
  quiet_since_ = connection.worker().now_seconds();
  opened_ = std::chrono::steady_clock::now();
  // Until a token checks out, the peer gets a few frames (limits.untrusted_frames), not the
  // full frame rate: enough for a connect, too few to make a flood of it.
  if (!may_act()) connection.limit_until_trusted();
  services_.registry.add(*this);
  if (!identity_.user.empty()) services_.registry.set_user(*this, identity_.user);
  // The backend decides first: `connected` waits for its answer.
  if (services_.proxy && !services_.proxy->config().connect_url.empty()) return start_connect_proxy();
  send_frame(native::encode_connected(id_, {}, identity_.user, services_.ping_interval_seconds));
  if (may_act()) subscribe_at_connect(/*claims=*/true);
}

void Client::on_message(std::string_view payload, bool /*binary*/) {
  if (connect_pending_) return hold_frame(payload);
  std::string id;
  // Every frame counts against the budget, well-formed or not.
  std::int64_t retry_after = 0;
  const bool within_budget =
      bucket_.take(std::chrono::steady_clock::now(), retry_after) &&
      (!identity_.verified || !services_.admission || services_.admission->take_user(identity_.user, retry_after));
  auto command = native::decode(payload, id);
  if (!within_budget) {
    if (services_.admission) services_.admission->note_rate_limited();
    return send_error(id, make_error(ErrorCode::rate_limit, "too many requests; retry later"), retry_after);
  }
  if (!command) return send_error(id, command.error());
  if (!may_act() && command->type != CommandType::connect && command->type != CommandType::ping)
    return send_error(command->id, make_error(ErrorCode::auth_failed, "send connect with a token first"));
  handle(*command);
  note_activity(*command);
}

void Client::handle(native::Command& command) {
  switch (command.type) {
    case CommandType::connect: return on_connect(command);
    case CommandType::subscribe: return on_subscribe(command);
    case CommandType::unsubscribe: return on_unsubscribe(command);
    case CommandType::publish: return on_publish(command);
    case CommandType::ping: return send_frame(native::encode_pong(command.id));
    case CommandType::history: return on_history(command);
    case CommandType::presence:
    case CommandType::presence_stats: return on_presence(command);
    case CommandType::event: return on_event(command);
    case CommandType::typing: return on_typing(command);
    case CommandType::stream_cancel: return on_stream_cancel(command);
    case CommandType::refresh: return on_refresh(command);
    case CommandType::rpc: return on_rpc(command);
  }
}

bool Client::adopt_token(const std::string& token, std::string_view id) {
  auto claims = services_.verifier ? services_.verifier->verify(token, unix_seconds())
                                  : Result<auth::Claims>(make_error(ErrorCode::auth_failed, "tokens are not accepted: no key is configured"));
  if (!claims) {
    send_error(id, claims.error());
    disconnect(transport::close_code::auth_failed, "authentication failed");
    return false;
  }
  if (identity_.verified && claims->sub != identity_.user) {
    send_error(id, make_error(ErrorCode::auth_failed, "a new token must be for the same user"));
    disconnect(transport::close_code::auth_failed, "authentication failed");
    return false;
  }
  if (claims->sub != identity_.user) services_.registry.set_user(*this, claims->sub);
  identity_.verified = true;
  if (connection_) connection_->trust();
  identity_.user = claims->sub;
  identity_.info = claims->info;
  identity_.claims = std::make_shared<const auth::Claims>(std::move(*claims));
  identity_.expire_at = 0;  // the new token's exp counts
  refresh_sent_ = false;
  return true;
}

void Client::on_connect(native::Command& command) {
  const bool with_token = !command.token.empty();
  if (with_token) {
    if (!adopt_token(command.token, command.id)) return;
  } else if (!identity_.verified) {
    if (!anonymous_allowed_) {
      send_error(command.id, make_error(ErrorCode::auth_failed, "a token is required ('token' in connect)"));
      return disconnect(transport::close_code::auth_failed, "authentication required");
    }
    // Anonymous: the user is only what the client says, and is shown as such.
    if (!command.user.empty() && command.user != identity_.user) {
      services_.registry.set_user(*this, command.user);
      identity_.user = std::move(command.user);
    }
    identity_.info = std::move(command.info);
  }
  // Data for the backend: its connect proxy answers this `connect`, as at open.
  if (!command.data.empty() && services_.proxy && !services_.proxy->config().connect_url.empty())
    return start_connect_proxy(command.id, command.data);
  send_frame(native::encode_connected(id_, command.id, identity_.user, services_.ping_interval_seconds));
  subscribe_at_connect(/*claims=*/with_token);
}

void Client::on_refresh(const native::Command& command) {
  if (!identity_.verified)
    return send_error(command.id, make_error(ErrorCode::auth_failed, "refresh needs a connection made with a token"));
  if (!adopt_token(command.token, command.id)) return;
  send_frame(native::encode_refreshed(command.id, identity_.expires()));
}

void Client::on_subscribe(const native::Command& command) {
  auto ns = services_.namespaces.resolve(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  if (auto room = check_room(command.channel); !room) return send_error(command.id, room.error());
  // The backend's answer replaces the namespace's access rule.
  if ((*ns)->subscribe_proxy && services_.proxy) return proxy_subscribe(command, **ns);
  if (auto allowed = check_subscribe(**ns, command.channel, identity_, command.token, services_.verifier, unix_seconds());
      !allowed)
    return send_error(command.id, allowed.error());
  const core::StreamPosition* since = command.since ? &*command.since : nullptr;
  if (since && since->offset > core::max_offset)
    return send_error(command.id, make_error(ErrorCode::invalid_message, "'since.offset' must be at most 9007199254740991"));
  if (auto done = subscribe(command.id, command.channel, **ns, since, {}, command.filter); !done)
    send_error(command.id, done.error());
}

Status Client::check_room(std::string_view channel) {
  if (subscriptions_.size() < services_.max_subscriptions || find_subscription(channel)) return Ok{};
  return make_error(ErrorCode::permission_denied, "too many subscriptions on this connection (max_subscriptions)");
}

Status Client::subscribe(std::string_view id, const std::string& channel, const core::NamespaceOptions& ns,
                         const core::StreamPosition* since, std::string_view info,
                         std::shared_ptr<const core::Filter> filter) {
  // Subscribed already: the hub keeps the first filter, and recovery sorts by that one.
  if (const Subscription* held = find_subscription(channel)) filter = held->filter;
  auto result = services_.hub.subscribe(shard_, channel, *this, ns.history, since, filter);
  if (!result) return result.error();
  if (result->added) {
    subscriptions_.push_back(Subscription{channel, 0});
    subscriptions_.back().filter = std::move(filter);
    if (ns.presence && services_.hub.presence_add(channel, member())) {
      subscriptions_.back().member = true;
      if (ns.join_leave) services_.hub.relay(channel, make_shared_bytes(native::encode_join(channel, member())), this);
    }
  }
  send_frame(native::encode_subscribed(id, channel, result->position,
                                       since ? std::optional<bool>(result->recovered) : std::nullopt, info));
  // Live copies of messages at or below what this reply (and any recovery) covered may still be
  // on their way to this worker: they are dropped, so the client sees each offset once.
  // A repeated subscribe without `since` changes nothing: the live flow already covers it.
  if (since && result->recovered) send_recovered(channel, since->offset, result->missed);
  else if (result->added) raise_last_sent_offset(channel, result->position.offset);
  if (result->added) catch_up_streams(channel);
  return Ok{};
}

void Client::send_recovered(const std::string& channel, std::uint64_t since, std::vector<core::StoredMessage>& missed) {
  std::uint64_t last_sent = since;
  for (const auto& m : missed) {
    send_frame(native::encode_message(channel, m));
    last_sent = m.offset;
  }
  raise_last_sent_offset(channel, last_sent);
}

void Client::raise_last_sent_offset(const std::string& channel, std::uint64_t offset) {
  Subscription* sub = find_subscription(channel);
  if (sub && offset > sub->last_sent_offset) set_last_sent_offset(*sub, offset);
}

void Client::set_last_sent_offset(Subscription& sub, std::uint64_t offset) {
  if (sub.last_sent_offset == 0 && offset > 0) ++last_sent_offset_count_;
  if (sub.last_sent_offset > 0 && offset == 0) --last_sent_offset_count_;
  sub.last_sent_offset = offset;
}

void Client::on_gap(std::string_view channel, const core::StreamPosition& last) {
  Subscription* subscription = find_subscription(channel);
  if (!connection_ || !subscription) return;
  const std::string name(channel);
  auto ns = services_.namespaces.find(name);
  if (!ns) return;
  // The node missed messages after `last`; this client got everything up to it, or further if
  // an earlier recovery already sent more (its last_sent_offset). Recover like a re-subscribe
  // with `since`, before any live message after the gap (they come after this).
  core::StreamPosition since = last;
  since.offset = std::max(since.offset, subscription->last_sent_offset);
  auto result = services_.hub.subscribe(shard_, name, *this, (*ns)->history, &since, subscription->filter);
  if (result && result->recovered) return send_recovered(name, since.offset, result->missed);
  // Lost for good (no history, past retention, a new epoch): the client reloads its state, and
  // goes on after the position given; live copies up to it are dropped.
  core::StreamPosition now = result ? result->position : last;
  send_frame(native::encode_reset(name, now));
  // Set, not raised: in a new epoch the offsets start again below the old last_sent_offset.
  set_last_sent_offset(*subscription, now.offset);
}

void Client::catch_up_streams(const std::string& channel) {
  if (!services_.streams) return;
  for (auto& snapshot : services_.streams->active(channel)) {
    send_frame(native::encode_stream_start(channel, snapshot.stream, snapshot.meta));
    if (!snapshot.text.empty())
      send_frame(native::encode_stream_delta(channel, snapshot.stream, snapshot.seq, snapshot.text));
    last_sent_sequences_.emplace_back(std::move(snapshot.stream), snapshot.seq);
  }
}

void Client::on_stream_cancel(const native::Command& command) {
  if (!services_.streams) return send_error(command.id, make_error(ErrorCode::not_found, "no such stream"));
  const std::string channel = services_.streams->channel_of(command.stream);
  if (channel.empty() || !find_subscription(channel))
    return send_error(command.id, make_error(ErrorCode::not_found, "no running stream '" + command.stream +
                                                                       "' on a channel you are subscribed to"));
  auto ns = services_.namespaces.find(channel);
  if (!ns) return send_error(command.id, ns.error());
  // Stopping an answer for everyone on the channel is a write: it needs publish rights.
  if (auto allowed = check_publish(**ns, channel, identity_); !allowed) return send_error(command.id, allowed.error());
  if (auto ok = services_.streams->cancel(command.stream, channel); !ok) return send_error(command.id, ok.error());
  if (!command.id.empty()) send_frame(native::encode_stream_cancelled(command.id, command.stream));
}

void Client::on_unsubscribe(const native::Command& command) {
  auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                         [&](const Subscription& s) { return s.channel == command.channel; });
  if (it == subscriptions_.end())
    return send_error(command.id, make_error(ErrorCode::unknown_channel, "not subscribed to '" + command.channel + "'"));
  leave(*it);
  services_.hub.unsubscribe(shard_, command.channel, *this);
  if (it->last_sent_offset > 0) --last_sent_offset_count_;
  subscriptions_.erase(it);
  send_frame(native::encode_unsubscribed(command.id, command.channel));
}

void Client::on_publish(const native::Command& command) {
  auto ns = services_.namespaces.resolve(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  // The backend's answer replaces client_publish and the namespace's rule.
  if ((*ns)->publish_proxy && services_.proxy) return proxy_publish(command, **ns);
  if (auto allowed = check_publish(**ns, command.channel, identity_); !allowed)
    return send_error(command.id, allowed.error());
  publish_now(command.id, command.channel, command.data, **ns, command.tags);
}

void Client::publish_now(const std::string& id, const std::string& channel, const std::string& data,
                         const core::NamespaceOptions& ns, const std::string& tags) {
  // Publishing without an id is fire-and-forget: no reply (not even an error), the cheapest path.
  if (id.empty()) {
    services_.hub.publish(channel, data, ns.history, [](Result<core::StreamPosition>) {}, from(), tags);
    return;
  }
  // The answer comes on our thread (at once without history), but maybe after this client is
  // gone: it touches only the weak connection.
  services_.hub.publish(channel, data, ns.history, io_.get_executor(),
                       [id, channel,
                        weak = std::weak_ptr<transport::WsConnection>(connection_->shared_from_this())](
                           Result<core::StreamPosition> result) {
                         auto c = weak.lock();
                         if (!c || !c->is_open()) return;
                         c->send(make_shared_bytes(result ? native::encode_published(id, channel, *result)
                                                          : native::encode_error(id, result.error())));
                       },
                       from(), tags);
}

void Client::on_history(const native::Command& command) {
  auto ns = services_.namespaces.resolve(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  // Offsets stop at 2^53 - 1 (core::max_offset); a larger one is refused, never wrapped.
  if (command.after > core::max_offset || command.before > core::max_offset)
    return send_error(command.id, make_error(ErrorCode::invalid_message,
                                             "fields 'since' and 'before' must be at most 9007199254740991"));
  core::HistoryQuery query{command.after, command.before, command.limit, command.newest_first};
  // A filter given with the request sorts the page; without one, the subscription's does.
  std::shared_ptr<const core::Filter> filter = command.filter;
  if (const Subscription* sub = find_subscription(command.channel); !filter && sub) filter = sub->filter;
  if (auto allowed = check_read(**ns, command.channel); !allowed) return send_error(command.id, allowed.error());
  // A page must fit the send queue with room to spare, and the configured answer size: it is
  // cut short and says where to go on (`next`).
  query.max_bytes = std::min(connection_->worker().limits().max_send_queue / 2, services_.max_history_bytes);
  // Read on a reader thread when there are some: a large page must not hold up this worker's
  // other connections. The answer comes back here through the weak connection.
  auto read = [hub = &services_.hub, &io = io_, policy = (*ns)->history, query, id = command.id,
               channel = command.channel, filter = std::move(filter),
               weak = std::weak_ptr<transport::WsConnection>(connection_->shared_from_this())]() {
    auto page = hub->history(channel, policy, query, filter.get());
    std::string frame = page ? native::encode_history(id, channel, *page) : native::encode_error(id, page.error());
    boost::asio::post(io, [weak, frame = std::move(frame)]() mutable {
      if (auto c = weak.lock(); c && c->is_open()) c->send(make_shared_bytes(std::move(frame)));
    });
  };
  if (!services_.history_readers) return read();
  if (!services_.history_readers->submit(std::move(read)))
    send_error(command.id, make_error(ErrorCode::unavailable, "too many history reads waiting; retry later"));
}

Status Client::check_read(const core::NamespaceOptions& ns, std::string_view channel) {
  // Reading a channel's history or members is reading the channel: being subscribed (which was
  // checked, with its subscription token in a private namespace) or being allowed to subscribe.
  if (find_subscription(channel)) return Ok{};
  return check_subscribe(ns, channel, identity_, {}, services_.verifier, unix_seconds());
}

Client::Subscription* Client::find_subscription(std::string_view channel) {
  for (auto& s : subscriptions_)
    if (s.channel == channel) return &s;
  return nullptr;
}

void Client::stop_typing(Subscription& s) {
  if (s.typing_until == 0) return;
  s.typing_until = 0;
  services_.hub.relay(s.channel, make_shared_bytes(native::encode_typing(s.channel, member(), false, from())), this);
  if (!services_.events) return;
  if (auto ns = services_.namespaces.find(s.channel); ns && (*ns)->webhook_typing)
    services_.events->typing(s.channel, member(), false);
}

void Client::leave(Subscription& s) {
  stop_typing(s);
  if (!s.member) return;
  s.member = false;
  if (!services_.hub.presence_remove(s.channel, id_)) return;
  auto ns = services_.namespaces.find(s.channel);
  if (ns && (*ns)->join_leave)
    services_.hub.relay(s.channel, make_shared_bytes(native::encode_leave(s.channel, member())), this);
}

void Client::on_tick(std::uint32_t now) {
  for (auto& s : subscriptions_)
    if (s.typing_until != 0 && now >= s.typing_until) stop_typing(s);
  if (connect_pending_) return;  // the proxy's timeout bounds the wait
  if (!may_act()) {
    if (now - quiet_since_ >= services_.auth_timeout_seconds)
      disconnect(transport::close_code::auth_failed, "no token in time");
    return;
  }
  if (idle(now)) return disconnect(transport::close_code::idle_timeout, "idle timeout");
  const std::int64_t exp = identity_.expires();
  if (exp == 0) return;
  const std::int64_t unix_now = unix_seconds();
  if (unix_now > exp + services_.token_leeway_seconds)
    return disconnect(transport::close_code::token_expired, "token expired");
  if (!refresh_sent_ && unix_now >= exp - services_.refresh_before_seconds) {
    // With a refresh proxy the backend extends the connection; the client is not asked.
    if (services_.proxy && !services_.proxy->config().refresh_url.empty()) return start_refresh_proxy(unix_now);
    refresh_sent_ = true;
    send_frame(native::encode_refresh_required(exp - unix_now));
  }
}

void Client::on_presence(const native::Command& command) {
  auto ns = services_.namespaces.resolve(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  if (!(*ns)->presence)
    return send_error(command.id, make_error(ErrorCode::permission_denied, "presence is off in this namespace"));
  if (auto allowed = check_read(**ns, command.channel); !allowed) return send_error(command.id, allowed.error());
  if (command.type == CommandType::presence) {
    auto members = services_.hub.presence(command.channel);
    if (!members) return send_error(command.id, members.error());
    return send_frame(native::encode_presence(command.id, command.channel, *members));
  }
  auto stats = services_.hub.presence_stats(command.channel);
  if (!stats) return send_error(command.id, stats.error());
  send_frame(native::encode_presence_stats(command.id, command.channel, *stats));
}

void Client::on_event(const native::Command& command) {
  auto ns = services_.namespaces.find(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  if (!find_subscription(command.channel))
    return send_error(command.id, make_error(ErrorCode::permission_denied, "subscribe to the channel first"));
  if (auto allowed = check_event(**ns, command.channel, identity_); !allowed)
    return send_error(command.id, allowed.error());
  const core::Member sender = member();
  services_.hub.relay(
      command.channel,
      make_shared_bytes(native::encode_event(command.channel, command.event, command.data, &sender, from())), this);
  if (services_.events && (*ns)->webhook_events)
    services_.events->client_event(command.channel, command.event, command.data, sender);
  if (!command.id.empty()) send_frame(native::encode_relayed(command.id, command.channel));
}

void Client::on_typing(const native::Command& command) {
  auto ns = services_.namespaces.find(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  Subscription* s = find_subscription(command.channel);
  if (!s) return send_error(command.id, make_error(ErrorCode::permission_denied, "subscribe to the channel first"));
  if (auto allowed = check_event(**ns, command.channel, identity_); !allowed)
    return send_error(command.id, allowed.error());
  if (command.typing) {
    // Only a change is relayed; a renewal just pushes the expiry back.
    const bool was_typing = s->typing_until != 0;
    s->typing_until = connection_->worker().now_seconds() + services_.typing_timeout_seconds;
    if (!was_typing) {
      services_.hub.relay(command.channel,
                         make_shared_bytes(native::encode_typing(command.channel, member(), true, from())), this);
      if (services_.events && (*ns)->webhook_typing) services_.events->typing(command.channel, member(), true);
    }
  } else {
    stop_typing(*s);
  }
  if (!command.id.empty()) send_frame(native::encode_relayed(command.id, command.channel));
}

void Client::on_close() {
  for (auto& s : subscriptions_) {
    leave(s);
    services_.hub.unsubscribe(shard_, s.channel, *this);
  }
  subscriptions_.clear();
  services_.registry.remove(*this);
  if (services_.events) {
    const auto open_for = std::chrono::steady_clock::now() - opened_;
    services_.events->connection_closed(id_, identity_.user, connection_ ? connection_->close_code() : 1006,
                                        std::chrono::duration_cast<std::chrono::milliseconds>(open_for).count());
  }
  connection_ = nullptr;
}

void Client::deliver(const SharedBytes& frame, std::string_view channel, std::uint64_t offset,
                     std::string_view stream) {
  if (!connection_) return;
  if (!stream.empty()) {
    for (auto it = last_sent_sequences_.begin(); it != last_sent_sequences_.end(); ++it) {
      if (it->first != stream) continue;
      if (offset <= it->second) return;  // already in the snapshot this client got
      last_sent_sequences_.erase(it);    // past the snapshot: nothing older can follow
      break;
    }
    return connection_->send(frame);
  }
  if (last_sent_offset_count_ > 0 && offset != 0) {  // offset 0: a relayed event, not a publication
    for (auto& s : subscriptions_) {
      if (s.channel != channel || s.last_sent_offset == 0) continue;
      if (offset <= s.last_sent_offset) return;  // covered by what the client was given
      s.last_sent_offset = 0;
      --last_sent_offset_count_;
      break;
    }
  }
  connection_->send(frame);
}

void Client::disconnect(std::uint16_t code, std::string_view reason) {
  if (connection_) connection_->close(code, reason);
}

void Client::send_frame(std::string frame) {
  if (connection_) connection_->send(make_shared_bytes(std::move(frame)));
}

void Client::send_error(std::string_view id, const Error& error, std::int64_t retry_after_ms) {
  send_frame(native::encode_error(id, error, retry_after_ms));
}

}  // namespace sb::session
