#include "storage/memory_history.hpp"

#include "common/clock.hpp"
#include "common/random.hpp"

namespace sb::storage {

Result<core::StreamPosition> MemoryHistory::position(std::string_view channel) {
  std::shared_lock lock(mutex_);
  auto it = logs_.find(std::string(channel));
  if (it == logs_.end()) return core::StreamPosition{0, keyed_hex(epoch_salt_, channel, 6)};
  return core::StreamPosition{it->second.last_offset, it->second.epoch};
}

Status MemoryHistory::append(std::span<const core::HistoryEntry> entries) {
  std::unique_lock lock(mutex_);
  for (const auto& e : entries) {
    Log& log = logs_[e.channel];
    log.epoch = e.epoch;
    log.last_offset = e.offset;
    const std::int64_t expires = e.policy.ttl.count() > 0 ? e.ts + e.policy.ttl.count() * 1000 : 0;
    log.messages.push_back(Kept{core::StoredMessage{e.offset, e.ts, e.data, e.from, e.tags}, expires});
    while (log.messages.size() > e.policy.size) log.messages.pop_front();
  }
  return Ok{};
}

Result<core::HistoryPage> MemoryHistory::read(std::string_view channel, const core::HistoryQuery& q) {
  std::shared_lock lock(mutex_);
  core::HistoryPage page;
  auto it = logs_.find(std::string(channel));
  if (it == logs_.end()) {
    lock.unlock();
    auto p = position(channel);
    page.position = *p;
    return page;
  }
  const Log& log = it->second;
  page.position = core::StreamPosition{log.last_offset, log.epoch};
  const std::int64_t now = unix_millis();
  auto live = [now](const Kept& k) { return k.expires == 0 || k.expires > now; };
  for (const auto& k : log.messages)
    if (live(k)) {
      page.first_offset = k.message.offset;
      break;
    }
  auto in_range = [&q](std::uint64_t o) { return o > q.after && (q.before == 0 || o < q.before); };
  core::PageFiller fill(page, q);
  if (q.newest_first) {
    for (auto r = log.messages.rbegin(); r != log.messages.rend(); ++r)
      if (live(*r) && in_range(r->message.offset) && !fill.add(r->message)) break;
  } else {
    for (const auto& k : log.messages)
      if (live(k) && in_range(k.message.offset) && !fill.add(k.message)) break;
  }
  return page;
}

void MemoryHistory::expire(std::int64_t now_ms) {
  std::unique_lock lock(mutex_);
  for (auto& [name, log] : logs_)
    while (!log.messages.empty() && log.messages.front().expires != 0 && log.messages.front().expires <= now_ms)
      log.messages.pop_front();
}

}  // namespace sb::storage
