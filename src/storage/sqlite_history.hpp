#pragma once
// History in one SQLite file (WAL) under the data dir. Appends come from one writer connection
// in batched transactions; reads use a small pool of their own connections, which WAL lets run
// alongside the writer.
//
// Durability: with fsync off (synchronous=NORMAL), a committed batch is in the WAL file when
// append() returns, so it survives the process being killed (kill -9, crash); a machine crash or
// power cut may lose the last batches. With fsync on (synchronous=FULL) every commit is fsynced
// and survives both, at the cost of one fsync per batch.
#include <sqlite3.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/history.hpp"

namespace sb::storage {

class SqliteHistory final : public core::HistoryStore {
 public:
  // Opens (creating) `path`. Throws std::runtime_error when the file cannot be opened or is not
  // a Switchboard history database.
  SqliteHistory(const std::string& path, bool fsync);
  ~SqliteHistory() override;

  Result<core::StreamPosition> position(std::string_view channel) override;
  Status append(std::span<const core::HistoryEntry> entries) override;
  Result<core::HistoryPage> read(std::string_view channel, const core::HistoryQuery& query) override;
  void expire(std::int64_t now_ms) override;

 private:
  struct ReaderLease;
  sqlite3* open_connection() const;
  sqlite3* acquire_reader();
  void release_reader(sqlite3* db);
  Status append_locked(std::span<const core::HistoryEntry> entries);
  std::string load_epoch_salt();

  std::string path_;
  bool fsync_;
  sqlite3* writer_ = nullptr;
  std::string epoch_salt_;  // see load_epoch_salt
  std::mutex readers_mutex_;
  std::vector<sqlite3*> readers_;  // idle read connections
};

}  // namespace sb::storage
