// SSE (GET /sse) and NDJSON (GET /stream) over real sockets: the events and their bytes, the id
// and Last-Event-ID recovery (across a restart on the same SQLite file), reset, permissions,
// heartbeats, and slow consumers cut off like WebSocket ones. docs/sse.md.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.hpp"
#include "common/clock.hpp"
#include "server/app.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::WsClient;

const std::string secret = "sse-secret-0123456789-0123456789-abcdef";

struct Event {
  std::string name;  // "" for a comment
  std::string id;
  std::string data;
  bool has_id = false;
  std::string comment;
};

// A blocking HTTP/1.1 client for one streamed GET: reads the head, then decodes the chunks.
class StreamReader {
 public:
  StreamReader(std::uint16_t port, const std::string& target, const std::vector<std::string>& headers = {},
               int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& h : headers) request += h + "\r\n";
    request += "\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~StreamReader() { ::close(fd_); }

  // The head (status line and headers); the body of a refusal follows in raw_.
  std::string head() {
    if (!head_.empty()) return head_;
    while (raw_.find("\r\n\r\n") == std::string::npos)
      if (!fill()) return raw_;
    const auto end = raw_.find("\r\n\r\n") + 4;
    head_ = raw_.substr(0, end);
    raw_.erase(0, end);
    return head_;
  }
  int status() {
    head();
    return head_.size() > 12 ? std::stoi(head_.substr(9, 3)) : 0;
  }
  const std::string& raw_rest() {
    while (fill()) {
    }
    return raw_;
  }

  // The next decoded body line (without '\n'), or nullopt on timeout / end.
  std::optional<std::string> line() {
    for (;;) {
      const auto nl = body_.find('\n');
      if (nl != std::string::npos) {
        std::string l = body_.substr(0, nl);
        body_.erase(0, nl + 1);
        return l;
      }
      if (!decode_chunk()) return std::nullopt;
    }
  }
  // The next SSE event or comment block.
  std::optional<Event> event() {
    Event e;
    bool any = false;
    for (;;) {
      auto l = line();
      if (!l) return std::nullopt;
      if (l->empty()) {
        if (any) return e;
        continue;
      }
      if (l->rfind("retry: ", 0) == 0) continue;  // the reconnect delay, before the first event
      any = true;
      if ((*l)[0] == ':') e.comment = l->substr(1);
      else if (l->rfind("event: ", 0) == 0) e.name = l->substr(7);
      else if (l->rfind("data: ", 0) == 0) e.data = l->substr(6);
      else if (l->rfind("id: ", 0) == 0) {
        e.id = l->substr(4);
        e.has_id = true;
      }
    }
  }
  // The next event named `name` (others dropped).
  std::optional<Event> event_named(const std::string& name) {
    for (;;) {
      auto e = event();
      if (!e || e->name == name) return e;
    }
  }
  bool closed() {
    for (;;) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }
  int fd() const { return fd_; }

