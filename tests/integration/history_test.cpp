// History, recovery and durability over real sockets and a real SQLite file.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/ws_client.hpp"
#include "support/child_process.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

void keep_history(server::Config& c) {
  core::NamespaceOptions chat{"chat", true};
  chat.history.size = 10000;
  c.namespaces.push_back(chat);
}

json::object subscribe_since(WsClient& c, const std::string& channel, std::uint64_t offset, const std::string& epoch) {
  auto reply = c.request(json::object{{"type", "subscribe"},
                                      {"channel", channel},
                                      {"since", json::object{{"offset", offset}, {"epoch", epoch}}}});
  EXPECT_TRUE(reply);
  return reply ? *reply : json::object{};
}

TEST(History, AClientThatReconnectsGetsEveryMissedMessageOnceInOrderWhileTrafficFlows) {
  TestServer server(keep_history);
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  // A publisher that never pauses, across the whole disconnect and reconnect.
  std::thread publisher([&] {
    auto p = WsClient::connect("127.0.0.1", server.port());
    while (!stop) {
      p->publish("chat:live", json::value(sent.load() + 1));
      ++sent;
    }
  });
  std::uint64_t last = 0;
  std::string epoch;
  {
    auto c = WsClient::connect("127.0.0.1", server.port());
    auto reply = c->request(json::object{{"type", "subscribe"}, {"channel", "chat:live"}});
    ASSERT_TRUE(reply);
    epoch = std::string(reply->at("epoch").as_string());
    last = reply->at("offset").to_number<std::uint64_t>();
    for (int i = 0; i < 50; ++i) {
      auto m = c->receive_type("message");
      ASSERT_TRUE(m);
      ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), last + 1);
      last = m->at("offset").to_number<std::uint64_t>();
    }
  }  // the connection drops; messages keep coming
  ASSERT_TRUE(eventually([&] { return sent.load() > static_cast<int>(last) + 200; }));

  auto c = WsClient::connect("127.0.0.1", server.port());
  auto reply = subscribe_since(*c, "chat:live", last, epoch);
  EXPECT_EQ(reply.at("type"), "subscribed");
  EXPECT_EQ(reply.at("recovered"), true);
  EXPECT_EQ(reply.at("epoch").as_string(), epoch);
  // Recovered then live, one sequence: every offset once, in order, well past the reconnection.
  const std::uint64_t until = last + 1000;
  while (last < until) {
    auto m = c->receive_type("message");
    ASSERT_TRUE(m) << "after offset " << last;
    ASSERT_EQ(m->at("offset").to_number<std::uint64_t>(), last + 1);
    ASSERT_EQ(m->at("data").to_number<std::uint64_t>(), last + 1);  // the payload of that offset
    last = m->at("offset").to_number<std::uint64_t>();
  }
  stop = true;
  publisher.join();
}

TEST(History, RecoveryReportsAnUnknownEpochOrAGapTooOld) {
  TestServer server([](server::Config& c) {
    core::NamespaceOptions small{"small", true};
    small.history.size = 3;
    c.namespaces.push_back(small);
  });
  auto c = WsClient::connect("127.0.0.1", server.port());
  std::string epoch;
  for (int i = 1; i <= 10; ++i) {
    auto r = json::parse(http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                                      R"({"channel":"small:x","data":)" + std::to_string(i) + "}")
                             .body);
    epoch = std::string(r.at("epoch").as_string());
    EXPECT_EQ(r.at("offset"), i);
  }
  auto too_old = subscribe_since(*c, "small:x", 2, epoch);
  EXPECT_EQ(too_old.at("recovered"), false);
  EXPECT_EQ(too_old.at("offset"), 10);
  auto other = WsClient::connect("127.0.0.1", server.port());
  auto wrong_epoch = subscribe_since(*other, "small:x", 9, "ffffffffffff");
  EXPECT_EQ(wrong_epoch.at("recovered"), false);
  EXPECT_EQ(wrong_epoch.at("epoch").as_string(), epoch);
  auto third = WsClient::connect("127.0.0.1", server.port());
  auto fine = subscribe_since(*third, "small:x", 7, epoch);
  EXPECT_EQ(fine.at("recovered"), true);
  for (int o = 8; o <= 10; ++o) EXPECT_EQ(third->receive_type("message")->at("offset"), o);
}

