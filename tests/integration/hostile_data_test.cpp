// Hostile input, `data`: the server passes a client's value on as the exact bytes sent (no digit
// lost, nothing re-escaped, white space inside kept), everywhere it goes (live frames, events,
// WebSocket and HTTP history, recovery, stream meta, SQLite and memory history), and refuses
// numbers that are not finite on both transports, so everything it writes is strict JSON.
// Frames are read with a raw client: a JSON library would hide the very bytes under test.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/ws_client.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;

// Each of these comes back changed from a parse-and-serialize round trip.
const std::vector<std::string> values = {
    "123456789012345678901234567890",
    "-9223372036854775809",
    "1.0e+2",
    "0.1000000000000000055511151231257827",
    R"("esc \"q\" \\ \/ \n \u00e9 \ud83d\ude00")",
    "\"caf\xc3\xa9\"",
    "{ \"big\" : [ 123456789012345678901234567890 ,\n\t1.50 ] , \"s\":\"\\u0041\" }",
};
const std::vector<std::string> non_finite = {"1e999999", "-1e400", R"({"deep":[1e309]})"};

void with_history(server::Config& c, const std::string& engine) {
  c.history_engine = engine;
  core::NamespaceOptions chat{"chat", true};
  chat.history.size = 1000;
  c.namespaces.push_back(chat);
}

// A raw client, upgraded.
std::unique_ptr<RawWs> open(std::uint16_t port) {
  auto ws = std::make_unique<RawWs>(port);
  ws->upgrade();
  return ws;
}

// The next text frame whose payload starts with `prefix`, skipping others.
std::string next_frame(RawWs& ws, const std::string& prefix) {
  for (;;) {
    auto f = ws.read_frame();
    if (!f) {
      ADD_FAILURE() << "no frame starting with " << prefix;
      return {};
    }
    if (f->opcode == 0x1 && f->payload.compare(0, prefix.size(), prefix) == 0) return f->payload;
  }
}

// A live or recovered message frame: exactly {"type":"message","channel":C,"data":D,"offset":N,"ts":T}.
// Returns D.
std::string data_of_message(const std::string& frame, const std::string& channel, std::uint64_t offset) {
  const std::string head = R"({"type":"message","channel":")" + channel + R"(","data":)";
  const std::string tail = R"(,"offset":)" + std::to_string(offset) + R"(,"ts":)";
  EXPECT_EQ(frame.compare(0, head.size(), head), 0) << frame;
  const auto end = frame.rfind(tail);
  if (end == std::string::npos || end < head.size()) {
    ADD_FAILURE() << "offset " << offset << " not in " << frame;
    return {};
  }
  return frame.substr(head.size(), end - head.size());
}

// Strict JSON: Boost.JSON refuses Infinity, NaN, comments and trailing commas by default.
void expect_strict_json(const std::string& text) {
  json::error_code ec;
  json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << text;
  EXPECT_EQ(text.find("Infinity"), std::string::npos) << text;
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
}

std::string subscribe(RawWs& ws, const std::string& channel, const std::string& since = {}) {
  ws.send_text(R"({"type":"subscribe","id":"s","channel":")" + channel + "\"" + since + "}");
  return next_frame(ws, R"({"type":"subscribed")");
}

class HostileData : public ::testing::TestWithParam<std::string> {};

TEST_P(HostileData, EveryReaderGetsTheExactBytesThePublisherSent) {
  TestServer server([](server::Config& c) { with_history(c, GetParam()); });
  const std::string channel = "chat:exact";
  auto subscriber = open(server.port());
  const auto subscribed = json::parse(subscribe(*subscriber, channel));
  const std::string epoch(subscribed.at("epoch").as_string());

  // Each value published twice: over WebSocket, then over HTTP.
  auto publisher = open(server.port());
  std::vector<std::string> sent;
  for (const auto& v : values) {
    publisher->send_text(R"({"type":"publish","id":1,"channel":")" + channel + R"(","data":  )" + v + " }");
    next_frame(*publisher, R"({"type":"published")");
    sent.push_back(v);
    auto r = http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                          R"({"channel":")" + channel + R"(", "data":)" + v + "\n}");
    EXPECT_EQ(r.status, 200) << r.body;
    sent.push_back(v);
  }

  // Live.
  for (std::size_t i = 0; i < sent.size(); ++i)
    EXPECT_EQ(data_of_message(next_frame(*subscriber, R"({"type":"message")"), channel, i + 1), sent[i]);

  // Recovery from offset 0 of the same epoch.
  auto late = open(server.port());
  const std::string recovered =
      subscribe(*late, channel, R"(,"since":{"offset":0,"epoch":")" + epoch + "\"}");
  EXPECT_NE(recovered.find(R"("recovered":true)"), std::string::npos) << recovered;
  for (std::size_t i = 0; i < sent.size(); ++i)
    EXPECT_EQ(data_of_message(next_frame(*late, R"({"type":"message")"), channel, i + 1), sent[i]);

  // History over HTTP: strict JSON, each message exactly {"offset":N,"ts":T,"data":D}.
  auto history = http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=" + channel + "&limit=1000");
  ASSERT_EQ(history.status, 200) << history.body;
  expect_strict_json(history.body);
  // History over WebSocket: the same messages in a `history` frame.
  late->send_text(R"({"type":"history","id":"h","channel":")" + channel + R"("})");
  const std::string ws_history = next_frame(*late, R"({"type":"history")");
  expect_strict_json(ws_history);
  const std::string* answers[] = {&history.body, &ws_history};
  for (const std::string* text : answers) {
    std::size_t from = 0;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      const std::string head = R"({"offset":)" + std::to_string(i + 1) + R"(,"ts":)";
      const auto at = text->find(head, from);
      ASSERT_NE(at, std::string::npos) << *text;
      const auto data_at = text->find(R"(,"data":)", at) + 8;
      const std::string expected = sent[i] + "}";
      EXPECT_EQ(text->compare(data_at, expected.size(), expected), 0) << "offset " << i + 1 << ": " << *text;
      from = data_at;
    }
  }
}

