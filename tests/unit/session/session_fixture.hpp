#pragma once
// What the session tests share: a transport::Worker running on its own thread with a hub whose one
// shard is that worker's io_context, the services every client uses, and real connections to
// clients over loopback TCP: test::RawWs (tests/support/raw_ws.hpp) on one end, on the other a
// transport::WsConnection handed a session::Client, as after an upgrade.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "auth/jwt.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "core/namespaces.hpp"
#include "protocol/native/encoder.hpp"
#include "session/client.hpp"
#include "session/limits.hpp"
#include "session/origin.hpp"
#include "session/registry.hpp"
#include "session/streams.hpp"
#include "session/upgrade_gate.hpp"
#include "storage/memory_history.hpp"
#include "support/raw_ws.hpp"
#include "support/waiting.hpp"
#include "transport/worker.hpp"
#include "transport/ws_connection.hpp"

namespace sb::session::test {

using sb::test::eventually;
using sb::test::RawWs;

inline const std::string jwt_secret = "session-unit-test-secret-0123456789-abcdef";

// A token for `sub`, valid for an hour, with `claims` (JSON members, comma first) added.
inline std::string token_for(const std::string& sub, const std::string& claims = {}) {
  const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                       .count();
  return auth::sign_hs("HS256", jwt_secret,
                       R"({"sub":")" + sub + R"(","exp":)" + std::to_string(exp) + claims + "}");
}

// The JSON of a server frame's payload (a WebSocket frame header already stripped by RawWs).
inline boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return value.as_object();
}

// The payload of a complete unmasked server frame (as the hub's encoder and the codec build them).
inline std::string payload_of(const std::string& frame) {
  const std::size_t length = static_cast<unsigned char>(frame.at(1)) & 0x7F;
  const std::size_t header = length == 126 ? 4 : length == 127 ? 10 : 2;
  return frame.substr(header);
}

// What the fixture builds; a test fixture deriving from SessionFixture may change it.
struct SessionSettings {
  std::size_t max_connections = 100;
  std::size_t max_connections_per_ip = 100;
  RateLimits rates{};
  std::size_t max_subscriptions = 1000;
  bool with_verifier = true;
};

class SessionFixture : public ::testing::Test {
 protected:
  explicit SessionFixture(SessionSettings settings = {})
      : admission(settings.max_connections, settings.max_connections_per_ip, settings.rates),
        namespaces(open_namespace()),
        verifier({auth::key_from_secret(jwt_secret)}, std::chrono::seconds(0)),
        origins({"https://app.example.com"}, {"chat.example.com"}) {
    add_namespaces();
    transport::Limits limits;
    limits.close_timeout = std::chrono::seconds(1);
    worker = std::make_unique<transport::Worker>(0, limits);
    hub = std::make_unique<core::Hub>(std::vector<boost::asio::io_context*>{&worker->context()}, encoder, broker);
    streams = std::make_unique<Streams>(*hub, namespaces, StreamOptions{}, Streams::Notify{});
    services = std::make_unique<ClientServices>(ClientServices{*hub, namespaces, registry});
    services->max_subscriptions = settings.max_subscriptions;
    services->streams = streams.get();
    services->verifier = settings.with_verifier ? &verifier : nullptr;
    services->admission = &admission;
    work.emplace(worker->context().get_executor());
    thread = std::thread([this] { worker->context().run(); });
  }

  ~SessionFixture() override {
    // Every connection closes (the peers' sockets are gone by now), then the worker stops; what
    // the hub's writer still posts lands in a live io_context, and the worker goes last, with
    // any client it still holds (which only releases its admission then).
    boost::asio::post(worker->context(), [w = worker.get()] { w->stop_gracefully(); });
    work.reset();
    thread.join();
    streams.reset();
    hub.reset();
    worker.reset();
  }

  // A request as the transport hands an upgrade from this machine to the session layer.
  static transport::HttpRequest upgrade_request(std::string target = "/ws") {
    transport::HttpRequest r;
    r.method = "GET";
    r.target = std::move(target);
    r.headers = {{"Host", "localhost:8080"}};
    r.remote_address = "127.0.0.1";
    r.remote_is_loopback = true;
    return r;
  }

  // A connection served by `client`: the accepted socket becomes a WsConnection on the worker,
  // as after a 101. Returns the peer once the client's `connected` frame came.
  std::unique_ptr<RawWs> connect(std::unique_ptr<Client> client) {
    auto peer = std::make_unique<RawWs>(acceptor.local_endpoint().port());
    boost::asio::ip::tcp::socket accepted = acceptor.accept();
    const int fd = accepted.release();
    boost::asio::post(worker->context(), [this, fd, client = std::move(client)]() mutable {
      auto connection = std::make_shared<transport::WsConnection>(*worker, boost::asio::ip::tcp::v4(), fd, std::string{});
      connection->start(std::move(client));
    });
    hello = next(*peer);
    EXPECT_EQ(hello["type"], "connected");
    return peer;
  }

