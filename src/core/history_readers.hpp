#pragma once
// A few threads that read history for the network threads. Reading a page may take a SQLite
// query over megabytes, or a round trip to Redis: done on a worker thread it would hold up every
// other connection of that worker (a /healthz behind ten large history reads took seconds). The
// requester hands its read here and gets the answer through its own callback, which posts it
// back to its thread.
//
// Bounded: at most `max_queued` reads wait; beyond that submit() refuses and the caller answers
// UNAVAILABLE (retryable), so a flood of reads costs a queue of closures, never a queue of pages.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sb::core {

class HistoryReaders {
 public:
  HistoryReaders(std::size_t threads, std::size_t max_queued);
  // Runs the reads still queued, then joins the threads: every submitted job runs once.
  ~HistoryReaders();
  HistoryReaders(const HistoryReaders&) = delete;
  HistoryReaders& operator=(const HistoryReaders&) = delete;

  // Any thread. Runs `job` on a reader thread, or returns false (and drops it) when max_queued
  // jobs are waiting already. A job must not throw and must not submit and wait on another.
  bool submit(std::function<void()> job);

  std::uint64_t refused() const;  // submits refused since start
  std::size_t queued() const;     // jobs waiting now

 private:
  void run();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::uint64_t refused_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace sb::core
