// The app's backend in the loop (docs/backend.md#proxies): connect, refresh, subscribe, publish
// and rpc proxies against a real HTTP backend in this process, its failures (down, slow,
// garbage, closing mid-answer), and a slow backend that must not hold up other connections.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/clock.hpp"
#include "support/http_backend.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::WsClient;
using Reply = HttpBackend::Reply;
using Request = HttpBackend::Request;

json::object body_of(const Request& r) { return json::parse(r.body).as_object(); }

// The next text frame of a raw client, parsed; empty at a close or timeout.
json::object next_json(RawWs& ws, std::chrono::milliseconds timeout = 5s) {
  auto frame = ws.read_frame(timeout);
  if (!frame || frame->opcode != 0x1) return {};
  return json::parse(frame->payload).as_object();
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Namespaces: `chat` asks the backend for subscribes and publishes, `inbox` sends publishes to
// the backend only, `room` asks nothing.
void with_namespaces(server::Config& c) {
  core::NamespaceOptions chat{"chat", true};
  chat.subscribe_proxy = chat.publish_proxy = true;
  core::NamespaceOptions inbox{"inbox", false};
  inbox.publish_proxy = inbox.publish_proxy_only = true;
  core::NamespaceOptions room{"room", true};
  c.namespaces = {chat, inbox, room};
}

// The backend of most tests: answers by path and by what the body says.
Reply app(const Request& r) {
  auto b = body_of(r);
  if (r.path == "/connect")
    return {R"({"result":{"user":"alice","info":{"name":"Alice"},"channels":["room:welcome"]}})"};
  if (r.path == "/subscribe") {
    if (str(b, "channel") == "chat:secret")
      return {R"({"error":{"code":"NOT_A_MEMBER","message":"not in this circle"}})"};
    return {R"({"result":{"info":{"topic":"general"}}})"};
  }
  if (r.path == "/publish") {
    const auto& data = b.at("data").as_object();
    const std::string op = str(data, "op");
    if (op == "replace") return {R"({"result":{"data":{"text":"[edited]","stored_id":7}}})"};
    if (op == "deny") return {R"({"error":{"code":"MODERATED","message":"not allowed here"}})"};
    return {R"({"result":{}})"};
  }
  if (r.path == "/rpc") {
    const std::string method = str(b, "method");
    if (method == "add") {
      const auto& d = b.at("data").as_object();
      return {R"({"result":{"data":{"sum":)" + std::to_string(d.at("a").as_int64() + d.at("b").as_int64()) + "}}}"};
    }
    if (method == "slow") return {R"({"result":{"data":"late"}})", 200, 2000ms};
    if (method == "hang") return {R"({"result":{"data":"never"}})", 200, 1500ms};
    if (method == "garbage") return {"", 200, 0ms, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"result\":"};
    if (method == "notjson") return {"<html>oops</html>"};
    if (method == "status") return {R"({"result":{}})", 500};
    if (method == "two") return {R"({"result":{},"error":{"code":"X","message":""}})"};
    if (method == "badcode") return {R"({"error":{"code":"lower case","message":"m"}})"};
    if (method == "kick") return {R"({"disconnect":{"code":4409,"reason":"kicked by the app"}})"};
    return {R"({"error":{"code":"NO_SUCH_METHOD","message":"unknown method"}})"};
  }
  return {"", 404};
}

void proxies(server::Config& c, HttpBackend& backend, bool connect = false) {
  with_namespaces(c);
  if (connect) c.proxy.connect_url = backend.url("/connect");
  c.proxy.subscribe_url = backend.url("/subscribe");
  c.proxy.publish_url = backend.url("/publish");
  c.proxy.rpc_url = backend.url("/rpc");
  c.proxy.headers = {"Cookie", "X-App-*"};
}

json::object rpc(WsClient& ws, const std::string& method, json::value data = nullptr,
                 std::chrono::milliseconds timeout = 5s) {
  auto reply = ws.request({{"type", "rpc"}, {"method", method}, {"data", data}}, timeout);
  return reply ? *reply : json::object{};
}

// --- connect ---------------------------------------------------------------------------------

TEST(Proxy, ConnectAllowsWithTheBackendsUserInfoAndChannels) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend, /*connect=*/true); });
  RawWs ws(server.port());
  ASSERT_NE(ws.upgrade("/ws", "Cookie: session=s1\r\nX-App-Tenant: 7\r\nX-Other: no\r\n").find(" 101 "), std::string::npos);
  auto connected = next_json(ws);
  EXPECT_EQ(str(connected, "type"), "connected");
  EXPECT_EQ(str(connected, "user"), "alice");
  auto subscribed = next_json(ws);
  EXPECT_EQ(str(subscribed, "type"), "subscribed");
  EXPECT_EQ(str(subscribed, "channel"), "room:welcome");

  auto calls = backend.requests_to("/connect");
  ASSERT_EQ(calls.size(), 1u);
  auto body = body_of(calls[0]);
  EXPECT_EQ(str(body, "client"), str(connected, "client"));
  EXPECT_EQ(str(body, "transport"), "websocket");
  EXPECT_EQ(str(body, "remote_addr"), "127.0.0.1");
  EXPECT_FALSE(body.contains("user"));  // no token on the upgrade
  EXPECT_EQ(calls[0].header("Cookie"), "session=s1");
  EXPECT_EQ(calls[0].header("X-App-Tenant"), "7");
  EXPECT_EQ(calls[0].header("X-Other"), "");
  EXPECT_EQ(calls[0].header("Content-Type"), "application/json");

  // The channel the backend named delivers.
  auto r = client::http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                R"({"channel":"room:welcome","data":{"hello":1}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto message = next_json(ws);
  EXPECT_EQ(str(message, "type"), "message");
  EXPECT_EQ(json::serialize(message.at("data")), R"({"hello":1})");
}

