// Streams (AI answers): token by token, late subscribers, cancel with the backend's webhook, idle timeout.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "support/ws_client.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

void ai(server::Config& c) {
  core::NamespaceOptions ns{"ai", true};
  ns.history.size = 100;
  c.namespaces.push_back(ns);
}

std::string post(std::uint16_t port, const std::string& target, const json::object& body, int expect = 200) {
  auto r = http_request("127.0.0.1", port, "POST", target, json::serialize(body));
  EXPECT_EQ(r.status, expect) << target << " " << r.body;
  return r.body;
}

std::string start_stream(std::uint16_t port, const std::string& channel) {
  auto body = json::parse(post(port, "/api/streams", {{"channel", channel}, {"meta", json::object{{"model", "m1"}}}}));
  return std::string(body.at("stream").as_string());
}

// Reads a stream's frames for `id` until its end; returns the text and the end reason.
std::pair<std::string, std::string> read_stream(WsClient& c, const std::string& id) {
  std::string text, reason;
  std::uint64_t seq = 0;
  bool started = false;
  while (auto f = c.receive()) {
    const auto type = f->at("type").as_string();
    if (!f->contains("stream") || f->at("stream").as_string() != id) continue;
    if (type == "stream_start") {
      EXPECT_FALSE(started) << "two starts";
      started = true;
      EXPECT_EQ(f->at("meta").at("model"), "m1");
    } else if (type == "stream_delta") {
      EXPECT_TRUE(started) << "delta before start";
      std::uint64_t s = f->at("seq").to_number<std::uint64_t>();
      EXPECT_GT(s, seq) << "a delta again or out of order";
      seq = s;
      text += f->at("delta").as_string();
    } else if (type == "stream_end") {
      reason = std::string(f->at("reason").as_string());
      break;
    }
  }
  return {text, reason};
}

