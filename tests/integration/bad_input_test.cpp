// Every kind of bad input gets a clear error and leaves the server (and, where the protocol
// allows, the connection) standing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/ws_client.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;

json::object parse(const RawFrame& f) { return json::parse(f.payload).as_object(); }

class BadInput : public ::testing::Test {
 protected:
  TestServer server{[](server::Config& c) { c.limits.max_message_size = 4096; }};
  RawWs ws{server.port()};
  void SetUp() override {
    ASSERT_NE(ws.upgrade().find("101 Switching Protocols"), std::string::npos);
    auto connected = ws.read_frame();
    ASSERT_TRUE(connected);
    ASSERT_EQ(parse(*connected).at("type"), "connected");
  }
  // The connection still works: a ping gets its pong.
  void expect_alive() {
    ws.send_text(R"({"type":"ping","id":"alive"})");
    auto f = ws.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, R"({"type":"pong","id":"alive"})");
  }
};

TEST_F(BadInput, MalformedFramesGetAnErrorAndTheConnectionStays) {
  struct Case {
    std::string text;
    std::string code;
    bool has_id;
  };
  const std::vector<Case> cases = {
      {"{oops", "INVALID_MESSAGE", false},
      {"42", "INVALID_MESSAGE", false},
      {R"({"id":1})", "INVALID_MESSAGE", true},
      {R"({"id":2,"type":"subscribe"})", "INVALID_MESSAGE", true},
      {R"({"id":3,"type":"subscribe","channel":["x"]})", "INVALID_MESSAGE", true},
      {R"({"id":4,"type":"teleport"})", "INVALID_MESSAGE", true},
      {R"({"id":5,"type":"subscribe","channel":"has space"})", "UNKNOWN_CHANNEL", true},
      {R"({"id":6,"type":"subscribe","channel":"nowhere:x"})", "UNKNOWN_CHANNEL", true},
      {R"({"id":7,"type":"publish","channel":"x"})", "INVALID_MESSAGE", true},
      {"", "INVALID_MESSAGE", false},
  };
  for (const auto& c : cases) {
    ws.send_text(c.text);
    auto f = ws.read_frame();
    ASSERT_TRUE(f) << c.text;
    auto reply = parse(*f);
    EXPECT_EQ(reply.at("type"), "error") << c.text;
    EXPECT_EQ(reply.at("code").as_string(), c.code) << c.text;
    EXPECT_EQ(reply.at("retryable"), false);
    EXPECT_FALSE(reply.at("message").as_string().empty());
    EXPECT_EQ(reply.contains("id"), c.has_id) << c.text;
    expect_alive();
  }
}

TEST_F(BadInput, FragmentedMessagesAreJoined) {
  std::string text = R"({"type":"ping","id":"frag"})";
  ws.write(RawWs::frame(0x1, text.substr(0, 5), false) + RawWs::frame(0x9, "mid") +
           RawWs::frame(0x0, text.substr(5, 10), false) + RawWs::frame(0x0, text.substr(15), true));
  auto pong_control = ws.read_frame();
  ASSERT_TRUE(pong_control);
  EXPECT_EQ(pong_control->opcode, 0xA);
  EXPECT_EQ(pong_control->payload, "mid");
  auto reply = ws.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, R"({"type":"pong","id":"frag"})");
}

TEST_F(BadInput, ByteByByteDeliveryStillParses) {
  std::string frame = RawWs::frame(0x1, R"({"type":"ping","id":"slow"})");
  for (char c : frame) ws.write(std::string(1, c));
  auto reply = ws.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, R"({"type":"pong","id":"slow"})");
}

TEST_F(BadInput, AnUnmaskedFrameClosesWithProtocolError) {
  ws.write(RawWs::frame(0x1, R"({"type":"ping"})", true, false));
  EXPECT_EQ(ws.read_until_close(), 1002);
}

TEST_F(BadInput, AMessageAboveTheLimitClosesWith1009) {
  ws.send_text(std::string(5000, 'x'));
  EXPECT_EQ(ws.read_until_close(), 1009);
  EXPECT_EQ(server.app().stats().oversized_messages, 1u);
}

TEST_F(BadInput, FragmentsAddingUpAboveTheLimitCloseWith1009) {
  ws.write(RawWs::frame(0x1, std::string(3000, 'a'), false));
  ws.write(RawWs::frame(0x0, std::string(3000, 'a'), true));
  EXPECT_EQ(ws.read_until_close(), 1009);
}

