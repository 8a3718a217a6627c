// The dispatcher against a fake send function: batches, signatures, the backoff schedule,
// retries until the deadline, bounded queues. Short real durations; waits have deadlines.
#include "backend/webhook_dispatcher.hpp"
#include "backend/webhook_signature.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json.hpp>
#include <deque>
#include <mutex>
#include <thread>

#include "common/clock.hpp"
#include "support/waiting.hpp"

namespace sb::backend {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Request {
  std::string url;
  std::string body;
  Headers headers;
  std::chrono::steady_clock::time_point at;
  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    const json::value parsed = json::parse(body);
    for (const auto& e : parsed.at("events").as_array()) out.emplace_back(e.at("n").as_string());
    return out;
  }
};

// Records each request; answers it at once with the next of `answers` (true when none is
// left), or holds it when `hold` is set.
class FakeBackend {
 public:
  SendFunction send() {
    return [this](std::string url, std::string body, Headers headers, std::function<void(bool)> done) {
      std::unique_lock lock(mutex);
      requests.push_back(Request{std::move(url), std::move(body), std::move(headers), std::chrono::steady_clock::now()});
      if (hold) {
        held.push_back(std::move(done));
        return;
      }
      bool ok = true;
      if (!answers.empty()) {
        ok = answers.front();
        answers.pop_front();
      }
      if (always_fail) ok = false;
      lock.unlock();
      done(ok);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return requests.size();
  }
  Request at(std::size_t i) {
    std::lock_guard lock(mutex);
    return requests.at(i);
  }
  std::mutex mutex;
  std::vector<Request> requests;
  std::deque<bool> answers;
  bool always_fail = false;
  bool hold = false;
  std::vector<std::function<void(bool)>> held;
};

class DispatcherTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  FakeBackend backend;
  DispatcherOptions options;
  std::unique_ptr<WebhookDispatcher> dispatcher;