 private:
  bool fill() {
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    raw_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool decode_chunk() {
    head();
    for (;;) {
      const auto crlf = raw_.find("\r\n");
      if (crlf != std::string::npos) {
        const std::size_t size = std::stoul(raw_.substr(0, crlf), nullptr, 16);
        if (size == 0) return false;
        if (raw_.size() >= crlf + 2 + size + 2) {
          body_.append(raw_, crlf + 2, size);
          raw_.erase(0, crlf + 2 + size + 2);
          return true;
        }
      }
      if (!fill()) return false;
    }
  }
  int fd_ = -1;
  std::string raw_;
  std::string head_;
  std::string body_;
};

void chat(server::Config& c) {
  c.jwt_secret = secret;
  core::NamespaceOptions room{"chat", true};
  room.history.size = 100;
  c.namespaces.push_back(room);
  core::NamespaceOptions team{"team"};
  team.access = core::Access::protected_;
  c.namespaces.push_back(team);
  core::NamespaceOptions live{"live"};  // no history: nothing to recover
  c.namespaces.push_back(live);
  c.stream_heartbeat_interval = std::chrono::seconds(1);
}

std::string token(const std::string& sub) {
  json::object claims{{"sub", sub}, {"exp", unix_millis() / 1000 + 3600}, {"channels", json::array{"team:*"}}};
  return auth::sign_hs("HS256", secret, json::serialize(claims));
}

std::uint64_t publish(std::uint16_t port, const std::string& channel, const std::string& data) {
  auto r = client::http_request("127.0.0.1", port, "POST", "/api/publish",
                                R"({"channel":")" + channel + R"(","data":)" + data + "}",
                                {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body).at("offset").to_number<std::uint64_t>();
}

json::object parse(const std::string& data) { return json::parse(data).as_object(); }

TEST(Sse, AnswersAnEventStreamWhoseMessagesAreTheNativeFramesByteForByte) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=chat:1");
  EXPECT_EQ(sse.status(), 200);
  // The same message as a WebSocket subscriber gets it, from a publisher with an identity.
  RawWs ws(server.port());
  ws.upgrade();
  ASSERT_TRUE(ws.read_frame());  // connected
  ws.send_text(R"({"type":"subscribe","id":1,"channel":"chat:1"})");
  ASSERT_TRUE(ws.read_frame());
  auto ann = WsClient::connect("127.0.0.1", server.port());
  ASSERT_TRUE(ann->request(json::object{{"type", "connect"}, {"user", "ann"}}));
  ann->send_text(R"({"type":"publish","id":7,"channel":"chat:1","data":{ "text" : "two\nlines", "n": 1.50 }})");
  auto subscribed = sse.event();
  ASSERT_TRUE(subscribed);
  EXPECT_EQ(subscribed->name, "subscribed");
  auto message = sse.event();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->name, "message");
  auto frame = ws.read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(message->data, frame->payload) << "the WebSocket frame's JSON, not re-encoded";
  auto m = parse(message->data);
  EXPECT_EQ(m.at("data").at("text"), "two\nlines");
  EXPECT_EQ(m.at("from").at("user"), "ann");
  EXPECT_EQ(m.at("offset"), 1);
  EXPECT_EQ(message->id, "1:" + std::string(parse(subscribed->data).at("epoch").as_string()));
}

TEST(Sse, TheHeadSaysEventStreamNoCacheAndStartsWithRetry) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=chat:1");
  const std::string head = sse.head();
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  EXPECT_NE(head.find("Cache-Control: no-cache"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Accel-Buffering: no"), std::string::npos) << head;
  EXPECT_EQ(sse.line(), "retry: 1000");
}

TEST(Sse, TheIdHoldsEveryChannelsOffsetAndEpochInUrlOrder) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=chat:a&channel=chat:b");
  auto a = sse.event_named("subscribed");
  auto b = sse.event_named("subscribed");
  ASSERT_TRUE(a && b);
  const std::string ea(parse(a->data).at("epoch").as_string()), eb(parse(b->data).at("epoch").as_string());
  EXPECT_EQ(b->id, "0:" + ea + ",0:" + eb);
  publish(server.port(), "chat:b", "1");
  publish(server.port(), "chat:b", "2");
  publish(server.port(), "chat:a", "3");
  EXPECT_EQ(sse.event_named("message")->id, "0:" + ea + ",1:" + eb);
  EXPECT_EQ(sse.event_named("message")->id, "0:" + ea + ",2:" + eb);
  auto last = sse.event_named("message");
  EXPECT_EQ(last->id, "1:" + ea + ",2:" + eb);
  EXPECT_TRUE(std::regex_match(last->id, std::regex(R"(\d+:[0-9a-f]+(,\d+:[0-9a-f]+)*)")));
}

TEST(Sse, LastEventIdRecoversWhatWasPublishedWhileAway) {
  TestServer server(chat);
  std::string id;
  {
    StreamReader sse(server.port(), "/sse?channel=chat:a&channel=chat:b");
    publish(server.port(), "chat:a", "1");
    id = sse.event_named("message")->id;
  }
  publish(server.port(), "chat:a", "2");
  publish(server.port(), "chat:b", "3");
  StreamReader again(server.port(), "/sse?channel=chat:a&channel=chat:b", {"Last-Event-ID: " + id});
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) got.push_back(json::serialize(parse(again.event_named("message")->data).at("data")));
  EXPECT_EQ(got, (std::vector<std::string>{"2", "3"}));
  publish(server.port(), "chat:a", "4");
  EXPECT_EQ(parse(again.event_named("message")->data).at("data"), 4) << "then live, nothing twice";
}

