// Hostile WebSocket peers against the real binary, whose memory is read from /proc: ping floods
// from clients that never read (after and before authentication), fragment floods, and memory
// handed back once a flood is gone. Floods are bounded in bytes and time.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "support/ws_client.hpp"
#include "common/clock.hpp"
#include "support/child_process.hpp"
#include "support/raw_ws.hpp"
#include "support/self_signed.hpp"
#include "support/waiting.hpp"

namespace sb::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const std::string secret = "hostile-ws-secret-0123456789-0123456789";

// Resident memory of a process, in bytes (VmRSS in /proc/<pid>/status).
std::int64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// The switchboard binary with `toml` as its config, on a free port, one worker thread.
class Server {
 public:
  Server(const std::string& name, const std::string& toml, bool tls = false) : port_(free_port()), tls_(tls) {
    const std::string dir = ::testing::TempDir() + "hostile-ws-" + name + "-" + std::to_string(::getpid());
    std::ofstream(dir + ".toml") << toml;
    child_ = std::make_unique<Child>(std::vector<std::string>{"serve", "--config", dir + ".toml", "--listen",
                                                              "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                                              dir + "-data", "--threads", "1", "--log-level", "warn"},
                                     dir + ".log");
    healthy_ = tls_ ? eventually([&] { return rss() > 0 && metric_text().find("switchboard_") != std::string::npos; }, 10s)
                    : Child::wait_healthy(port_);
  }
  bool healthy() const { return healthy_; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return child_->pid(); }
  std::int64_t rss() const { return rss_bytes(child_->pid()); }
  // A counter of /metrics (without the switchboard_ prefix); -1 when absent.
  std::int64_t metric(const std::string& name) const {
    const std::string body = metric_text();
    const std::string key = "\nswitchboard_" + name + " ";
    auto at = body.find(key);
    return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size()));
  }

 private:
  // /metrics, over TLS on a TLS port.
  std::string metric_text() const {
    try {
      if (!tls_) return client::http_request("127.0.0.1", port_, "GET", "/metrics").body;
      namespace beast = boost::beast;
      namespace http = beast::http;
      boost::asio::io_context io;
      boost::asio::ssl::context tls(boost::asio::ssl::context::tls_client);
      tls.set_verify_mode(boost::asio::ssl::verify_none);
      beast::ssl_stream<beast::tcp_stream> https(io, tls);
      beast::get_lowest_layer(https).connect({boost::asio::ip::make_address("127.0.0.1"), port_});
      https.handshake(boost::asio::ssl::stream_base::client);
      http::request<http::empty_body> req(http::verb::get, "/metrics", 11);
      req.set(http::field::host, "localhost");
      http::write(https, req);
      beast::flat_buffer b;
      http::response<http::string_body> res;
      http::read(https, b, res);
      return res.body();
    } catch (const std::exception&) {
      return {};
    }
  }

  std::uint16_t port_;
  bool tls_ = false;
  std::unique_ptr<Child> child_;
  bool healthy_ = false;
};

struct Flood {
  std::size_t bytes_sent = 0;
  std::int64_t peak_rss = 0;
  bool peer_gone = false;  // the server closed the TCP connection
};

// Writes `chunk` over and over without ever reading, until `max_bytes` or `max_time`, or until the
// server stops taking bytes for a while or drops the connection. Samples the server's RSS all along.
Flood flood(RawWs& ws, const Server& server, const std::string& chunk, std::size_t max_bytes,
            std::chrono::milliseconds max_time) {
  Flood f;
  const int fd = ws.socket().native_handle();
  const auto deadline = std::chrono::steady_clock::now() + max_time;
  auto last_progress = std::chrono::steady_clock::now();
  std::size_t offset = 0;
  while (f.bytes_sent < max_bytes && std::chrono::steady_clock::now() < deadline) {
    f.peak_rss = std::max(f.peak_rss, server.rss());
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 20) <= 0) {
      // Not reading any more (a closing connection still reads, so this is a stall): done.
      if (std::chrono::steady_clock::now() - last_progress > 2s) break;
      continue;
    }
    ssize_t n = ::send(fd, chunk.data() + offset, chunk.size() - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      f.peer_gone = true;
      break;
    }
    last_progress = std::chrono::steady_clock::now();
    f.bytes_sent += static_cast<std::size_t>(n);
    offset = (offset + static_cast<std::size_t>(n)) % chunk.size();
  }
  f.peak_rss = std::max(f.peak_rss, server.rss());
  return f;
}

