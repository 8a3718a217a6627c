// The Redis link against a real redis-server: pipelining, errors as values, failing fast while
// Redis is down, reconnecting, pub/sub pushes.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <mutex>
#include <thread>

#include "broker/redis_link.hpp"
#include "support/redis_server.hpp"

namespace sb::broker {
namespace {

using test::eventually;
using test::RedisServer;

TEST(RedisUrl, ParsesHostPortPasswordAndDatabase) {
  auto a = parse_redis_url("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->password, "");
  auto b = parse_redis_url("redis://:s3cret@cache");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "cache");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->password, "s3cret");
  auto c = parse_redis_url("redis://app:pw@cache:7000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "app");
  EXPECT_EQ(c->password, "pw");
  EXPECT_EQ(c->port, 7000);
  auto d = parse_redis_url("redis://[::1]:6390");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 6390);
}

TEST(RedisUrl, AnErrorNeverShowsThePassword) {
  auto r = parse_redis_url("redis://:hunter2@cache:notaport");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("redis://***@cache:notaport"), std::string::npos) << r.error().message;
}

TEST(RedisUrl, RefusesWhatIsNotARedisUrl) {
  for (const char* bad : {"http://localhost", "redis://", "redis://host:0", "redis://host:99999", "redis://host:x",
                          "redis://host/db", "localhost:6379", "redis://[::1", "redis://[::1]6379", "redis://[::1]:", "redis://host:"}) {
    auto r = parse_redis_url(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::invalid_message);
    }
  }
}

// A link on its own io thread; calls are posted to it and waited for.
class LinkFixture {
 public:
  explicit LinkFixture(std::uint16_t port, RedisLink::PushHandler on_push = nullptr, std::string password = {}) {
    RedisAddress address;
    address.port = port;
    address.password = std::move(password);
    link_ = std::make_shared<RedisLink>(io_, RedisLink::Options{address, "test", std::chrono::milliseconds(500)},
                                        [this](bool up) { up_ = up; }, std::move(on_push));
    boost::asio::post(io_, [this] { link_->start(); });
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~LinkFixture() {
    boost::asio::post(io_, [this] {
      link_->stop();
      io_.stop();
    });
    thread_.join();
  }
  Result<RedisValue> call(std::vector<std::string> args) {
    std::promise<Result<RedisValue>> p;
    boost::asio::post(io_, [&] { link_->command(args, [&](Result<RedisValue> r) { p.set_value(std::move(r)); }); });
    return p.get_future().get();
  }
  // Sends all of them at once; the replies in the order they came.
  std::vector<Result<RedisValue>> pipeline(const std::vector<std::vector<std::string>>& commands) {
    std::vector<Result<RedisValue>> replies;
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      for (const auto& c : commands)
        link_->command(c, [&, n = commands.size()](Result<RedisValue> r) {
          replies.push_back(std::move(r));
          if (replies.size() == n) done.set_value();
        });
    });
    done.get_future().wait();
    return replies;
  }
  bool up() const { return up_; }

 private:
  boost::asio::io_context io_;
  std::shared_ptr<RedisLink> link_;
  std::thread thread_;
  std::atomic<bool> up_{false};
};

TEST(RedisLink, PipelinedCommandsAreAnsweredInOrder) {
  RedisServer redis;
  LinkFixture link(redis.port());
  ASSERT_TRUE(eventually([&] { return link.up(); }));
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 500; ++i) commands.push_back({"INCR", "counter"});
  auto replies = link.pipeline(commands);
  ASSERT_EQ(replies.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(replies[i]);
    EXPECT_EQ(replies[i]->integer, i + 1);
  }
  // Binary-safe arguments: a value with CRLF and NUL comes back as it went.
  const std::string odd("a\r\nb\0c", 6);
  ASSERT_TRUE(link.call({"SET", "odd", odd}));
  auto back = link.call({"GET", "odd"});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->str, odd);
}