TEST(Sse, LastEventIdRecoversAcrossARestartOnTheSameSqliteFile) {
  const std::string dir = ::testing::TempDir() + "switchboard-sse-restart-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto same_dir = [&](server::Config& c) {
    chat(c);
    c.data_dir = dir;
  };
  std::string id;
  {
    TestServer server(same_dir);
    StreamReader sse(server.port(), "/sse?channel=chat:r");
    publish(server.port(), "chat:r", "1");
    id = sse.event_named("message")->id;
  }
  TestServer server(same_dir);
  publish(server.port(), "chat:r", "2");
  StreamReader again(server.port(), "/sse?channel=chat:r", {"Last-Event-ID: " + id});
  auto subscribed = again.event_named("subscribed");
  EXPECT_EQ(parse(subscribed->data).at("recovered"), true) << subscribed->data;
  auto m = again.event();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "message");
  EXPECT_EQ(parse(m->data).at("data"), 2);
  EXPECT_EQ(parse(m->data).at("offset"), 2);
  std::filesystem::remove_all(dir);
}

TEST(Sse, AnIdFromAnotherEpochGetsAResetEventWithTheNewPosition) {
  TestServer server(chat);
  publish(server.port(), "chat:e", "1");
  StreamReader sse(server.port(), "/sse?channel=chat:e", {"Last-Event-ID: 1:0000feedbeef"});
  auto subscribed = sse.event_named("subscribed");
  EXPECT_EQ(parse(subscribed->data).at("recovered"), false);
  auto reset = sse.event();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->name, "reset");
  auto r = parse(reset->data);
  EXPECT_EQ(r.at("channel"), "chat:e");
  EXPECT_EQ(r.at("offset"), 1);
  EXPECT_EQ(reset->id, "1:" + std::string(r.at("epoch").as_string()));
}

TEST(Sse, ANamespaceWithoutHistoryResetsOnReconnect) {
  TestServer server(chat);
  StreamReader first(server.port(), "/sse?channel=live:x");
  const std::string id = first.event_named("subscribed")->id;
  publish(server.port(), "live:x", "1");  // missed, and kept nowhere
  StreamReader sse(server.port(), "/sse?channel=live:x", {"Last-Event-ID: " + id});
  EXPECT_TRUE(sse.event_named("reset"));
}

TEST(Sse, AProtectedChannelWithoutATokenIsRefusedBeforeTheStreamStarts) {
  TestServer server(chat);
  StreamReader refused(server.port(), "/sse?channel=team:1");
  EXPECT_EQ(refused.status(), 403);
  EXPECT_NE(refused.raw_rest().find("PERMISSION_DENIED"), std::string::npos);
  StreamReader bad(server.port(), "/sse?channel=team:1&token=nonsense");
  EXPECT_EQ(bad.status(), 401);
  StreamReader query(server.port(), "/sse?channel=team:1&token=" + token("u1"));
  EXPECT_EQ(query.status(), 200);
  StreamReader bearer(server.port(), "/sse?channel=team:1", {"Authorization: Bearer " + token("u1")});
  EXPECT_EQ(bearer.status(), 200);
  StreamReader cookie(server.port(), "/sse?channel=team:1", {"Cookie: a=b; switchboard_token=" + token("u1")});
  EXPECT_EQ(cookie.status(), 200);
  StreamReader none(server.port(), "/sse");
  EXPECT_EQ(none.status(), 400);
  StreamReader origin(server.port(), "/sse?channel=chat:1", {"Origin: https://evil.example"});
  EXPECT_EQ(origin.status(), 403);
}

TEST(Sse, ApiDisconnectEndsAUsersStreamWithATerminalErrorEvent) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=team:1&token=" + token("u9"));
  ASSERT_TRUE(sse.event_named("subscribed"));
  auto r = client::http_request("127.0.0.1", server.port(), "POST", "/api/disconnect", R"({"user":"u9"})",
                                {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("disconnected"), 1);
  auto error = sse.event_named("error");
  ASSERT_TRUE(error);
  EXPECT_EQ(parse(error->data).at("type"), "error");
  EXPECT_FALSE(sse.line()) << "the stream ends after it";
}