  DispatcherTest() {
    options.urls = {"http://backend.test/hooks"};
    options.secret = "0123456789abcdef-secret";
    options.batch_interval = 1h;  // only full batches leave, unless a test says otherwise
    options.first_backoff = 10ms;
    options.max_backoff = 40ms;
  }
  void make() { dispatcher = std::make_unique<WebhookDispatcher>(io, options, backend.send()); }
  void run() { thread = std::thread([this] { io.run(); }); }
  ~DispatcherTest() override {
    dispatcher.reset();
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  static std::string event(int n) { return R"({"n":")" + std::to_string(n) + R"("})"; }
};

TEST_F(DispatcherTest, SendsFullBatchesInOrderAndKeepsTheRestForTheInterval) {
  options.batch_size = 3;
  make();
  for (int i = 1; i <= 7; ++i) EXPECT_TRUE(dispatcher->enqueue(event(i)));
  run();
  ASSERT_TRUE(test::eventually([&] { return backend.count() == 2 && dispatcher->counters().sent == 6; }));
  EXPECT_EQ(backend.at(0).events(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(backend.at(1).events(), (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(backend.at(0).url, "http://backend.test/hooks");
  EXPECT_EQ(dispatcher->counters().queued, 1u);  // the 7th waits for a full batch or the hour
  std::this_thread::sleep_for(50ms);  // a bounded look for a request that must not come
  EXPECT_EQ(backend.count(), 2u);
}

TEST_F(DispatcherTest, APartialBatchLeavesOnceItsOldestEventWaitedTheInterval) {
  options.batch_size = 100;
  options.batch_interval = 60ms;
  make();
  run();
  const auto queued_at = std::chrono::steady_clock::now();
  dispatcher->enqueue(event(1));
  dispatcher->enqueue(event(2));
  ASSERT_TRUE(test::eventually([&] { return backend.count() == 1; }));
  EXPECT_GE(backend.at(0).at - queued_at, 55ms);
  EXPECT_EQ(backend.at(0).events(), (std::vector<std::string>{"1", "2"}));
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().sent == 2; }));
  EXPECT_EQ(dispatcher->counters().queued, 0u);
}

TEST_F(DispatcherTest, EveryRequestIsSignedOverTimestampDotBody) {
  options.batch_size = 1;
  make();
  run();
  dispatcher->enqueue(event(1));
  ASSERT_TRUE(test::eventually([&] { return backend.count() == 1; }));
  const Request r = backend.at(0);
  EXPECT_EQ(r.body, R"({"events":[{"n":"1"}]})");
  const std::string timestamp = r.header("X-Switchboard-Timestamp");
  const std::string signature = r.header("X-Switchboard-Signature");
  const std::int64_t now = unix_millis() / 1000;
  EXPECT_LE(std::llabs(std::stoll(timestamp) - now), 2);
  EXPECT_EQ(signature, sign_webhook(options.secret, std::stoll(timestamp), r.body));
  EXPECT_TRUE(verify_webhook(options.secret, timestamp, r.body, signature, now));
  EXPECT_FALSE(verify_webhook("another-secret-0123", timestamp, r.body, signature, now));
  EXPECT_FALSE(verify_webhook(options.secret, timestamp, r.body + " ", signature, now));
  EXPECT_FALSE(verify_webhook(options.secret, timestamp, r.body, signature, now + 301));  // replayed later
}

TEST(BackoffDelay, DoublesFromTheFirstUpToTheMaximumWithJitterInTheUpperHalf) {
  EXPECT_EQ(backoff_delay(1, 500ms, 30s, 0.0), 250ms);
  EXPECT_EQ(backoff_delay(1, 500ms, 30s, 0.5), 375ms);
  EXPECT_EQ(backoff_delay(2, 500ms, 30s, 0.0), 500ms);
  EXPECT_EQ(backoff_delay(3, 500ms, 30s, 0.0), 1000ms);
  EXPECT_EQ(backoff_delay(7, 500ms, 30s, 0.0), 15s);  // 32 s, capped at 30 s, lower half cut
  EXPECT_EQ(backoff_delay(60, 500ms, 30s, 0.0), 15s);  // no overflow however many retries
  EXPECT_LE(backoff_delay(60, 500ms, 30s, 0.999), 30s);
}

TEST_F(DispatcherTest, AFailedBatchIsRetriedWithTheSameEventsUntilItGoesThrough) {
  options.batch_size = 2;
  backend.answers = {false, false, true};
  make();
  run();
  dispatcher->enqueue(event(1));
  dispatcher->enqueue(event(2));
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().sent == 2; }));
  ASSERT_EQ(backend.count(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(backend.at(i).events(), (std::vector<std::string>{"1", "2"}));
  // The waits grow: first_backoff then twice it, each at least half of its step.
  EXPECT_GE(backend.at(1).at - backend.at(0).at, 5ms);
  EXPECT_GE(backend.at(2).at - backend.at(1).at, 10ms);
  const auto c = dispatcher->counters();
  EXPECT_EQ(c.failed, 2u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
}

TEST_F(DispatcherTest, ABatchIsDroppedWhenRetryForRunsOutAndTheNextOneGoes) {
  options.batch_size = 1;
  options.retry_for = 150ms;
  backend.always_fail = true;
  make();
  run();
  const auto start = std::chrono::steady_clock::now();
  dispatcher->enqueue(event(1));
  dispatcher->enqueue(event(2));
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().dropped == 1; }));
  const auto dropped_after = std::chrono::steady_clock::now() - start;
  EXPECT_GE(dropped_after, 150ms);
  EXPECT_LT(dropped_after, 1s);
  // Retried meanwhile, every attempt with event 1 until event 2's turn; the last one at the deadline.
  std::vector<std::chrono::steady_clock::time_point> attempts;
  {
    std::lock_guard lock(backend.mutex);
    for (const auto& r : backend.requests)
      if (r.events() == std::vector<std::string>{"1"}) attempts.push_back(r.at);
  }
  EXPECT_GE(attempts.size(), 3u);
  EXPECT_GE(dispatcher->counters().failed, attempts.size());
  EXPECT_GE(attempts.back() - attempts.front(), 145ms);
  // Then event 2 gets its turn; once the backend is back it goes through.
  {
    std::lock_guard lock(backend.mutex);
    backend.always_fail = false;
  }
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().sent == 1; }));
  EXPECT_EQ(backend.at(backend.count() - 1).events(), std::vector<std::string>{"2"});
  EXPECT_EQ(dispatcher->counters().queued, 0u);
}

