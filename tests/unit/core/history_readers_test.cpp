// The history readers: reads run off the caller's thread, and a full queue refuses at once.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "core/history_readers.hpp"

namespace sb::core {
namespace {

TEST(HistoryReaders, RefusesBeyondTheQueueAndRunsEverythingItTook) {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  {
    HistoryReaders readers(1, 2);
    // The only thread is busy with the first job; two more may wait, the fourth may not.
    ASSERT_TRUE(readers.submit([&] {
      started.set_value();
      released.wait();
      ++ran;
    }));
    started.get_future().wait();
    EXPECT_TRUE(readers.submit([&] { ++ran; }));
    EXPECT_TRUE(readers.submit([&] { ++ran; }));
    EXPECT_FALSE(readers.submit([&] { ++ran; }));
    EXPECT_EQ(readers.refused(), 1u);
    EXPECT_EQ(readers.queued(), 2u);
    release.set_value();
  }  // the destructor runs what is queued, then joins
  EXPECT_EQ(ran, 3);
}

}  // namespace
}  // namespace sb::core