TEST(Sse, HeartbeatCommentsKeepAQuietStreamOpen) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=chat:1");
  for (;;) {
    auto e = sse.event();
    ASSERT_TRUE(e) << "no heartbeat within the read timeout";
    if (e->name.empty()) {
      EXPECT_EQ(e->comment, " ping");
      break;
    }
  }
}

TEST(Sse, StreamsCountAsConnectionsInTheStats) {
  TestServer server(chat);
  StreamReader sse(server.port(), "/sse?channel=chat:1");
  ASSERT_TRUE(sse.event_named("subscribed"));
  auto stats = json::parse(client::http_request("127.0.0.1", server.port(), "GET", "/api/stats").body).as_object();
  EXPECT_EQ(stats.at("sse_connections"), 1);
  EXPECT_EQ(stats.at("connections"), 1);
}

TEST(Sse, AThousandClientsThatNeverReadAreCutOffAndTheServerStaysResponsive) {
  TestServer server([](server::Config& c) {
    chat(c);
    c.limits.max_send_queue = 64 * 1024;
    c.max_connections_per_ip = 5000;
    c.stream_heartbeat_interval = std::chrono::seconds(3600);
  });
  std::vector<std::unique_ptr<StreamReader>> clients;
  for (int i = 0; i < 1000; ++i) {
    clients.push_back(std::make_unique<StreamReader>(server.port(), "/sse?channel=chat:flood", std::vector<std::string>{},
                                                     4096));
    ASSERT_EQ(clients.back()->status(), 200) << i;
  }
  auto stats = [&] {
    return json::parse(client::http_request("127.0.0.1", server.port(), "GET", "/api/stats").body).as_object();
  };
  EXPECT_EQ(stats().at("sse_connections"), 1000);
  // 8 MiB of messages: far more than a 64 KiB queue plus the socket buffers of one client.
  const std::string big = "\"" + std::string(16 * 1024, 'x') + "\"";
  for (int i = 0; i < 512; ++i) publish(server.port(), "chat:flood", big);
  std::uint64_t open = 1000;
  for (int i = 0; i < 100 && open > 0; ++i) {
    open = stats().at("sse_connections").to_number<std::uint64_t>();
    if (open > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(open, 0u) << "every client that never reads is cut off";
  EXPECT_GE(stats().at("slow_consumers").to_number<std::uint64_t>(), 1000u);
  EXPECT_TRUE(clients.front()->closed());
  // Still serving.
  StreamReader fresh(server.port(), "/sse?channel=chat:flood");
  EXPECT_EQ(fresh.status(), 200);
}

TEST(Ndjson, OneNativeFramePerLineWithRecoveryFromLastEventId) {
  TestServer server(chat);
  std::string epoch;
  {
    StreamReader stream(server.port(), "/stream?channel=chat:n");
    EXPECT_NE(stream.head().find("Content-Type: application/x-ndjson"), std::string::npos);
    auto subscribed = parse(*stream.line());
    EXPECT_EQ(subscribed.at("type"), "subscribed");
    epoch = subscribed.at("epoch").as_string();
    publish(server.port(), "chat:n", R"({"a":1})");
    auto m = parse(*stream.line());
    EXPECT_EQ(m.at("type"), "message");
    EXPECT_EQ(m.at("data").at("a"), 1);
  }
  publish(server.port(), "chat:n", "2");
  StreamReader again(server.port(), "/stream?channel=chat:n&last_event_id=1:" + epoch);
  EXPECT_EQ(parse(*again.line()).at("recovered"), true);
  auto m = parse(*again.line());
  EXPECT_EQ(m.at("data"), 2);
}

TEST(Ndjson, HeartbeatsAreEmptyLines) {
  TestServer server(chat);
  StreamReader stream(server.port(), "/stream?channel=chat:h");
  ASSERT_TRUE(stream.line());  // subscribed
  EXPECT_EQ(stream.line(), "");
}

}  // namespace
}  // namespace sb::test
