// A client's calls to the app's backend (docs/backend.md#proxies): connect before `connected`,
// refresh at expiry, subscribe and publish in namespaces that ask for it, and `rpc`. Every call
// is asynchronous on the client's worker: while one is out, the client goes on receiving, and the
// worker serves its other connections.
#include "backend/proxy_wire.hpp"
#include "common/clock.hpp"
#include "protocol/native/codec.hpp"
#include "session/client.hpp"
#include "session/registry.hpp"
#include "transport/worker.hpp"

namespace sb::session {

namespace native = protocol::native;
using backend::Hook;
using backend::ProxyAnswer;

namespace {
// Frames a client sends before the connect proxy answered are held, at most these many and
// bytes, and handled after `connected`; beyond, each is refused with RATE_LIMIT (retryable). A
// client that waits for `connected` never meets the bound.
constexpr std::size_t max_held_frames = 16;
constexpr std::size_t max_held_bytes = 64 * 1024;
// After a failed refresh call, the next try waits this long (the connection lives on until its
// expiry and the leeway).
constexpr std::int64_t refresh_retry_seconds = 5;
// The connection's close codes for a connect the backend could not decide (docs/protocol.md).
constexpr std::uint16_t close_backend_error = 4502;
constexpr std::uint16_t close_backend_unavailable = 4503;

std::int64_t unix_seconds() { return unix_millis() / 1000; }
}  // namespace

void Client::call_backend(Hook hook, const std::string& url, std::string body,
                          std::function<void(Client&, Result<ProxyAnswer>)> then) {
  // The connection owns this client: alive and open, it is safe to use.
  services_.proxy->call(shard_, hook, url, std::move(body), proxy_state().headers,
                        [this, weak = std::weak_ptr<transport::WsConnection>(connection_->shared_from_this()),
                         then = std::move(then)](Result<ProxyAnswer> answer) {
                          auto c = weak.lock();
                          if (!c || !c->is_open() || !connection_) return;
                          then(*this, std::move(answer));
                        });
}

bool Client::refused(std::string_view id, const Result<ProxyAnswer>& answer) {
  if (!answer) {
    send_error(id, answer.error());
    return true;
  }
  switch (answer->kind) {
    case ProxyAnswer::Kind::result: return false;
    case ProxyAnswer::Kind::error: send_frame(native::encode_app_error(id, answer->code, answer->message)); return true;
    case ProxyAnswer::Kind::disconnect: disconnect(answer->close_code, answer->reason); return true;
  }
  return false;
}

// --- connect ---------------------------------------------------------------------------------

void Client::start_connect_proxy(std::string id, std::string_view data) {
  connect_pending_ = true;
  call_backend(Hook::connect, services_.proxy->config().connect_url,
               backend::connect_body(id_, remote_ip_, identity_.verified ? identity_.user : std::string(), data),
               [id = std::move(id)](Client& self, Result<ProxyAnswer> answer) {
                 self.on_connect_answer(id, std::move(answer));
               });
}

// Long for the order it keeps: refusals first, then the identity, `connected`, the subscriptions
// the backend and the token name, and last the frames held meanwhile.
void Client::on_connect_answer(std::string_view id, Result<ProxyAnswer> answer) {
  connect_pending_ = false;
  auto result = answer && answer->kind == ProxyAnswer::Kind::result ? backend::connect_result(answer->result)
                                                                     : Result<backend::ConnectResult>(backend::ConnectResult{});
  if (!result) answer = result.error();  // a result of the wrong shape is the backend's error
  if (!answer) {
    send_error(id, answer.error());
    const bool unavailable = answer.error().code == ErrorCode::backend_unavailable;
    return disconnect(unavailable ? close_backend_unavailable : close_backend_error,
                      unavailable ? "backend unavailable" : "backend error");
  }
  if (answer->kind == ProxyAnswer::Kind::disconnect) return disconnect(answer->close_code, answer->reason);
  if (answer->kind == ProxyAnswer::Kind::error) {
    send_frame(native::encode_app_error(id, answer->code, answer->message));
    return disconnect(transport::close_code::auth_failed, "connect refused");
  }
  // Allowed. A user named by the backend is as verified as a token's sub; without one, the
  // connection may act anonymously, since the backend let it in.
  if (!result->user.empty()) {
    if (result->user != identity_.user) {
      services_.registry.set_user(*this, result->user);
      // A token's claims are for the token's user only.
      if (identity_.claims && identity_.claims->sub != result->user) identity_.claims.reset();
      identity_.user = std::move(result->user);
    }
    identity_.verified = true;
  } else {
    anonymous_allowed_ = true;
  }
  if (!result->info.empty()) identity_.info = std::move(result->info);
  identity_.expire_at = result->expire_at;
  refresh_sent_ = false;
  connection_->trust();
  send_frame(native::encode_connected(id_, id, identity_.user, services_.ping_interval_seconds));
  subscribe_by_proxy(result->channels);
  subscribe_at_connect(/*claims=*/identity_.claims != nullptr);
  // What the client sent meanwhile, in order, as if it came now.
  std::vector<std::string> held = std::move(proxy_state().held_frames);
  proxy_state().held_frames.clear();
  proxy_state().held_bytes = 0;
  for (const std::string& frame : held) {
    if (!connection_ || !connection_->is_open()) return;
    on_message(frame, false);
  }
}

void Client::hold_frame(std::string_view payload) {
  ProxyState& state = proxy_state();
  if (state.held_frames.size() >= max_held_frames || state.held_bytes + payload.size() > max_held_bytes) {
    std::string id;
    (void)native::decode(payload, id);
    return send_error(id, make_error(ErrorCode::rate_limit, "too many frames before the connection was accepted; "
                                                            "wait for 'connected'"));
  }
  state.held_bytes += payload.size();
  state.held_frames.emplace_back(payload);
}

// The channels of the connect result: the backend's word, as a token's `subs` claim.
void Client::subscribe_by_proxy(const std::vector<std::string>& channels) {
  for (const std::string& channel : channels) {
    Status done = [&]() -> Status {
      auto ns = services_.namespaces.resolve(channel);
      if (!ns) return ns.error();
      if (auto room = check_room(channel); !room) return room;
      return subscribe({}, channel, **ns, nullptr);
    }();
    if (!done) send_frame(native::encode_channel_error(channel, done.error()));
  }
}

// --- refresh ---------------------------------------------------------------------------------

void Client::start_refresh_proxy(std::int64_t unix_now) {
  ProxyState& state = proxy_state();
  if (state.refresh_pending || unix_now < state.refresh_retry_at) return;
  state.refresh_pending = true;
  call_backend(Hook::refresh, services_.proxy->config().refresh_url, backend::refresh_body(id_, identity_.user),
               [](Client& self, Result<ProxyAnswer> answer) {
                 self.proxy_state().refresh_pending = false;
                 auto result = answer && answer->kind == ProxyAnswer::Kind::result
                                   ? backend::refresh_result(answer->result)
                                   : Result<backend::RefreshResult>(backend::RefreshResult{});
                 if (!result) answer = result.error();
                 if (!answer) {
                   // Tried again shortly; the connection closes (4004) if its time runs out first.
                   self.proxy_state().refresh_retry_at = unix_seconds() + refresh_retry_seconds;
                   return;
                 }
                 if (answer->kind == ProxyAnswer::Kind::disconnect)
                   return self.disconnect(answer->close_code, answer->reason);
                 if (answer->kind == ProxyAnswer::Kind::error) {
                   self.send_frame(native::encode_app_error({}, answer->code, answer->message));
                   return self.disconnect(transport::close_code::token_expired, "refresh refused");
                 }
                 self.identity_.expire_at = result->expire_at;
                 if (result->info) self.identity_.info = std::move(*result->info);
                 self.proxy_state().refresh_retry_at = 0;
               });
}

// --- subscribe and publish -------------------------------------------------------------------

void Client::proxy_subscribe(const native::Command& command, const core::NamespaceOptions& ns) {
  if (command.since && command.since->offset > core::max_offset)
    return send_error(command.id, make_error(ErrorCode::invalid_message, "'since.offset' must be at most 9007199254740991"));
  // The namespace options live as long as the server: a pointer is safe to keep.
  call_backend(Hook::subscribe, services_.proxy->subscribe_url(ns.name),
               backend::subscribe_body(id_, identity_.user, command.channel, {}),
               [id = command.id, channel = command.channel, since = command.since, filter = command.filter, ns = &ns](
                   Client& self, Result<ProxyAnswer> answer) {
                 if (self.refused(id, answer)) return;
                 auto info = backend::subscribe_result(answer->result);
                 if (!info) return self.send_error(id, info.error());
                 // Checked again: other subscribes may have taken the room meanwhile.
                 if (auto room = self.check_room(channel); !room) return self.send_error(id, room.error());
                 if (auto done = self.subscribe(id, channel, *ns, since ? &*since : nullptr, *info, filter);
                     !done)
                   self.send_error(id, done.error());
               });
}

void Client::proxy_publish(const native::Command& command, const core::NamespaceOptions& ns) {
  call_backend(Hook::publish, services_.proxy->publish_url(ns.name),
               backend::publish_body(id_, identity_.user, command.channel, command.data),
               [id = command.id, channel = command.channel, data = command.data, tags = command.tags, ns = &ns](
                   Client& self, Result<ProxyAnswer> answer) {
                 if (self.refused(id, answer)) return;
                 auto replacement = backend::publish_result(answer->result);
                 if (!replacement) return self.send_error(id, replacement.error());
                 if (ns->publish_proxy_only) {
                   if (!id.empty()) self.send_frame(native::encode_published(id, channel));
                   return;
                 }
                 self.publish_now(id, channel, *replacement ? **replacement : data, *ns, tags);
               });
}

// --- rpc -------------------------------------------------------------------------------------

void Client::on_rpc(const native::Command& command) {
  if (!services_.proxy || services_.proxy->config().rpc_url.empty())
    return send_error(command.id, make_error(ErrorCode::not_found, "rpc is not configured ([proxy] rpc_url)"));
  call_backend(Hook::rpc, services_.proxy->config().rpc_url,
               backend::rpc_body(id_, identity_.user, command.method, command.data),
               [id = command.id](Client& self, Result<ProxyAnswer> answer) {
                 if (self.refused(id, answer)) return;
                 auto data = backend::rpc_result(answer->result);
                 if (!data) return self.send_error(id, data.error());
                 self.send_frame(native::encode_rpc_result(id, *data));
               });
}

}  // namespace sb::session
