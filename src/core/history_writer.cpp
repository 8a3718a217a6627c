#include "core/history_writer.hpp"

#include "common/clock.hpp"

namespace sb::core {

HistoryWriter::HistoryWriter(HistoryStore& store, OnDone on_done)
    : store_(store), on_done_(std::move(on_done)), thread_([this] { run(); }) {}

HistoryWriter::~HistoryWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void HistoryWriter::enqueue(PendingPublication publication) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(publication));
  }
  if (was_empty) wake_.notify_one();
}

void HistoryWriter::run() {
  std::vector<PendingPublication> batch;
  std::vector<HistoryEntry> entries;
  std::int64_t last_expiry = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Wake at least once a second to expire old messages.
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    const std::int64_t now = unix_millis();
    if (now - last_expiry >= 1000) {
      store_.expire(now);
      last_expiry = now;
    }
    if (batch.empty()) continue;
    entries.clear();
    entries.reserve(batch.size());
    for (auto& p : batch) entries.push_back(std::move(p.entry));
    Status status = store_.append(entries);
    on_done_(batch, entries, status);
    batch.clear();
  }
}

}  // namespace sb::core
