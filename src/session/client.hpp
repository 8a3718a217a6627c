#pragma once
// One client connection speaking the native protocol: joins a transport connection (frames), the
// codec (JSON) and the hub (channels). Lives on its worker thread; owned by its WsConnection.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/session_events.hpp"
#include "core/history_readers.hpp"
#include "core/hub.hpp"
#include "backend/proxy.hpp"
#include "core/namespaces.hpp"
#include "protocol/native/codec.hpp"
#include "session/limits.hpp"
#include "session/permissions.hpp"
#include "session/registry.hpp"
#include "transport/ws_connection.hpp"
#include "transport/ws_handler.hpp"

namespace sb::session {

class ClientRegistry;
class Streams;

// What every client of a server uses: the hub and tables it acts on, the services it calls and
// the settings every session shares. Built once by the server; outlives every client.
struct ClientServices {
  core::Hub& hub;
  const core::Namespaces& namespaces;
  ClientRegistry& registry;
  int ping_interval_seconds = 25;
  // Most channels one connection may be subscribed to at once: bounds what one socket can make
  // the hub hold. 1,000 covers a dashboard watching many rooms.
  std::size_t max_subscriptions = 1000;
  // A typing indicator not renewed for this long ends by itself (typing: false is relayed).
  std::uint32_t typing_timeout_seconds = 5;
  Streams* streams = nullptr;
  const auth::JwtVerifier* verifier = nullptr;  // null: no key configured, tokens are refused
  Admission* admission = nullptr;
  // refresh_required goes out this long before the token expires.
  std::int64_t refresh_before_seconds = 30;
  // Clock skew tolerated on exp, as when verifying tokens ([auth] leeway).
  std::int64_t token_leeway_seconds = 5;
  // A connection that is neither verified nor allowed anonymously must send its token within this.
  std::uint32_t auth_timeout_seconds = 10;
  // Where `history` reads (off this thread); null: on the connection's thread.
  core::HistoryReaders* history_readers = nullptr;
  // Payload bytes one `history` reply holds at most (limits.max_history_response_bytes).
  std::size_t max_history_bytes = 4 * 1024 * 1024;
  // A connection that sends no request but `ping` for this long is closed with 4008
  // (limits.idle_timeout); 0: never.
  std::uint32_t idle_timeout_seconds = 0;
  // Who hears of client events, typing and closed connections (the app's webhooks); null: nobody.
  backend::SessionEvents* events = nullptr;
  // The app's backend's proxies ([proxy]); null when none is configured.
  backend::Proxy* proxy = nullptr;
  // An SSE or NDJSON stream (SseClient) sends a keep-alive after this long
  // (limits.stream_heartbeat_interval).
  std::uint32_t stream_heartbeat_seconds = 15;
};

class Client final : public transport::WsHandler, public core::Subscriber, public Connected {
 public:
  // `identity` is verified when the upgrade carried a valid token; otherwise the client may act
  // only if `anonymous_allowed`, or after a `connect` with a token. `remote_ip` was admitted by
  // services.admission and is released when the client is destroyed.
  Client(ClientServices& services, std::size_t shard, boost::asio::io_context& io, Identity identity,
         bool anonymous_allowed, std::string remote_ip);
  ~Client() override;

  // transport::WsHandler
  void on_open(transport::WsConnection& connection) override;
  void on_message(std::string_view payload, bool binary) override;
  void on_close() override;
  void on_tick(std::uint32_t now_seconds) override;
  // core::Subscriber
  void deliver(const SharedBytes& frame, std::string_view channel, std::uint64_t offset,
               std::string_view stream) override;
  void on_gap(std::string_view channel, const core::StreamPosition& last) override;

  // Channels the upgrade URL asked for (`?channel=`), subscribed to once the connection may act
  // (connect_subscriptions.cpp). Called by the UpgradeGate before the connection opens.
  void set_url_channels(std::vector<std::string> channels) { url_channels_ = std::move(channels); }
  // The upgrade request's headers passed on to every proxy call (backend::Proxy::passes_header).
  void set_proxy_headers(transport::HttpHeaders headers) { proxy_state().headers = std::move(headers); }

  // Closes the connection from the server side (e.g. POST /api/disconnect).
  void disconnect(std::uint16_t code, std::string_view reason) override;

  const std::string& id() const noexcept override { return id_; }
  const std::string& user() const noexcept override { return identity_.user; }
  boost::asio::io_context& context() const noexcept override { return io_; }