TEST_F(BadInput, ACloseFrameIsEchoedWithItsCode) {
  ws.write(RawWs::frame(0x8, std::string("\x0f\xa0", 2)));  // 4000
  EXPECT_EQ(ws.read_until_close(), 4000);
}

// RFC 6455 8.1: a text message that is not UTF-8 fails the connection; it used to get an
// INVALID_MESSAGE error frame and stay open.
TEST_F(BadInput, ATextMessageThatIsNotUtf8ClosesWith1007) {
  ws.send_text("\xff\xfe{\"type\":\"ping\"}");
  EXPECT_EQ(ws.read_until_close(), 1007);
}

// Fail fast: the fragment holding the bad byte closes the connection, the message unfinished.
TEST_F(BadInput, AnInvalidFragmentClosesWith1007BeforeTheMessageEnds) {
  ws.write(RawWs::frame(0x1, "{\"type\":\"ping\",\"id\":\"\xce", false));
  ws.write(RawWs::frame(0x0, "\xba\xed", false));  // completes the sequence, then starts a surrogate
  ws.write(RawWs::frame(0x0, "\xa0", false));       // U+D800: refused here
  EXPECT_EQ(ws.read_until_close(), 1007);
}

// A binary message is data: not UTF-8 is no close, only a message that is not JSON.
TEST_F(BadInput, ABinaryMessageThatIsNotUtf8IsAnInvalidMessage) {
  ws.write(RawWs::frame(0x2, "\xff\xfe{\"type\":\"ping\"}"));
  auto f = ws.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(parse(*f).at("code").as_string(), "INVALID_MESSAGE");
  expect_alive();
}

TEST_F(BadInput, ACloseReasonThatIsNotUtf8ClosesWith1007) {
  ws.write(RawWs::frame(0x8, std::string("\x03\xe8" "bye" "\xc0\xaf", 7)));  // 1000, overlong '/'
  EXPECT_EQ(ws.read_until_close(), 1007);
}

TEST_F(BadInput, ACloseCodeRfc6455DoesNotAssignIsAProtocolError) {
  ws.write(RawWs::frame(0x8, std::string("\x03\xf4", 2)));  // 1012
  EXPECT_EQ(ws.read_until_close(), 1002);
}

TEST_F(BadInput, ACloseCodeNoEndpointMaySendIsAProtocolError) {
  ws.write(RawWs::frame(0x8, std::string("\x03\xed", 2)));  // 1005: reserved, never on the wire
  EXPECT_EQ(ws.read_until_close(), 1002);
}

// The status line and headers of the server's answer.
std::string read_head(RawWs& ws) {
  boost::asio::streambuf buf;
  boost::system::error_code ec;
  boost::asio::read_until(ws.socket(), buf, "\r\n\r\n", ec);
  return std::string(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
}

TEST(BadUpgrade, RequestsThatAreNotValidUpgradesGetHttpErrors) {
  TestServer server;
  {
    RawWs ws(server.port());
    ws.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n");
    std::string head = read_head(ws);
    EXPECT_NE(head.find("400"), std::string::npos) << head;
  }
  {
    RawWs ws(server.port());
    std::string head = ws.upgrade("/elsewhere");
    EXPECT_NE(head.find("404"), std::string::npos) << head;
  }
  {
    RawWs ws(server.port());
    ws.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    std::string head = read_head(ws);
    EXPECT_NE(head.find("426"), std::string::npos) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Version: 13"), std::string::npos) << head;
  }
  auto plain = client::http_request("127.0.0.1", server.port(), "GET", "/ws");
  EXPECT_EQ(plain.status, 426);
  // The server is still serving.
  EXPECT_EQ(client::http_request("127.0.0.1", server.port(), "GET", "/healthz").status, 200);
}

TEST(BadUpgrade, GarbageInsteadOfHttpGets400AndTheServerLives) {
  TestServer server;
  {
    RawWs ws(server.port());
    ws.write("\x16\x03\x01 this is not http\r\n\r\n");
    std::string head = read_head(ws);
    EXPECT_NE(head.find("400"), std::string::npos) << head;
  }
  EXPECT_EQ(client::http_request("127.0.0.1", server.port(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace sb::test