TEST_F(DispatcherTest, AnAttemptNotAnsweredWithinTheTimeoutFailsAndItsLateAnswerIsIgnored) {
  options.batch_size = 1;
  options.timeout = 30ms;
  backend.hold = true;  // a backend that never answers
  make();
  run();
  dispatcher->enqueue(event(1));
  ASSERT_TRUE(test::eventually([&] { return backend.count() >= 2; }));  // timed out, retried
  EXPECT_GE(backend.at(1).at - backend.at(0).at, 30ms);
  EXPECT_GE(dispatcher->counters().failed, 1u);
  std::function<void(bool)> late;
  {
    std::lock_guard lock(backend.mutex);
    late = backend.held.at(0);
    backend.hold = false;
  }
  late(true);  // the first attempt's answer, after its deadline: not a delivery
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(dispatcher->counters().sent, 0u);
  EXPECT_EQ(dispatcher->counters().queued, 1u);
  // The next attempt is answered at once and delivers.
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().sent == 1; }));
}

TEST_F(DispatcherTest, AFullQueueDropsAndCountsNewEvents) {
  options.batch_size = 1;
  options.max_queue = 5;
  backend.hold = true;  // the first request never answers: everything else waits behind it
  make();
  run();
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(dispatcher->enqueue(event(i)));
  for (int i = 6; i <= 10; ++i) EXPECT_FALSE(dispatcher->enqueue(event(i)));
  const auto c = dispatcher->counters();
  EXPECT_EQ(c.queued, 5u);
  EXPECT_EQ(c.dropped, 5u);
  ASSERT_TRUE(test::eventually([&] { return backend.count() == 1; }));
  EXPECT_EQ(backend.at(0).events(), std::vector<std::string>{"1"});
}

TEST_F(DispatcherTest, TheQueueIsBoundedInBytesToo) {
  options.batch_size = 1;
  options.max_queue_bytes = 100;
  backend.hold = true;
  make();
  const std::string big = R"({"n":")" + std::string(60, 'x') + R"("})";
  EXPECT_TRUE(dispatcher->enqueue(big));
  EXPECT_FALSE(dispatcher->enqueue(big));  // 2 x 68 bytes > 100
  EXPECT_TRUE(dispatcher->enqueue(event(1)));
  EXPECT_EQ(dispatcher->counters().dropped, 1u);
  EXPECT_EQ(dispatcher->counters().queued, 2u);
}

TEST_F(DispatcherTest, EachTargetGetsEveryEventAndADownTargetDoesNotHoldUpTheOther) {
  options.urls = {"http://down.test/", "http://up.test/"};
  options.batch_size = 1;
  options.retry_for = 10s;
  // down.test fails every time; up.test answers 2xx.
  dispatcher = std::make_unique<WebhookDispatcher>(
      io, options, [this](std::string url, std::string body, Headers headers, std::function<void(bool)> done) {
        const bool ok = url == "http://up.test/";
        backend.send()(std::move(url), std::move(body), std::move(headers), [](bool) {});
        done(ok);
      });
  run();
  for (int i = 1; i <= 3; ++i) dispatcher->enqueue(event(i));
  ASSERT_TRUE(test::eventually([&] { return dispatcher->counters().sent == 3; }));
  std::vector<std::string> up;
  std::lock_guard lock(backend.mutex);
  for (const auto& r : backend.requests)
    if (r.url == "http://up.test/") up.push_back(r.events().at(0));
  EXPECT_EQ(up, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_GE(dispatcher->counters().failed, 1u);
  EXPECT_EQ(dispatcher->counters().queued, 3u);  // still owed to down.test
}

TEST_F(DispatcherTest, AnAnswerAfterTheDispatcherIsGoneIsIgnored) {
  options.batch_size = 1;
  backend.hold = true;
  make();
  run();
  dispatcher->enqueue(event(1));
  ASSERT_TRUE(test::eventually([&] { return backend.count() == 1; }));
  dispatcher.reset();
  std::function<void(bool)> done;
  {
    std::lock_guard lock(backend.mutex);
    done = std::move(backend.held.at(0));
  }
  done(false);  // posts to the io_context, which runs it against the stopped state
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(backend.count(), 1u);  // no retry
}

}  // namespace
}  // namespace sb::backend
