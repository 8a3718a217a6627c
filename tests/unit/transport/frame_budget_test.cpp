#include "transport/frame_budget.hpp"

#include <gtest/gtest.h>

namespace sb::transport {
namespace {

constexpr std::int64_t second = 1'000'000'000;

int spend_all(FrameBudget& budget) {
  int n = 0;
  while (budget.take() == FrameBudget::Verdict::ok) ++n;
  return n;
}

TEST(FrameBudget, ABurstThenTheRate) {
  FrameBudget budget;
  budget.start(10, 0);
  EXPECT_EQ(spend_all(budget), 10);
  EXPECT_EQ(budget.take(), FrameBudget::Verdict::too_fast);
  budget.refill(4, 10, second / 2);  // half a second at 4/s: 2 frames
  EXPECT_EQ(spend_all(budget), 2);
  budget.refill(4, 10, 100 * second);  // a long pause saves up no more than the burst
  EXPECT_EQ(spend_all(budget), 10);
}

TEST(FrameBudget, UntrustedPeersGetAFewFramesWhateverTheRate) {
  FrameBudget budget;
  budget.start(1e9, 0);
  budget.limit_until_trusted(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(budget.take(), FrameBudget::Verdict::ok);
  EXPECT_EQ(budget.take(), FrameBudget::Verdict::untrusted_spent);
  budget.trust();
  EXPECT_EQ(budget.take(), FrameBudget::Verdict::ok);
}

TEST(FrameBudget, TrustDoesNotRefillTheBucket) {
  FrameBudget budget;
  budget.start(2, 0);
  budget.limit_until_trusted(100);
  EXPECT_EQ(spend_all(budget), 2);
  budget.trust();
  EXPECT_EQ(budget.take(), FrameBudget::Verdict::too_fast);
}

}  // namespace
}  // namespace sb::transport