TEST_P(HostileData, BroadcastEventsAndStreamMetaKeepTheBytesToo) {
  TestServer server([](server::Config& c) { with_history(c, GetParam()); });
  auto a = open(server.port());
  auto b = open(server.port());
  subscribe(*a, "chat:a");
  subscribe(*b, "chat:a");
  const std::string v = values[0], w = values[4];
  auto r = http_request("127.0.0.1", server.port(), "POST", "/api/broadcast",
                        R"({"channels":["chat:a"],"data":)" + w + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(data_of_message(next_frame(*a, R"({"type":"message")"), "chat:a", 1), w);

  // A relayed event.
  a->send_text(R"({"type":"event","channel":"chat:a","event":"e","data":)" + v + "}");
  const std::string event = next_frame(*b, R"({"type":"event")");
  EXPECT_NE(event.find(R"("data":)" + v + R"(,"client":)"), std::string::npos) << event;

  // A stream's meta.
  const std::string meta = R"({ "n" : 123456789012345678901234567890 })";
  r = http_request("127.0.0.1", server.port(), "POST", "/api/streams", R"({"channel":"chat:a","meta":)" + meta + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string start = next_frame(*b, R"({"type":"stream_start")");
  EXPECT_NE(start.find(R"("meta":)" + meta + "}"), std::string::npos) << start;
}

TEST_P(HostileData, NonFiniteNumbersAreRefusedOnBothTransports) {
  TestServer server([](server::Config& c) { with_history(c, GetParam()); });
  const std::string channel = "chat:inf";
  auto subscriber = open(server.port());
  subscribe(*subscriber, channel);
  auto publisher = open(server.port());
  subscribe(*publisher, channel);  // for the event below
  for (const auto& v : non_finite) {
    // WebSocket: an error reply carrying the request's id; the connection stays.
    publisher->send_text(R"({"type":"publish","id":"p","channel":")" + channel + R"(","data":)" + v + "}");
    const std::string error = next_frame(*publisher, R"({"type":"error")");
    EXPECT_NE(error.find(R"("id":"p")"), std::string::npos) << error;
    EXPECT_NE(error.find(R"("code":"INVALID_MESSAGE")"), std::string::npos) << error;
    publisher->send_text(R"({"type":"event","id":"e","channel":")" + channel + R"(","event":"x","data":)" + v + "}");
    EXPECT_NE(next_frame(*publisher, R"({"type":"error")").find(R"("code":"INVALID_MESSAGE")"), std::string::npos);
    publisher->send_text(R"({"type":"ping","id":"alive"})");
    EXPECT_NE(next_frame(*publisher, R"({"type":"pong")").find(R"("alive")"), std::string::npos);

    // HTTP: 400 INVALID_MESSAGE, for publish, broadcast and a stream's meta.
    for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
             {"/api/publish", R"({"channel":")" + channel + R"(","data":)" + v + "}"},
             {"/api/broadcast", R"({"channels":[")" + channel + R"("],"data":)" + v + "}"},
             {"/api/streams", R"({"channel":")" + channel + R"(","meta":{"x":)" + v + "}}"}}) {
      auto r = http_request("127.0.0.1", server.port(), "POST", target, body);
      EXPECT_EQ(r.status, 400) << target << " " << r.body;
      EXPECT_NE(r.body.find(R"("code":"INVALID_MESSAGE")"), std::string::npos) << r.body;
      expect_strict_json(r.body);
    }
  }
  // Nothing was published or stored: the first message the subscriber gets is this one, offset 1.
  auto r = http_request("127.0.0.1", server.port(), "POST", "/api/publish", R"({"channel":")" + channel + R"(","data":1})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(data_of_message(next_frame(*subscriber, R"({"type":"message")"), channel, 1), "1");
  auto history = http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=" + channel);
  expect_strict_json(history.body);
  EXPECT_NE(history.body.find(R"("messages":[{"offset":1,)"), std::string::npos) << history.body;
  EXPECT_EQ(history.body.find(R"("offset":2,)"), std::string::npos) << history.body;
}

INSTANTIATE_TEST_SUITE_P(Engines, HostileData, ::testing::Values("sqlite", "memory"));

}  // namespace
}  // namespace sb::test