TEST(RedisLink, AnErrorReplyIsAValueAndTheLinkStaysUp) {
  RedisServer redis;
  LinkFixture link(redis.port());
  ASSERT_TRUE(eventually([&] { return link.up(); }));
  auto r = link.call({"NOSUCHCOMMAND", "x"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::server_error);
  EXPECT_NE(r.error().message.find("unknown command"), std::string::npos) << r.error().message;
  auto ok = link.call({"PING"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->str, "PONG");
}

TEST(RedisLink, FailsFastWhileRedisIsDownAndReconnectsWhenItIsBack) {
  RedisServer redis;
  LinkFixture link(redis.port());
  ASSERT_TRUE(eventually([&] { return link.up(); }));
  ASSERT_TRUE(link.call({"SET", "k", "v"}));
  redis.kill_now();
  ASSERT_TRUE(eventually([&] { return !link.up(); }));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = link.call({"GET", "k"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100)) << "not queued behind a dead link";
  redis.start();
  ASSERT_TRUE(eventually([&] { return link.up(); }, std::chrono::seconds(10)));
  auto back = link.call({"GET", "k"});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->str, "v");  // from the append-only file
}

TEST(RedisLink, RedisSayingNotNowIsUnavailableNotAServerError) {
  RedisServer redis;
  ASSERT_EQ(redis.command({"CONFIG", "SET", "busy-reply-threshold", "50"}), "+OK");
  LinkFixture link(redis.port());
  ASSERT_TRUE(eventually([&] { return link.up(); }));
  // A script that runs too long makes Redis answer BUSY to everybody else.
  std::thread busy([&] { redis.command({"EVAL", "while true do end", "0"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = link.call({"GET", "k"});
  redis.command({"SCRIPT", "KILL"});
  busy.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable) << r.error().message;
  EXPECT_NE(r.error().message.find("BUSY"), std::string::npos) << r.error().message;
}

TEST(RedisLink, AWrongPasswordIsAFailedConnectionNotALinkThatIsUp) {
  RedisServer redis;
  ASSERT_EQ(redis.command({"CONFIG", "SET", "requirepass", "right-password"}), "+OK");
  LinkFixture wrong(redis.port(), nullptr, "wrong-password");
  LinkFixture right(redis.port(), nullptr, "right-password");
  ASSERT_TRUE(eventually([&] { return right.up(); }));
  auto r = right.call({"SET", "k", "v"});
  EXPECT_TRUE(r);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several reconnection attempts
  EXPECT_FALSE(wrong.up());
  auto refused = wrong.call({"GET", "k"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
}

TEST(RedisLink, APubSubLinkHandsMessagesToItsPushHandler) {
  RedisServer redis;
  std::mutex mutex;
  std::vector<std::string> got;
  LinkFixture subscriber(redis.port(), [&](RedisValue& m) {
    std::lock_guard lock(mutex);
    got.push_back(m.elements[1].str + "=" + m.elements[2].str);
  });
  LinkFixture publisher(redis.port());
  ASSERT_TRUE(eventually([&] { return subscriber.up() && publisher.up(); }));
  auto confirmed = subscriber.call({"SUBSCRIBE", "news"});
  ASSERT_TRUE(confirmed);
  EXPECT_EQ(confirmed->elements[0].str, "subscribe");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publisher.call({"PUBLISH", "news", std::to_string(i)}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return got.size() == 3;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"news=0", "news=1", "news=2"}));
  // Unsubscribing and subscribing again at once keeps the channel: the race hiredis's own
  // async context loses.
  auto replies = subscriber.pipeline({{"UNSUBSCRIBE", "news"}, {"SUBSCRIBE", "news"}});
  ASSERT_EQ(replies.size(), 2u);
  ASSERT_TRUE(publisher.call({"PUBLISH", "news", "again"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return got.size() == 4;
  }));
  EXPECT_EQ(got.back(), "news=again");
}

}  // namespace
}  // namespace sb::broker