 private:
  void handle(protocol::native::Command& command);
  void on_connect(protocol::native::Command& command);
  void on_refresh(const protocol::native::Command& command);
  bool may_act() const noexcept { return identity_.verified || anonymous_allowed_; }
  // Verifies a connect/refresh token into identity_; false after answering with the error.
  bool adopt_token(const std::string& token, std::string_view id);
  void on_subscribe(const protocol::native::Command& command);
  // Whether one more subscription fits max_subscriptions (always, for a channel already held).
  Status check_room(std::string_view channel);
  // Subscribes to `channel`, already resolved, allowed and with room (check_room), and sends `subscribed` (with `id`,
  // which may be empty) and what follows it; the error when nothing was sent.
  // With `filter`, only the publications it matches (docs/filters.md), recovery included.
  Status subscribe(std::string_view id, const std::string& channel, const core::NamespaceOptions& ns,
                   const core::StreamPosition* since, std::string_view info = {},
                   std::shared_ptr<const core::Filter> filter = nullptr);
  // Server-side subscriptions (connect_subscriptions.cpp): the token's `subs` when `claims`, and
  // the URL's channels the first time. Each failure is an `error` frame naming its channel.
  void subscribe_at_connect(bool claims);
  Status subscribe_by_claim(const std::string& channel);
  Status subscribe_by_url(const std::string& channel);
  void on_unsubscribe(const protocol::native::Command& command);
  void on_publish(const protocol::native::Command& command);
  void on_history(const protocol::native::Command& command);
  void on_presence(const protocol::native::Command& command);
  void on_event(const protocol::native::Command& command);
  void on_typing(const protocol::native::Command& command);
  void on_stream_cancel(const protocol::native::Command& command);
  // Sends what a recovery found; live copies up to the last of it are dropped.
  void send_recovered(const std::string& channel, std::uint64_t since, std::vector<core::StoredMessage>& missed);
  // Drops live copies of messages at or below `offset` on this subscription.
  void raise_last_sent_offset(const std::string& channel, std::uint64_t offset);
  // Sends the streams running on a channel to this client, which just subscribed.
  void catch_up_streams(const std::string& channel);
  core::Member member() const { return core::Member{id_, identity_.user, identity_.info}; }
  // client_identity.cpp: who this connection is on the frames it causes (the `from` object), and
  // whether it still does anything but keep alive (limits.idle_timeout, from quiet_since_).
  std::string from() const;
  void note_activity(const protocol::native::Command& command);
  bool idle(std::uint32_t now) const;
  struct Subscription;
  void set_last_sent_offset(Subscription& subscription, std::uint64_t offset);
  Subscription* find_subscription(std::string_view channel);
  // History and presence: allowed to the subscribed, or to those who may subscribe.
  Status check_read(const core::NamespaceOptions& ns, std::string_view channel);
  // Ends what a subscription holds besides the hub's entry: typing, presence (with `leave`).
  void leave(Subscription& subscription);
  void stop_typing(Subscription& subscription);
  void send_frame(std::string frame);
  void send_error(std::string_view id, const Error& error, std::int64_t retry_after_ms = 0);

  // The app's backend (client_proxy.cpp). Each call's completion runs `then` only while the
  // connection is open: a client closed meanwhile is never touched.
  void call_backend(backend::Hook hook, const std::string& url, std::string body,
                    std::function<void(Client&, Result<backend::ProxyAnswer>)> then);
  // At open (`id` empty), or for a `connect` frame with `data` (answered with its `id`).
  void start_connect_proxy(std::string id = {}, std::string_view data = {});
  void on_connect_answer(std::string_view id, Result<backend::ProxyAnswer> answer);
  void hold_frame(std::string_view payload);
  void subscribe_by_proxy(const std::vector<std::string>& channels);
  void proxy_subscribe(const protocol::native::Command& command, const core::NamespaceOptions& ns);
  void proxy_publish(const protocol::native::Command& command, const core::NamespaceOptions& ns);
  void publish_now(const std::string& id, const std::string& channel, const std::string& data,
                   const core::NamespaceOptions& ns, const std::string& tags = {});
  void on_rpc(const protocol::native::Command& command);
  void start_refresh_proxy(std::int64_t unix_now);
  // An answer that is not a `result`: the app's error, a failure (BACKEND_*), or a disconnect.
  // True when it was one of them (and the client was told).
  bool refused(std::string_view id, const Result<backend::ProxyAnswer>& answer);

  ClientServices& services_;
  boost::asio::io_context& io_;
  transport::WsConnection* connection_ = nullptr;
  std::size_t shard_;
  std::string id_;
  Identity identity_;
  bool anonymous_allowed_;
  bool refresh_sent_ = false;
  // Worker clock: where the silence on_tick measures starts. Until the connection may act, the
  // upgrade (auth_timeout counts from it); then its last request other than `ping` (idle_timeout).
  // One field for both: the second starts when the first no longer matters, and a connection
  // holds no more than these 4 bytes for either.
  std::uint32_t quiet_since_ = 0;
  std::chrono::steady_clock::time_point opened_;  // for the connection's duration (webhooks)
  std::string remote_ip_;
  TokenBucket bucket_;
  struct Subscription {
    std::string channel;
    // The last offset this client was given on the channel by a subscribe reply, a recovery from
    // history or a reset: live copies of messages at or below it may still arrive, and are
    // dropped. 0 once the first newer message went through (nothing left to drop).
    std::uint64_t last_sent_offset = 0;
    bool member = false;             // in the channel's presence
    std::uint32_t typing_until = 0;  // worker clock; 0: not typing
    // The filter it was made with (null: none), for recoveries after a gap.
    std::shared_ptr<const core::Filter> filter;
  };
  std::vector<Subscription> subscriptions_;
  std::vector<std::string> url_channels_;  // until subscribe_at_connect takes them
  // The connect proxy has not answered yet: no `connected` was sent, and frames are held.
  bool connect_pending_ = false;
  // What the proxies keep per connection; on the heap, made only with a backend configured, so a
  // client without one pays a pointer.
  struct ProxyState {
    transport::HttpHeaders headers;  // of the upgrade, passed on to every call
    std::vector<std::string> held_frames;
    std::size_t held_bytes = 0;
    // The refresh proxy: a call is out, or (after a failure) when to call again (unix seconds).
    bool refresh_pending = false;
    std::int64_t refresh_retry_at = 0;
  };
  std::unique_ptr<ProxyState> proxy_state_;
  ProxyState& proxy_state() {
    if (!proxy_state_) proxy_state_ = std::make_unique<ProxyState>();
    return *proxy_state_;
  }
  // Subscriptions whose last_sent_offset is set: deliver() skips the lookup while there are none.
  std::size_t last_sent_offset_count_ = 0;
  // Streams caught up from a snapshot, with the last sequence the snapshot held: their live
  // frames up to it are dropped.
  std::vector<std::pair<std::string, std::uint64_t>> last_sent_sequences_;
};

}  // namespace sb::session