// `count` masked pings of 125 bytes: the largest control frame, the most a pong can cost.
std::string pings(std::size_t count) {
  std::string out;
  const std::string one = RawWs::frame(0x9, std::string(125, 'p'));
  for (std::size_t i = 0; i < count; ++i) out += one;
  return out;
}

constexpr std::int64_t rss_bound = 32 * 1024 * 1024;
constexpr std::size_t flood_bytes = 512u * 1024 * 1024;

// Default limits; a closing connection waits long for its peer to read the close frame, so the
// test reads it after the flood instead of racing the drop.
const std::string patient_close = "[limits]\nclose_timeout = 30\n";

TEST(HostileWs, PingFloodWithoutReadingIsClosedWith1008) {
  Server server("ping-flood", patient_close);
  ASSERT_TRUE(server.healthy());
  const std::int64_t before = server.rss();
  RawWs ws(server.port(), 4096);
  ws.upgrade();
  Flood f = flood(ws, server, pings(500), flood_bytes, 5s);
  EXPECT_LT(f.peak_rss - before, rss_bound) << "sent " << f.bytes_sent << " bytes";
  // frame_burst (4 x rate_burst = 8,000 frames) runs out long before the flood does.
  EXPECT_GT(f.bytes_sent, 8000u * 131);
  EXPECT_EQ(ws.read_until_close(10s), 1008);
  EXPECT_EQ(server.metric("frame_rate_closes_total"), 1);
}

TEST(HostileWs, PingFloodWithoutReadingHasItsPongsCoalesced) {
  // No frame budget to speak of: what holds memory down here is one pending pong per connection.
  Server server("coalesce", "[limits]\nframe_rate = 1000000000\nframe_burst = 1000000000\n");
  ASSERT_TRUE(server.healthy());
  const std::int64_t before = server.rss();
  RawWs ws(server.port(), 4096);
  ws.upgrade();
  Flood f = flood(ws, server, pings(500), flood_bytes, 5s);
  EXPECT_FALSE(f.peer_gone);
  EXPECT_LT(f.peak_rss - before, rss_bound) << "sent " << f.bytes_sent << " bytes";
  const std::size_t pings_sent = f.bytes_sent / 131;
  EXPECT_GT(server.metric("pongs_coalesced_total"), 0);

  // The latest ping is answered: after the backlog in the socket buffers, its pong comes.
  ws.write(RawWs::frame(0x9, "latest"));
  std::size_t pongs = 0;
  bool latest = false;
  while (!latest) {
    auto frame = ws.read_frame(10s);
    ASSERT_TRUE(frame) << "no pong for the latest ping after " << pongs << " pongs";
    if (frame->opcode == 0x1) continue;  // the connected frame
    ASSERT_EQ(frame->opcode, 0xA);
    ++pongs;
    latest = frame->payload == "latest";
  }
  EXPECT_LT(pongs, pings_sent / 2) << "pongs were not coalesced";
  // And the connection still works.
  ws.write(RawWs::frame(0x9, "again"));
  auto again = ws.read_frame(5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->payload, "again");
}