TEST(Proxy, ConnectWithoutTokenWhereAnonymousIsRefusedStillWorksThroughTheBackend) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) {
    proxies(c, backend, true);
    c.anonymous = "never";
  });
  RawWs ws(server.port());
  ws.upgrade("/ws", "Cookie: session=s1\r\n");
  EXPECT_EQ(str(next_json(ws), "user"), "alice");
  next_json(ws);  // subscribed room:welcome
  // A verified identity: a personal channel of alice's is hers.
  ws.send_text(R"({"type":"subscribe","id":1,"channel":"room:user#alice"})");
  EXPECT_EQ(str(next_json(ws), "type"), "subscribed");
}

TEST(Proxy, ConnectRefusedByDisconnectClosesWithTheBackendsCode) {
  HttpBackend backend([](const Request&) -> Reply { return {R"({"disconnect":{"code":4403,"reason":"no session"}})"}; });
  TestServer server([&](server::Config& c) { c.proxy.connect_url = backend.url("/connect"); });
  RawWs ws(server.port());
  ws.upgrade();
  EXPECT_EQ(ws.read_until_close(), 4403);
}

TEST(Proxy, ConnectRefusedByErrorSendsTheAppsCodeThenCloses4003) {
  HttpBackend backend([](const Request&) -> Reply {
    return {R"({"error":{"code":"SESSION_EXPIRED","message":"log in again"}})"};
  });
  TestServer server([&](server::Config& c) { c.proxy.connect_url = backend.url("/connect"); });
  RawWs ws(server.port());
  ws.upgrade();
  auto error = next_json(ws);
  EXPECT_EQ(str(error, "type"), "error");
  EXPECT_EQ(str(error, "code"), "SESSION_EXPIRED");
  EXPECT_EQ(str(error, "message"), "log in again");
  EXPECT_EQ(error.at("retryable").as_bool(), false);
  EXPECT_EQ(ws.read_until_close(), 4003);
}

