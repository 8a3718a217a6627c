// Connections that go wrong (slow readers, silent peers) and the server's own shutdown.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "support/ws_client.hpp"
#include "support/child_process.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::WsClient;

TEST(Lifecycle, ASlowConsumerIsCutWhileTheOthersReceiveEverything) {
  TestServer server([](server::Config& c) {
    c.limits.max_send_queue = 256 * 1024;
    c.limits.close_timeout = std::chrono::seconds(10);
  });
  // A subscriber that never reads, with a tiny receive buffer so the kernel fills up fast.
  RawWs slow(server.port(), 4096);
  slow.upgrade();
  slow.send_text(R"({"type":"subscribe","id":1,"channel":"firehose"})");
  auto good = WsClient::connect("127.0.0.1", server.port());
  good->subscribe("firehose");
  auto publisher = WsClient::connect("127.0.0.1", server.port());
  const std::string payload(1000, 'p');
  auto slow_consumers = [&] {
    return json::parse(client::http_request("127.0.0.1", server.port(), "GET", "/api/stats").body)
        .at("slow_consumers")
        .to_number<int>();
  };
  // Fire-and-forget publishes until the server gives up on the slow one (bounded loop).
  int published = 0;
  while (slow_consumers() == 0 && published < 50000) {
    for (int i = 0; i < 50; ++i, ++published)
      publisher->send_text(R"({"type":"publish","channel":"firehose","data":")" + payload + "\"}");
    // Make sure those were handled before asking the stats.
    ASSERT_TRUE(publisher->request(json::object{{"type", "ping"}}));
  }
  ASSERT_EQ(slow_consumers(), 1) << "after " << published << " messages";
  // The good subscriber got every message, in order.
  for (int i = 1; i <= published; ++i) {
    auto m = good->receive_type("message");
    ASSERT_TRUE(m) << i << " closed=" << good->closed() << " code=" << good->wait_closed(std::chrono::milliseconds(1)).value_or(-5);
    ASSERT_EQ(m->at("offset"), i);
  }
  // The slow one, once it reads, finds the close frame 4001 after what had reached its socket.
  EXPECT_EQ(slow.read_until_close(std::chrono::seconds(10)), 4001);
}

TEST(Lifecycle, APeerThatDoesNotAnswerPingsIsClosedWith4002) {
  TestServer server([](server::Config& c) {
    c.limits.ping_interval = std::chrono::seconds(1);
    c.limits.ping_timeout = std::chrono::seconds(1);
  });
  auto healthy = WsClient::connect("127.0.0.1", server.port());  // Beast answers pings by itself
  RawWs silent(server.port());
  silent.upgrade();
  bool saw_ping = false;
  int close_code = -1;
  for (;;) {
    auto f = silent.read_frame(std::chrono::seconds(6));
    if (!f) break;
    if (f->opcode == 0x9) saw_ping = true;
    if (f->opcode == 0x8) {
      close_code = f->close_code();
      break;
    }
  }
  EXPECT_TRUE(saw_ping);
  EXPECT_EQ(close_code, 4002);
  EXPECT_FALSE(healthy->closed());
  auto pong = healthy->request(json::object{{"type", "ping"}});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->at("type"), "pong");
}

TEST(Lifecycle, AClientThatNeverFinishesTheUpgradeIsDropped) {
  TestServer server([](server::Config& c) { c.limits.handshake_timeout = std::chrono::seconds(1); });
  RawWs idle(server.port());
  idle.write("GET /ws HTTP/1.1\r\nHost: x\r\n");  // and nothing more
  auto start = std::chrono::steady_clock::now();
  char byte;
  boost::system::error_code ec;
  idle.socket().read_some(boost::asio::buffer(&byte, 1), ec);  // returns when the server closes
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(Lifecycle, SigtermClosesClientsWith1001AndExitsZero) {
  const std::uint16_t port = free_port();
  const std::string log = ::testing::TempDir() + "sigterm.log";
  Child child({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
               ::testing::TempDir() + "sigterm-data", "--log-level", "info"},
              log);
  ASSERT_TRUE(Child::wait_healthy(port));
  auto a = WsClient::connect("127.0.0.1", port);
  auto b = WsClient::connect("127.0.0.1", port);
  a->subscribe("x");
  child.signal(SIGTERM);
  EXPECT_EQ(a->wait_closed(), 1001);
  EXPECT_EQ(b->wait_closed(), 1001);
  EXPECT_EQ(child.wait_exit(), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("stopped"), std::string::npos);
}

TEST(Lifecycle, ASecondServerOnATakenPortFailsToStart) {
  TestServer first;
  server::Config config;
  config.listen = "127.0.0.1:" + std::to_string(first.port());
  config.data_dir = ::testing::TempDir() + "second-server";
  server::App second(config);
  EXPECT_THROW(second.start(), std::exception);
  const std::string log = ::testing::TempDir() + "taken.log";
  Child child({"serve", "--listen", config.listen, "--data-dir", config.data_dir + "-child"}, log);
  EXPECT_EQ(child.wait_exit(), 1);
  EXPECT_NE(read_file(log).find("Address already in use"), std::string::npos) << read_file(log);
}

TEST(Lifecycle, ASecondServerOnTheSameDataDirDoesNotStart) {
  TestServer first;
  server::Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = first.app().config().data_dir;
  try {
    server::App second(config);
    FAIL() << "a second server started on the same data dir";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another switchboard"), std::string::npos) << e.what();
  }
}

TEST(Lifecycle, ABadConfigIsOneClearErrorAndExitCode2) {
  const std::string dir = ::testing::TempDir();
  {
    std::ofstream(dir + "bad.toml") << "listen = \"127.0.0.1:0\"\n[limits]\nping_intervall = 3\n";
  }
  Child child({"serve", "--config", dir + "bad.toml"}, dir + "bad.log");
  EXPECT_EQ(child.wait_exit(), 2);
  EXPECT_NE(read_file(dir + "bad.log").find("limits.ping_intervall: unknown key"), std::string::npos)
      << read_file(dir + "bad.log");

  Child flags({"serve", "--listen", "nonsense"}, dir + "flags.log");
  EXPECT_EQ(flags.wait_exit(), 2);
  EXPECT_NE(read_file(dir + "flags.log").find("listen"), std::string::npos);

  // check-config loads the files a config names, as serve would.
  {
    std::ofstream(dir + "keys.toml") << "[auth]\njwks_file = \"/nonexistent/jwks.json\"\n";
  }
  Child check({"check-config", "--config", dir + "keys.toml"}, dir + "check.log");
  EXPECT_EQ(check.wait_exit(), 2);
  EXPECT_NE(read_file(dir + "check.log").find("auth"), std::string::npos) << read_file(dir + "check.log");
}

}  // namespace
}  // namespace sb::test