TEST(Streams, ArriveTokenByTokenAndEndAsOneStoredMessage) {
  TestServer server(ai);
  auto c = WsClient::connect("127.0.0.1", server.port());
  c->subscribe("ai:chat-1");
  std::string id = start_stream(server.port(), "ai:chat-1");
  for (const char* token : {"Hello", ", ", "world"})
    post(server.port(), "/api/streams/" + id + "/append", {{"delta", token}});
  auto ended = json::parse(post(server.port(), "/api/streams/" + id + "/end", {{"reason", "done"}}));
  EXPECT_EQ(ended.at("offset"), 1);
  auto [text, reason] = read_stream(*c, id);
  EXPECT_EQ(text, "Hello, world");
  EXPECT_EQ(reason, "done");
  auto m = c->receive_type("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("data").at("text"), "Hello, world");
  EXPECT_EQ(m->at("data").at("stream").as_string(), id);
  auto history = json::parse(http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=ai:chat-1").body);
  EXPECT_EQ(history.at("messages").as_array()[0].at("data").at("text"), "Hello, world");
  // A finished stream takes no more appends.
  post(server.port(), "/api/streams/" + id + "/append", {{"delta", "late"}}, 404);
}

TEST(Streams, ALateSubscriberGetsTheTextSoFarThenTheRestWithNoGapNorDuplicate) {
  TestServer server(ai);
  std::string id = start_stream(server.port(), "ai:late");
  std::string expected;
  for (int i = 0; i < 400; ++i) expected += "t" + std::to_string(i) + " ";
  std::promise<void> halfway;
  std::thread backend([&] {
    for (int i = 0; i < 400; ++i) {
      post(server.port(), "/api/streams/" + id + "/append", {{"delta", "t" + std::to_string(i) + " "}});
      if (i == 100) halfway.set_value();
    }
    post(server.port(), "/api/streams/" + id + "/end", {});
  });
  halfway.get_future().wait();
  auto late = WsClient::connect("127.0.0.1", server.port());
  late->subscribe("ai:late");  // while deltas keep coming
  auto [text, reason] = read_stream(*late, id);
  backend.join();
  EXPECT_EQ(text, expected);
  EXPECT_EQ(reason, "done");
}

// A one-shot HTTP server standing in for the app's backend: records the first request.
class FakeBackend {
 public:
  FakeBackend() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] {
      boost::asio::ip::tcp::socket s(io_);
      acceptor_.accept(s);
      boost::asio::streambuf buf;
      boost::asio::read_until(s, buf, "\r\n\r\n");
      std::string all(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
      auto head_end = all.find("\r\n\r\n") + 4;
      std::string head = all.substr(0, head_end);
      auto cl = head.find("Content-Length: ");
      std::size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
      std::string body = all.substr(head_end);
      if (body.size() < length) {
        std::string more(length - body.size(), '\0');
        boost::asio::read(s, boost::asio::buffer(more));
        body += more;
      }
      boost::asio::write(s, boost::asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")));
      received_.set_value({head, body});
    });
  }
  ~FakeBackend() { thread_.join(); }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::pair<std::string, std::string> request() { return received_.get_future().get(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::promise<std::pair<std::string, std::string>> received_;
  std::thread thread_;
};

TEST(Streams, AClientCancelEndsTheStreamForEveryoneAndTellsTheBackend) {
  FakeBackend backend;
  TestServer server([&](server::Config& c) {
    ai(c);
    c.stream_cancel_url = "http://127.0.0.1:" + std::to_string(backend.port()) + "/llm/cancel";
    c.stream_cancel_secret = "s3cret";
  });
  auto watcher = WsClient::connect("127.0.0.1", server.port());
  auto user = WsClient::connect("127.0.0.1", server.port());
  watcher->subscribe("ai:c");
  user->subscribe("ai:c");
  std::string id = start_stream(server.port(), "ai:c");
  post(server.port(), "/api/streams/" + id + "/append", {{"delta", "Thinking"}});
  auto ack = user->request(json::object{{"type", "stream_cancel"}, {"stream", id}});
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->at("type"), "stream_cancelled");
  auto [text, reason] = read_stream(*watcher, id);
  EXPECT_EQ(text, "Thinking");
  EXPECT_EQ(reason, "cancelled");
  auto [head, body] = backend.request();
  EXPECT_NE(head.find("POST /llm/cancel HTTP/1.1"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Switchboard-Secret: s3cret"), std::string::npos) << head;
  auto notice = json::parse(body);
  EXPECT_EQ(notice.at("stream").as_string(), id);
  EXPECT_EQ(notice.at("channel"), "ai:c");
  EXPECT_EQ(notice.at("reason"), "cancelled");
  // A subscriber without publish rights cannot cancel.
  {
    TestServer readonly([](server::Config& c) {
      core::NamespaceOptions ns{"ai", false};  // client_publish = false
      c.namespaces.push_back(ns);
    });
    auto viewer = WsClient::connect("127.0.0.1", readonly.port());
    viewer->subscribe("ai:ro");
    std::string running = start_stream(readonly.port(), "ai:ro");
    auto denied = viewer->request(json::object{{"type", "stream_cancel"}, {"stream", running}});
    EXPECT_EQ(denied->at("code"), "PERMISSION_DENIED");
  }
  // Someone not on the channel cannot cancel.
  auto stranger = WsClient::connect("127.0.0.1", server.port());
  std::string other = start_stream(server.port(), "ai:c");
  auto refused = stranger->request(json::object{{"type", "stream_cancel"}, {"stream", other}});
  EXPECT_EQ(refused->at("code"), "NOT_FOUND");
}

TEST(Streams, AStreamWithoutAppendsEndsWithTimeout) {
  TestServer server([](server::Config& c) {
    ai(c);
    c.stream_idle_timeout = std::chrono::seconds(1);
  });
  auto c = WsClient::connect("127.0.0.1", server.port());
  c->subscribe("ai:t");
  std::string id = start_stream(server.port(), "ai:t");
  post(server.port(), "/api/streams/" + id + "/append", {{"delta", "partial"}});
  auto [text, reason] = read_stream(*c, id);
  EXPECT_EQ(text, "partial");
  EXPECT_EQ(reason, "timeout");
}

TEST(Streams, ALongChunkedRequestIsAppendedLineByLineAsItArrives) {
  TestServer server(ai);
  auto c = WsClient::connect("127.0.0.1", server.port());
  c->subscribe("ai:pipe");
  std::string id = start_stream(server.port(), "ai:pipe");
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  auto send = [&](const std::string& bytes) { boost::asio::write(s, boost::asio::buffer(bytes)); };
  auto chunk = [&](const std::string& data) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    send(size + data + "\r\n");
  };
  send("POST /api/streams/" + id +
       "/pipe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  // Each line reaches subscribers while the request is still open: the backend pipes an LLM.
  chunk("Hel");
  chunk("lo\n");
  auto first = c->receive_type("stream_delta");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->at("delta"), "Hello");
  chunk("\"two\\nlines\"\n\n");  // a JSON string line may hold newlines; an empty line is skipped
  auto second = c->receive_type("stream_delta");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at("delta"), "two\nlines");
  chunk("tail without newline");
  send("0\r\n\r\n");
  boost::asio::streambuf response;
  boost::system::error_code ec;
  boost::asio::read(s, response, ec);  // the server closes after answering
  std::string text(boost::asio::buffers_begin(response.data()), boost::asio::buffers_end(response.data()));
  EXPECT_NE(text.find("200 OK"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("seq":3)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("offset":1)"), std::string::npos) << text;
  auto third = c->receive_type("stream_delta");
  EXPECT_EQ(third->at("delta"), "tail without newline");
  auto end = c->receive_type("stream_end");
  EXPECT_EQ(end->at("reason"), "done");
  // The same over a plain request with the body at once, and end=false keeps the stream open.
  std::string other = start_stream(server.port(), "ai:pipe");
  auto r = http_request("127.0.0.1", server.port(), "POST", "/api/streams/" + other + "/pipe?end=false",
                        "a\nb\n", {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("seq"), 2);
  post(server.port(), "/api/streams/" + other + "/append", {{"delta", "c"}});
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "POST", "/api/streams/nope/pipe", "x\n").status, 404);
}

TEST(Streams, RunningStreamsEndWithShutdownWhenTheServerStops) {
  auto server = std::make_unique<TestServer>(ai);
  auto c = WsClient::connect("127.0.0.1", server->port());
  c->subscribe("ai:s");
  std::string id = start_stream(server->port(), "ai:s");
  post(server->port(), "/api/streams/" + id + "/append", {{"delta", "half an ans"}});
  server.reset();  // graceful stop
  auto [text, reason] = read_stream(*c, id);
  EXPECT_EQ(text, "half an ans");
  EXPECT_EQ(reason, "shutdown");
  EXPECT_EQ(c->wait_closed(), 1001);
}

TEST(Streams, BadRequestsGetClearErrors) {
  TestServer server(ai);
  post(server.port(), "/api/streams", {{"channel", "nons:x"}}, 400);
  post(server.port(), "/api/streams", {{"channel", 3}}, 400);
  post(server.port(), "/api/streams", {{"channel", "ai:x"}, {"meta", "str"}}, 400);
  post(server.port(), "/api/streams/nope/append", {{"delta", "x"}}, 404);
  std::string id = start_stream(server.port(), "ai:x");
  post(server.port(), "/api/streams/" + id + "/append", {{"delta", 5}}, 400);
  post(server.port(), "/api/streams/" + id + "/explode", {}, 404);
}

}  // namespace
}  // namespace sb::test