  // A client as the upgrade gate opens one for a request from this machine (anonymous allowed).
  std::unique_ptr<RawWs> connect_anonymous() {
    UpgradeGate gate(*services, origins, AnonymousAccess::loopback);
    auto client = gate.open(upgrade_request(), 0, worker->context());
    EXPECT_TRUE(client.ok());
    return connect(std::move(*client));
  }

  // The next text frame's JSON; an empty object (and a failure) when none comes in time.
  static boost::json::object next(RawWs& peer, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto frame = peer.read_frame(timeout);
    if (!frame) {
      ADD_FAILURE() << "no frame within " << timeout.count() << " ms";
      return {};
    }
    if (frame->opcode != 0x1) {
      ADD_FAILURE() << "not a text frame: opcode " << int(frame->opcode) << ", close code " << frame->close_code();
      return {};
    }
    return parse_object(frame->payload);
  }

  // Sends `request` and returns the next frame.
  static boost::json::object ask(RawWs& peer, const std::string& request) {
    peer.send_text(request);
    return next(peer);
  }

  // That nothing else was queued for `peer` before this point: a ping's pong comes next. Frames
  // the hub posted to the worker before the ping was read would come first.
  static void expect_nothing_before_pong(RawWs& peer) {
    auto pong = ask(peer, R"({"type":"ping","id":"probe"})");
    EXPECT_EQ(pong["type"], "pong") << boost::json::serialize(pong);
    EXPECT_EQ(pong["id"], "probe");
  }

  // Whether `client`, on a connection, may subscribe without sending a token first.
  bool acts_without_token(std::unique_ptr<Client> client) {
    auto peer = connect(std::move(client));
    auto reply = ask(*peer, R"({"type":"subscribe","id":1,"channel":"chat"})");
    if (reply["type"] == "subscribed") return true;
    EXPECT_EQ(reply["code"], "AUTH_FAILED") << boost::json::serialize(reply);
    EXPECT_EQ(reply["message"], "send connect with a token first");
    return false;
  }

  // Publishes as the HTTP API would and waits for the position (after the store, with history).
  core::StreamPosition publish(const std::string& channel, const std::string& data) {
    auto ns = namespaces.find(channel);
    std::promise<Result<core::StreamPosition>> done;
    auto position = done.get_future();
    hub->publish(channel, data, (*ns)->history,
                 [&done](Result<core::StreamPosition> result) { done.set_value(std::move(result)); });
    auto result = position.get();
    EXPECT_TRUE(result.ok());
    return result ? *result : core::StreamPosition{};
  }

  // Every client has closed and been destroyed (its admission released last).
  bool all_closed() const { return admission.connections() == 0; }
  std::thread::id worker_thread_id() const { return thread.get_id(); }

  Admission admission;
  ClientRegistry registry;
  core::Namespaces namespaces;
  auth::JwtVerifier verifier;
  OriginPolicy origins;
  protocol::native::NativeEncoder encoder;
  storage::MemoryHistory history;
  core::LocalBroker broker{&history};
  std::unique_ptr<transport::Worker> worker;
  std::unique_ptr<core::Hub> hub;
  std::unique_ptr<Streams> streams;
  std::unique_ptr<ClientServices> services;
  boost::json::object hello;  // the `connected` frame of the last connection made
  boost::asio::io_context accept_context;
  boost::asio::ip::tcp::acceptor acceptor{accept_context,
                                          {boost::asio::ip::make_address("127.0.0.1"), 0}};

 private:
  // The default namespace: anyone may subscribe and publish, no history, no presence.
  static core::NamespaceOptions open_namespace() {
    core::NamespaceOptions o;
    o.client_publish = true;
    return o;
  }
  void add_namespaces() {
    core::NamespaceOptions read_only;  // "news:": clients may not publish
    read_only.name = "news";
    namespaces.add(read_only);
    core::NamespaceOptions kept;  // "hist:": ten messages of history
    kept.name = "hist";
    kept.client_publish = true;
    kept.history.size = 10;
    namespaces.add(kept);
    core::NamespaceOptions room;  // "room:": presence with join and leave
    room.name = "room";
    room.client_publish = true;
    room.presence = true;
    room.join_leave = true;
    namespaces.add(room);
    core::NamespaceOptions guarded;  // "team:": the token's channels claim decides
    guarded.name = "team";
    guarded.access = core::Access::protected_;
    namespaces.add(guarded);
  }

  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;  // the worker's
};

}  // namespace sb::session::test