TEST(History, ARecoveryTooLargeForTheSendQueueIsRefusedAndTheConnectionStays) {
  TestServer server([](server::Config& c) {
    keep_history(c);
    c.limits.max_send_queue = 64 * 1024;
  });
  auto c = WsClient::connect("127.0.0.1", server.port());
  auto first = c->request(json::object{{"type", "subscribe"}, {"channel", "chat:big"}});
  const std::string epoch(first->at("epoch").as_string());
  c->request(json::object{{"type", "unsubscribe"}, {"channel", "chat:big"}});
  const std::string kb(1000, 'k');
  for (int i = 0; i < 100; ++i) c->publish("chat:big", json::value(kb));  // 100 KB: over half the queue
  auto reply = subscribe_since(*c, "chat:big", 0, epoch);
  EXPECT_EQ(reply.at("recovered"), false);
  // A history page is cut to fit, and says how far it got.
  auto page = c->request(json::object{{"type", "history"}, {"channel", "chat:big"}, {"limit", 1000}});
  ASSERT_TRUE(page);
  auto n = page->at("messages").as_array().size();
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, 100u);
  EXPECT_FALSE(c->closed());
}

TEST(History, PagesThroughHistoryOverTheProtocolAndHttp) {
  TestServer server(keep_history);
  for (int i = 1; i <= 25; ++i)
    http_request("127.0.0.1", server.port(), "POST", "/api/publish",
                 R"({"channel":"chat:p","data":{"n":)" + std::to_string(i) + "}}");
  auto c = WsClient::connect("127.0.0.1", server.port());
  auto page = c->request(json::object{{"type", "history"}, {"channel", "chat:p"}, {"since", 5}, {"limit", 10}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->at("type"), "history");
  EXPECT_EQ(page->at("offset"), 25);
  EXPECT_EQ(page->at("first_offset"), 1);
  auto& messages = page->at("messages").as_array();
  ASSERT_EQ(messages.size(), 10u);
  EXPECT_EQ(messages[0].at("offset"), 6);
  EXPECT_EQ(messages[0].at("data").at("n"), 6);
  EXPECT_EQ(messages[9].at("offset"), 15);

  auto newest = json::parse(
      http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=chat%3Ap&limit=3&reverse=true").body);
  auto& list = newest.at("messages").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("offset"), 25);
  EXPECT_EQ(list[2].at("offset"), 23);
  auto older = json::parse(
      http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=chat:p&limit=3&reverse=true&before=23").body);
  EXPECT_EQ(older.at("messages").as_array()[0].at("offset"), 22);

  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/api/history").status, 400);
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=chat:p&limit=0").status, 400);
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=chat:p&since=x").status, 400);
  auto bad = c->request(json::object{{"type", "history"}, {"channel", "chat:p"}, {"limit", -1}});
  EXPECT_EQ(bad->at("code"), "INVALID_MESSAGE");
}

// Writes a config with a history namespace for the child process.
std::string history_config(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/sb.toml") << "[namespaces.crud]\nhistory_size = 100000\n";
  return dir + "/sb.toml";
}

TEST(Durability, EveryAcknowledgedOffsetSurvivesKill9AndARestart) {
  const std::string dir = ::testing::TempDir() + "durability-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const std::string config = history_config(dir);
  const std::uint16_t port = free_port();
  const std::vector<std::string> args = {"serve", "--config", config, "--listen", "127.0.0.1:" + std::to_string(port),
                                         "--data-dir", dir + "/data", "--log-level", "warn"};
  std::vector<std::uint64_t> acknowledged;
  std::string epoch;
  {
    Child server(args, dir + "/first.log");
    ASSERT_TRUE(Child::wait_healthy(port));
    std::atomic<bool> killed{false};
    // Publishers race the kill: whatever got an offset back must be there after the restart.
    std::mutex mutex;
    std::vector<std::thread> publishers;
    for (int p = 0; p < 3; ++p) {
      publishers.emplace_back([&, p] {
        for (int i = 0; !killed; ++i) {
          try {
            auto r = http_request("127.0.0.1", port, "POST", "/api/publish",
                                  R"({"channel":"crud:orders","data":")" + std::to_string(p) + "-" +
                                      std::to_string(i) + "\"}");
            if (r.status != 200) continue;
            auto body = json::parse(r.body);
            std::lock_guard lock(mutex);
            acknowledged.push_back(body.at("offset").to_number<std::uint64_t>());
            epoch = std::string(body.at("epoch").as_string());
          } catch (const std::exception&) {
            return;  // the server is gone
          }
        }
      });
    }
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mutex);
      return acknowledged.size() >= 300;
    }));
    server.signal(SIGKILL);
    killed = true;
    for (auto& t : publishers) t.join();
    EXPECT_EQ(server.wait_exit(), -SIGKILL);
  }
  Child again(args, dir + "/second.log");
  ASSERT_TRUE(Child::wait_healthy(port));
  std::set<std::uint64_t> stored;
  std::string stored_epoch;
  for (std::uint64_t after = 0;;) {
    auto page = json::parse(http_request("127.0.0.1", port, "GET",
                                         "/api/history?channel=crud:orders&limit=1000&since=" + std::to_string(after))
                                .body);
    stored_epoch = std::string(page.at("epoch").as_string());
    auto& messages = page.at("messages").as_array();
    if (messages.empty()) break;
    for (auto& m : messages) stored.insert(m.at("offset").to_number<std::uint64_t>());
    after = messages.back().at("offset").to_number<std::uint64_t>();
  }
  EXPECT_EQ(stored_epoch, epoch);
  for (std::uint64_t o : acknowledged) EXPECT_TRUE(stored.count(o)) << "acknowledged offset " << o << " lost";
  // Offsets are contiguous: nothing missing in between either.
  ASSERT_FALSE(stored.empty());
  EXPECT_EQ(*stored.rbegin() - *stored.begin() + 1, stored.size());
  // And the channel goes on from there, same epoch, next offset.
  auto next = json::parse(
      http_request("127.0.0.1", port, "POST", "/api/publish", R"({"channel":"crud:orders","data":"after"})").body);
  EXPECT_EQ(next.at("offset"), *stored.rbegin() + 1);
  EXPECT_EQ(next.at("epoch").as_string(), epoch);
  std::filesystem::remove_all(dir);
}

TEST(Durability, AWipedHistoryGivesANewEpochAndRecoveryIsRefused) {
  const std::string dir = ::testing::TempDir() + "wipe-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const std::string config = history_config(dir);
  const std::uint16_t port = free_port();
  const std::vector<std::string> args = {"serve", "--config", config, "--listen", "127.0.0.1:" + std::to_string(port),
                                         "--data-dir", dir + "/data", "--log-level", "warn"};
  std::string epoch;
  {
    Child server(args, dir + "/first.log");
    ASSERT_TRUE(Child::wait_healthy(port));
    auto r = json::parse(
        http_request("127.0.0.1", port, "POST", "/api/publish", R"({"channel":"crud:x","data":1})").body);
    epoch = std::string(r.at("epoch").as_string());
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
  }
  std::filesystem::remove_all(dir + "/data");
  Child server(args, dir + "/second.log");
  ASSERT_TRUE(Child::wait_healthy(port));
  auto c = WsClient::connect("127.0.0.1", port);
  auto reply = subscribe_since(*c, "crud:x", 1, epoch);
  EXPECT_EQ(reply.at("recovered"), false);
  EXPECT_NE(reply.at("epoch").as_string(), epoch);
  EXPECT_EQ(reply.at("offset"), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sb::test
