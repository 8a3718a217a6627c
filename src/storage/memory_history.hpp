#pragma once
// History kept in process memory: fast, bounded like the SQLite store, and gone at exit (every
// channel gets a new epoch after a restart, so clients learn their offsets are void).
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "common/random.hpp"
#include "core/history.hpp"

namespace sb::storage {

class MemoryHistory final : public core::HistoryStore {
 public:
  Result<core::StreamPosition> position(std::string_view channel) override;
  Status append(std::span<const core::HistoryEntry> entries) override;
  Result<core::HistoryPage> read(std::string_view channel, const core::HistoryQuery& query) override;
  void expire(std::int64_t now_ms) override;

 private:
  struct Kept {
    core::StoredMessage message;
    std::int64_t expires = 0;  // ms; 0: never
  };
  struct Log {
    std::string epoch;
    std::uint64_t last_offset = 0;
    std::deque<Kept> messages;  // oldest first
  };
  // Epochs of channels not written yet derive from it: stable while the process lives.
  const std::string epoch_salt_ = random_hex(16);
  std::shared_mutex mutex_;
  std::unordered_map<std::string, Log> logs_;
};

}  // namespace sb::storage
