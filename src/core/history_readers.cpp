#include "core/history_readers.hpp"

namespace sb::core {

HistoryReaders::HistoryReaders(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

HistoryReaders::~HistoryReaders() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

bool HistoryReaders::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_queued_) {
      ++refused_;
      return false;
    }
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

std::uint64_t HistoryReaders::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

std::size_t HistoryReaders::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void HistoryReaders::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to run
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // whatever it captured goes now, not when the next job arrives
    lock.lock();
  }
}

}  // namespace sb::core