TEST(HostileWs, PingFloodOverTlsHasItsPongsCoalesced) {
  // TLS copies queued frames into its own buffer: the pending pong must be the one still queued.
  namespace beast = boost::beast;
  namespace ssl = boost::asio::ssl;
  const std::string base = ::testing::TempDir() + "hostile-ws-tls-" + std::to_string(::getpid());
  write_self_signed(base + "-cert.pem", base + "-key.pem");
  Server server("tls", "tls_cert = \"" + base + "-cert.pem\"\ntls_key = \"" + base +
                           "-key.pem\"\n[limits]\nframe_rate = 1000000000\nframe_burst = 1000000000\n",
                true);
  ASSERT_TRUE(server.healthy());
  const std::int64_t before = server.rss();
  boost::asio::io_context io;
  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);  // self-signed; what is tested is the pong, not the PKI
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, tls);
  auto& socket = beast::get_lowest_layer(ws).socket();
  socket.open(boost::asio::ip::tcp::v4());
  socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/ws");
  // Pings of 125 bytes written one by one and never read, for 3 s or 200,000 pings: far more
  // pongs than the socket buffers hold.
  auto payload = [](int n) {
    std::string p = std::to_string(n);
    return p + std::string(125 - p.size(), '.');
  };
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  int sent = 0;
  std::int64_t peak = 0;
  while (sent < 200'000 && std::chrono::steady_clock::now() < deadline) {
    ws.ping(beast::websocket::ping_data(payload(sent++)));
    if (sent % 1000 == 0) peak = std::max(peak, server.rss());
  }
  EXPECT_LT(peak - before, rss_bound);
  EXPECT_GT(server.metric("pongs_coalesced_total"), 0);
  // Reading again, the client gets the pong of its last ping, intact, after fewer pongs than pings.
  const std::string last = payload(sent - 1);
  int pongs = 0;
  bool got_last = false;
  ws.control_callback([&](beast::websocket::frame_type kind, beast::string_view payload) {
    if (kind != beast::websocket::frame_type::pong) return;
    ++pongs;
    if (payload == last) got_last = true;
  });
  ws.write(boost::asio::buffer(std::string(R"({"type":"ping","id":"after"})")));
  beast::flat_buffer buffer;
  std::string text;
  while (text.find("after") == std::string::npos) {  // the JSON pong comes after the last WebSocket pong
    buffer.consume(buffer.size());
    ws.read(buffer);
    text = beast::buffers_to_string(buffer.data());
  }
  EXPECT_TRUE(got_last) << pongs << " pongs for " << sent << " pings";
  EXPECT_LT(pongs, sent);
  std::remove((base + "-cert.pem").c_str());
  std::remove((base + "-key.pem").c_str());
}

TEST(HostileWs, PingFloodBeforeAuthenticationIsClosedWith1008) {
  // Anonymous clients off and no token: a few frames, then 1008, whatever the frame rate allows.
  Server server("preauth", "[auth]\nanonymous = \"never\"\njwt_secret = \"" + secret +
                               "\"\n[limits]\nclose_timeout = 30\nframe_rate = 1000000000\nframe_burst = 1000000000\n");
  ASSERT_TRUE(server.healthy());
  const std::int64_t before = server.rss();
  RawWs ws(server.port(), 4096);
  ASSERT_NE(ws.upgrade().find("101"), std::string::npos);
  Flood f = flood(ws, server, pings(500), flood_bytes, 5s);
  EXPECT_LT(f.peak_rss - before, rss_bound) << "sent " << f.bytes_sent << " bytes";
  // 32 pongs at most went out before the close frame.
  std::size_t pongs = 0;
  int code = -1;
  while (auto frame = ws.read_frame(10s)) {
    if (frame->opcode == 0x8) {
      code = frame->close_code();
      break;
    }
    ++pongs;
  }
  EXPECT_EQ(code, 1008);
  EXPECT_LE(pongs, 32u);
  EXPECT_EQ(server.metric("untrusted_frame_closes_total"), 1);

  // Once the token checks out the budget is lifted: 200 pings after connect, and the last one is
  // answered (pings that arrive together are answered by one pong, the latest's).
  RawWs authed(server.port());
  authed.upgrade();
  json::object claims{{"sub", "alice"}, {"exp", unix_millis() / 1000 + 3600}};
  authed.send_text(R"({"type":"connect","id":"c","token":")" +
                   auth::sign_hs("HS256", secret, boost::json::serialize(claims)) + R"("})");
  bool connected = false;
  while (auto frame = authed.read_frame(5s)) {
    if (frame->payload.find(R"("id":"c")") != std::string::npos) {
      connected = frame->payload.find("connected") != std::string::npos;
      break;
    }
  }
  ASSERT_TRUE(connected);
  std::string many;
  for (int i = 0; i < 200; ++i) many += RawWs::frame(0x9, std::to_string(i));
  authed.write(many);
  std::string last;
  while (last != "199") {
    auto frame = authed.read_frame(5s);
    ASSERT_TRUE(frame) << "no pong for the last ping; last pong: " << last;
    ASSERT_EQ(frame->opcode, 0xA) << frame->payload;
    last = frame->payload;
  }
}