TEST(Proxy, ConnectToADeadBackendIsUnavailableAndCloses4503) {
  TestServer server([&](server::Config& c) { c.proxy.connect_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/c"; });
  RawWs ws(server.port());
  ws.upgrade();
  auto error = next_json(ws);
  EXPECT_EQ(str(error, "code"), "BACKEND_UNAVAILABLE");
  EXPECT_EQ(error.at("retryable").as_bool(), true);
  EXPECT_EQ(ws.read_until_close(), 4503);
}

TEST(Proxy, ConnectAnsweredWithGarbageIsABackendErrorAndCloses4502) {
  HttpBackend backend([](const Request&) -> Reply { return {R"({"result":{"user":42}})"}; });
  TestServer server([&](server::Config& c) { c.proxy.connect_url = backend.url("/connect"); });
  RawWs ws(server.port());
  ws.upgrade();
  auto error = next_json(ws);
  EXPECT_EQ(str(error, "code"), "BACKEND_ERROR");
  EXPECT_EQ(error.at("retryable").as_bool(), false);
  EXPECT_EQ(ws.read_until_close(), 4502);
}

TEST(Proxy, FramesSentBeforeTheConnectAnswerAreHeldThenHandled) {
  HttpBackend backend([](const Request& r) -> Reply {
    if (r.path == "/connect") return {R"({"result":{"user":"bob"}})", 200, 300ms};
    return {"", 404};
  });
  TestServer server([&](server::Config& c) {
    c.namespaces = {core::NamespaceOptions{"room", true}};
    c.proxy.connect_url = backend.url("/connect");
  });
  RawWs ws(server.port());
  ws.upgrade();
  ws.send_text(R"({"type":"subscribe","id":1,"channel":"room:a"})");
  ws.send_text(R"({"type":"ping","id":2})");
  auto connected = next_json(ws);
  EXPECT_EQ(str(connected, "type"), "connected");
  EXPECT_EQ(str(connected, "user"), "bob");
  EXPECT_EQ(str(next_json(ws), "type"), "subscribed");
  EXPECT_EQ(str(next_json(ws), "type"), "pong");
}

TEST(Proxy, AConnectFrameWithDataAsksTheBackendAgain) {
  HttpBackend backend([](const Request& r) -> Reply {
    auto b = body_of(r);
    if (!b.contains("data")) return {R"({"result":{}})"};
    return {R"({"result":{"user":"eve","channels":["room:)" + str(b.at("data").as_object(), "room") + R"("]}})"};
  });
  TestServer server([&](server::Config& c) {
    c.namespaces = {core::NamespaceOptions{"room", true}};
    c.proxy.connect_url = backend.url("/connect");
  });
  RawWs ws(server.port());
  ws.upgrade();
  auto first = next_json(ws);
  EXPECT_EQ(str(first, "type"), "connected");
  EXPECT_FALSE(first.contains("user"));
  ws.send_text(R"({"type":"connect","id":5,"data":{"room":"r1"}})");
  auto second = next_json(ws);
  EXPECT_EQ(str(second, "type"), "connected");
  EXPECT_EQ(second.at("id").as_int64(), 5);
  EXPECT_EQ(str(second, "user"), "eve");
  auto subscribed = next_json(ws);
  EXPECT_EQ(str(subscribed, "channel"), "room:r1");
  auto calls = backend.requests_to("/connect");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(json::serialize(body_of(calls[1]).at("data")), R"({"room":"r1"})");
}

TEST(Proxy, MoreThanSixteenFramesBeforeTheConnectAnswerAreRefused) {
  HttpBackend backend([](const Request&) -> Reply { return {R"({"result":{}})", 200, 300ms}; });
  TestServer server([&](server::Config& c) { c.proxy.connect_url = backend.url("/connect"); });
  RawWs ws(server.port());
  ws.upgrade();
  for (int i = 1; i <= 17; ++i) ws.send_text(R"({"type":"ping","id":)" + std::to_string(i) + "}");
  auto refused = next_json(ws);
  EXPECT_EQ(str(refused, "code"), "RATE_LIMIT");
  EXPECT_EQ(refused.at("id").as_int64(), 17);
  EXPECT_EQ(str(next_json(ws), "type"), "connected");
  for (int i = 1; i <= 16; ++i) {
    auto pong = next_json(ws);
    EXPECT_EQ(str(pong, "type"), "pong");
    EXPECT_EQ(pong.at("id").as_int64(), i);
  }
}

// --- subscribe -------------------------------------------------------------------------------

TEST(Proxy, SubscribeIsAllowedWithInfoOrDeniedWithTheAppsCode) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  auto ws = WsClient::connect("127.0.0.1", server.port());
  auto ok = ws->request({{"type", "subscribe"}, {"channel", "chat:lobby"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(str(*ok, "type"), "subscribed");
  EXPECT_EQ(json::serialize(ok->at("info")), R"({"topic":"general"})");
  auto denied = ws->request({{"type", "subscribe"}, {"channel", "chat:secret"}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(str(*denied, "type"), "error");
  EXPECT_EQ(str(*denied, "code"), "NOT_A_MEMBER");
  EXPECT_EQ(str(*denied, "message"), "not in this circle");

  auto calls = backend.requests_to("/subscribe");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(str(body_of(calls[0]), "client"), ws->client_id());
  EXPECT_EQ(str(body_of(calls[0]), "channel"), "chat:lobby");
  // A namespace without the proxy does not call it.
  ws->subscribe("room:x");
  EXPECT_EQ(backend.requests_to("/subscribe").size(), 2u);
}

// --- publish ---------------------------------------------------------------------------------

TEST(Proxy, PublishIsAcceptedReplacedOrDenied) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  auto reader = WsClient::connect("127.0.0.1", server.port());
  reader->subscribe("chat:lobby");
  auto writer = WsClient::connect("127.0.0.1", server.port());

  auto accepted = writer->request({{"type", "publish"}, {"channel", "chat:lobby"}, {"data", {{"op", "accept"}, {"text", "hi"}}}});
  ASSERT_TRUE(accepted);
  EXPECT_EQ(str(*accepted, "type"), "published");
  EXPECT_TRUE(accepted->contains("offset"));
  auto first = reader->receive_type("message");
  ASSERT_TRUE(first);
  EXPECT_EQ(json::serialize(first->at("data")), R"({"op":"accept","text":"hi"})");

  auto replaced = writer->request({{"type", "publish"}, {"channel", "chat:lobby"}, {"data", {{"op", "replace"}}}});
  ASSERT_TRUE(replaced);
  EXPECT_EQ(str(*replaced, "type"), "published");
  auto second = reader->receive_type("message");
  ASSERT_TRUE(second);
  EXPECT_EQ(json::serialize(second->at("data")), R"({"text":"[edited]","stored_id":7})");

  auto denied = writer->request({{"type", "publish"}, {"channel", "chat:lobby"}, {"data", {{"op", "deny"}}}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(str(*denied, "code"), "MODERATED");

  auto body = body_of(backend.requests_to("/publish").at(0));
  EXPECT_EQ(str(body, "client"), writer->client_id());
  EXPECT_EQ(str(body, "channel"), "chat:lobby");
  EXPECT_EQ(json::serialize(body.at("data")), R"({"op":"accept","text":"hi"})");
  // The denied one was never broadcast: the next message the reader sees is a new one.
  ASSERT_EQ(client::http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                 R"({"channel":"chat:lobby","data":"after"})").status, 200);
  auto third = reader->receive_type("message");
  ASSERT_TRUE(third);
  EXPECT_EQ(json::serialize(third->at("data")), R"("after")");
}

TEST(Proxy, PublishToTheBackendOnlyIsNotBroadcast) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  auto reader = WsClient::connect("127.0.0.1", server.port());
  reader->subscribe("inbox:alice");
  auto writer = WsClient::connect("127.0.0.1", server.port());
  // client_publish is off in inbox: the backend decides.
  auto reply = writer->request({{"type", "publish"}, {"channel", "inbox:alice"}, {"data", {{"q", "hello?"}}}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(str(*reply, "type"), "published");
  EXPECT_EQ(str(*reply, "channel"), "inbox:alice");
  EXPECT_FALSE(reply->contains("offset"));
  ASSERT_EQ(backend.requests_to("/publish").size(), 1u);
  EXPECT_EQ(json::serialize(body_of(backend.requests_to("/publish")[0]).at("data")), R"({"q":"hello?"})");
  ASSERT_EQ(client::http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                 R"({"channel":"inbox:alice","data":"answer"})").status, 200);
  auto message = reader->receive_type("message");
  ASSERT_TRUE(message);
  EXPECT_EQ(json::serialize(message->at("data")), R"("answer")");
}

// --- rpc ---------------------------------------------------------------------------------------

TEST(Proxy, RpcIsAnsweredByTheBackendByIdOrWithTheAppsError) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  auto ws = WsClient::connect("127.0.0.1", server.port());
  auto sum = rpc(*ws, "add", {{"a", 2}, {"b", 3}});
  EXPECT_EQ(str(sum, "type"), "rpc_result");
  EXPECT_EQ(json::serialize(sum.at("data")), R"({"sum":5})");
  auto unknown = rpc(*ws, "nope");
  EXPECT_EQ(str(unknown, "type"), "error");
  EXPECT_EQ(str(unknown, "code"), "NO_SUCH_METHOD");
  auto body = body_of(backend.requests_to("/rpc").at(0));
  EXPECT_EQ(str(body, "method"), "add");
  EXPECT_EQ(str(body, "client"), ws->client_id());
  EXPECT_EQ(json::serialize(body.at("data")), R"({"a":2,"b":3})");
}

TEST(Proxy, BackendFailuresMapToDocumentedCodes) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) {
    proxies(c, backend);
    c.proxy.http.timeout = 400ms;
  });
  auto ws = WsClient::connect("127.0.0.1", server.port());
  auto timeout = rpc(*ws, "hang");
  EXPECT_EQ(str(timeout, "code"), "BACKEND_UNAVAILABLE");
  EXPECT_EQ(timeout.at("retryable").as_bool(), true);
  for (const char* method : {"garbage", "notjson", "status", "two"}) {
    auto e = rpc(*ws, method);
    EXPECT_EQ(str(e, "code"), "BACKEND_ERROR") << method;
    EXPECT_EQ(e.at("retryable").as_bool(), false) << method;
  }
  EXPECT_EQ(str(rpc(*ws, "badcode"), "code"), "BACKEND_ERROR");
  // Still usable after all of that.
  EXPECT_EQ(str(rpc(*ws, "add", {{"a", 1}, {"b", 1}}), "type"), "rpc_result");
  // A disconnect answer closes with the app's code.
  ws->send_json({{"type", "rpc"}, {"id", 99}, {"method", "kick"}});
  EXPECT_EQ(ws->wait_closed(), 4409);
}

TEST(Proxy, RpcToADeadBackendIsUnavailable) {
  TestServer server([&](server::Config& c) { c.proxy.rpc_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/rpc"; });
  auto ws = WsClient::connect("127.0.0.1", server.port());
  auto e = rpc(*ws, "anything");
  EXPECT_EQ(str(e, "code"), "BACKEND_UNAVAILABLE");
  EXPECT_EQ(e.at("retryable").as_bool(), true);
}

TEST(Proxy, RpcWithoutAnRpcUrlIsNotFound) {
  TestServer server;
  auto ws = WsClient::connect("127.0.0.1", server.port());
  EXPECT_EQ(str(rpc(*ws, "add"), "code"), "NOT_FOUND");
}

TEST(Proxy, AClientThatClosesWhileItsCallIsOutIsLeftAlone) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  {
    auto ws = WsClient::connect("127.0.0.1", server.port());
    ws->send_json({{"type", "rpc"}, {"id", 1}, {"method", "hang"}});
    ASSERT_TRUE(eventually([&] { return backend.requests_to("/rpc").size() == 1; }));
    ws->close();
  }
  // The answer comes after the client is gone; the server goes on.
  std::this_thread::sleep_for(1700ms);
  auto other = WsClient::connect("127.0.0.1", server.port());
  EXPECT_EQ(str(rpc(*other, "add", {{"a", 1}, {"b", 2}}), "type"), "rpc_result");
}

// --- refresh ---------------------------------------------------------------------------------

TEST(Proxy, TheRefreshProxyExtendsTheConnectionInsteadOfAskingTheClient) {
  HttpBackend backend([](const Request& r) -> Reply {
    const std::int64_t now = unix_millis() / 1000;
    if (r.path == "/connect")
      return {R"({"result":{"user":"carol","expire_at":)" + std::to_string(now + 10) + "}}"};
    if (r.path == "/refresh") return {R"({"result":{"expire_at":)" + std::to_string(now + 3600) + "}}"};
    return {"", 404};
  });
  TestServer server([&](server::Config& c) {
    c.proxy.connect_url = backend.url("/connect");
    c.proxy.refresh_url = backend.url("/refresh");
  });
  RawWs ws(server.port());
  ws.upgrade();
  EXPECT_EQ(str(next_json(ws), "user"), "carol");
  // Within refresh_before (30 s) of expire_at: the backend is asked at the next tick.
  ASSERT_TRUE(eventually([&] { return backend.requests_to("/refresh").size() == 1; }, 4s));
  auto body = body_of(backend.requests_to("/refresh")[0]);
  EXPECT_EQ(str(body, "user"), "carol");
  EXPECT_FALSE(str(body, "client").empty());
  // Not asked again (the new expiry is an hour away), and the client never saw refresh_required.
  ws.send_text(R"({"type":"ping","id":1})");
  auto next = next_json(ws, 2500ms);
  EXPECT_EQ(str(next, "type"), "pong");
  EXPECT_EQ(backend.requests_to("/refresh").size(), 1u);
}

TEST(Proxy, ARefreshAnsweredWithDisconnectCloses) {
  HttpBackend backend([](const Request& r) -> Reply {
    if (r.path == "/connect")
      return {R"({"result":{"user":"dan","expire_at":)" + std::to_string(unix_millis() / 1000 + 10) + "}}"};
    return {R"({"disconnect":{"code":4401,"reason":"session revoked"}})"};
  });
  TestServer server([&](server::Config& c) {
    c.proxy.connect_url = backend.url("/connect");
    c.proxy.refresh_url = backend.url("/refresh");
  });
  RawWs ws(server.port());
  ws.upgrade();
  EXPECT_EQ(str(next_json(ws), "user"), "dan");
  EXPECT_EQ(ws.read_until_close(5s), 4401);
}

// --- a slow backend --------------------------------------------------------------------------

// 1,000 connections subscribed to a channel; one of them waits 2 s for an rpc answer. Meanwhile
// another client publishes 20 messages: every subscriber (the waiting one too) gets all 20
// before the slow answer comes.
TEST(Proxy, ASlowBackendHoldsUpNoOtherConnection) {
  HttpBackend backend(app);
  TestServer server([&](server::Config& c) { proxies(c, backend); });
  auto io = std::make_shared<client::IoThread>();
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(WsClient::connect("127.0.0.1", server.port(), "/ws", io));
    clients.back()->send_json({{"type", "subscribe"}, {"channel", "room:busy"}});
  }
  for (auto& c : clients) ASSERT_TRUE(c->receive_type("subscribed", 10s));

  WsClient& waiting = *clients[0];
  waiting.send_json({{"type", "rpc"}, {"id", "slow-1"}, {"method", "slow"}});
  ASSERT_TRUE(eventually([&] { return backend.requests_to("/rpc").size() == 1; }));
  const auto asked = std::chrono::steady_clock::now();

  auto publisher = WsClient::connect("127.0.0.1", server.port(), "/ws", io);
  for (int i = 0; i < 20; ++i) publisher->publish("room:busy", i);
  for (std::size_t k = 1; k < clients.size(); ++k)
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(clients[k]->receive_type("message", 5s)) << k << " " << i;
  const auto delivered = std::chrono::steady_clock::now();
  // The waiting client got the 20 messages first, then the slow answer.
  for (int i = 0; i < 20; ++i) {
    auto frame = waiting.receive(5s);
    ASSERT_TRUE(frame);
    ASSERT_EQ(str(*frame, "type"), "message") << json::serialize(*frame);
  }
  auto answer = waiting.receive(5s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(str(*answer, "type"), "rpc_result");
  EXPECT_EQ(json::serialize(answer->at("data")), R"("late")");
  // Everything was delivered while the backend was still thinking.
  EXPECT_LT(delivered - asked, 2000ms);
}

}  // namespace
}  // namespace sb::test
