#include "session/limits.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace sb::session {
namespace {

TEST(TokenBucket, AllowsTheBurstThenTheRateAndSaysWhenToRetry) {
  TokenBucket bucket(10, 3);  // 10/s, burst 3
  auto t = std::chrono::steady_clock::now();
  std::int64_t retry = 0;
  EXPECT_TRUE(bucket.take(t, retry));
  EXPECT_TRUE(bucket.take(t, retry));
  EXPECT_TRUE(bucket.take(t, retry));
  EXPECT_FALSE(bucket.take(t, retry));
  EXPECT_EQ(retry, 100);  // one token every 100 ms
  EXPECT_TRUE(bucket.take(t + std::chrono::milliseconds(100), retry));
  EXPECT_FALSE(bucket.take(t + std::chrono::milliseconds(100), retry));
}

TEST(Admission, CapsConnectionsInTotalAndPerAddress) {
  Admission admission(3, 2, RateLimits{});
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ok);
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ok);
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ip_full);
  EXPECT_EQ(admission.admit("b"), Admission::Verdict::ok);
  EXPECT_EQ(admission.admit("c"), Admission::Verdict::server_full);
  admission.release("a");
  EXPECT_EQ(admission.connections(), 2u);
  EXPECT_EQ(admission.admit("c"), Admission::Verdict::ok);
}

TEST(TokenBucket, RefillsAtItsRateUpToTheBurstOnly) {
  TokenBucket bucket(10, 2);
  auto t = std::chrono::steady_clock::now();
  std::int64_t retry = 0;
  EXPECT_TRUE(bucket.take(t, retry));
  EXPECT_TRUE(bucket.take(t, retry));
  // A long pause saves up the burst, no more.
  const auto later = t + std::chrono::seconds(60);
  EXPECT_TRUE(bucket.take(later, retry));
  EXPECT_TRUE(bucket.take(later, retry));
  EXPECT_FALSE(bucket.take(later, retry));
  EXPECT_EQ(retry, 100);
  // Half a token's time: still none, and the wait left is the other half.
  EXPECT_FALSE(bucket.take(later + std::chrono::milliseconds(50), retry));
  EXPECT_EQ(retry, 50);
}

TEST(Admission, CountsRefusalsAndForgetsAnAddressWithNoConnectionLeft) {
  Admission admission(10, 1, RateLimits{});
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ok);
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ip_full);
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ip_full);
  EXPECT_EQ(admission.refused(), 2u);
  EXPECT_EQ(admission.connections(), 1u);  // a refusal holds no place
  admission.release("a");
  EXPECT_EQ(admission.connections(), 0u);
  EXPECT_EQ(admission.admit("a"), Admission::Verdict::ok);
}

TEST(Admission, AUsersBudgetSpansItsConnectionsAndIsSeparateFromOthers) {
  Admission admission(10, 10, RateLimits{1000, 2000, /*per_user=*/1, /*per_user_burst=*/2});
  std::int64_t retry = 0;
  EXPECT_TRUE(admission.take_user("alice", retry));
  EXPECT_TRUE(admission.take_user("alice", retry));
  EXPECT_FALSE(admission.take_user("alice", retry));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 1000);  // one token a second
  EXPECT_TRUE(admission.take_user("bob", retry));
  EXPECT_EQ(admission.rates().per_connection, 1000);
}

TEST(Admission, NoPerUserLimitWhenItsRateIsZero) {
  Admission admission(10, 10, RateLimits{1000, 2000, /*per_user=*/0, /*per_user_burst=*/0});
  std::int64_t retry = 0;
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(admission.take_user("alice", retry)) << i;
}

TEST(Admission, RateLimitedRequestsAreCountedAcrossSessions) {
  Admission admission(10, 10, RateLimits{});
  admission.note_rate_limited();
  admission.note_rate_limited();
  EXPECT_EQ(admission.rate_limited(), 2u);
}

}  // namespace
}  // namespace sb::session