TEST(HostileWs, EmptyFragmentFloodIsClosedWith1009) {
  Server server("fragments", patient_close);
  ASSERT_TRUE(server.healthy());
  // A text frame that is not final, 100,000 empty continuations, then a ping.
  std::string bytes = RawWs::frame(0x1, "", false);
  const std::string empty = RawWs::frame(0x0, "", false);
  bytes.reserve(bytes.size() + 100'000 * empty.size() + 16);
  for (int i = 0; i < 100'000; ++i) bytes += empty;
  bytes += RawWs::frame(0x9, "after");
  RawWs ws(server.port());
  ws.upgrade();
  (void)flood(ws, server, bytes, bytes.size(), 5s);
  int code = -1;
  while (auto frame = ws.read_frame(10s)) {
    EXPECT_NE(frame->opcode, 0xA) << "the ping after the fragments was answered";
    if (frame->opcode == 0x8) {
      code = frame->close_code();
      break;
    }
  }
  EXPECT_EQ(code, 1009);
  EXPECT_EQ(server.metric("fragment_closes_total"), 1);
}

TEST(HostileWs, NormalClientsAreUnaffected) {
  Server server("normal", "");
  ASSERT_TRUE(server.healthy());
  RawWs ws(server.port());
  ws.upgrade();
  ws.write(RawWs::frame(0x9, "hello"));
  auto pong = ws.read_frame(5s);
  ASSERT_TRUE(pong);
  while (pong && pong->opcode != 0xA) pong = ws.read_frame(5s);  // the connected frame first
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->payload, "hello");
  // A message in 200 fragments (under max_message_fragments) is delivered.
  const std::string text = R"({"type":"ping","id":"in-pieces"})";
  std::string bytes = RawWs::frame(0x1, text.substr(0, 1), false);
  for (int i = 0; i < 198; ++i) bytes += RawWs::frame(0x0, "", false);
  bytes += RawWs::frame(0x0, text.substr(1), true);
  ws.write(bytes);
  bool answered = false;
  while (auto frame = ws.read_frame(5s)) {
    if (frame->payload.find("in-pieces") != std::string::npos) {
      answered = true;
      break;
    }
  }
  EXPECT_TRUE(answered);
  EXPECT_EQ(server.metric("frame_rate_closes_total"), 0);
  EXPECT_EQ(server.metric("fragment_closes_total"), 0);
}

// Clients that ask for replies and never read pile up answers in their send queues; when they
// leave, the freed memory goes back to the OS within a few sweeps.
TEST(HostileWs, MemoryIsGivenBackAfterAFlood) {
  // Every request answered (no request budget) into a queue that holds 64 MiB.
  Server server("trim",
                "[limits]\nrate_per_connection = 1000000\nrate_burst = 1000000\nmax_send_queue = 67108864\n");
  ASSERT_TRUE(server.healthy());
  const std::int64_t before = server.rss();
  // Each JSON ping is answered with its 2 KiB id.
  const std::string id(2000, 'x');
  std::string requests;
  for (int i = 0; i < 100; ++i) requests += RawWs::frame(0x1, R"({"type":"ping","id":")" + id + R"("})");
  std::vector<std::unique_ptr<RawWs>> clients;
  std::int64_t peak = 0;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<RawWs>(server.port(), 4096));
    clients.back()->upgrade();
    Flood f = flood(*clients.back(), server, requests, 16 * 1024 * 1024, 5s);
    peak = std::max(peak, f.peak_rss);
  }
  EXPECT_TRUE(eventually([&] { return (peak = std::max(peak, server.rss())) - before > 64 * 1024 * 1024; }, 5s))
      << "the flood did not take enough memory to show anything: peak " << peak / 1024 << " KiB";
  clients.clear();
  ASSERT_TRUE(eventually([&] { return server.metric("connections") == 0; }, 10s));
  std::int64_t after = 0;
  EXPECT_TRUE(eventually([&] { return (after = server.rss()) - before < rss_bound / 2; }, 5s))
      << "before " << before / 1024 << " KiB, peak " << peak / 1024 << " KiB, after " << after / 1024 << " KiB";
  // RSS falls while the trim runs; the counter moves once it returns.
  EXPECT_TRUE(eventually([&] { return server.metric("memory_trims_total") >= 1; }, 5s));
  std::printf("[ memory   ] before %lld KiB, peak %lld KiB, after %lld KiB\n", static_cast<long long>(before / 1024),
              static_cast<long long>(peak / 1024), static_cast<long long>(after / 1024));
}

}  // namespace
}  // namespace sb::test
