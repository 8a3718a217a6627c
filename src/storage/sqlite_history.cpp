#include "storage/sqlite_history.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

#include "common/clock.hpp"
#include "common/random.hpp"

namespace sb::storage {

namespace {

const char* const schema = R"sql(
CREATE TABLE IF NOT EXISTS channels (
  name TEXT PRIMARY KEY,
  epoch TEXT NOT NULL,
  last_offset INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  channel TEXT NOT NULL,
  offset INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  data TEXT NOT NULL,
  sender TEXT NOT NULL DEFAULT '',
  tags BLOB NOT NULL DEFAULT x'',
  PRIMARY KEY (channel, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

Error storage_error(sqlite3* db, std::string_view what) {
  return make_error(ErrorCode::unavailable, std::string(what) + ": " + sqlite3_errmsg(db));
}

Result<Statement> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return storage_error(db, "prepare");
  return Statement(s);
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

bool exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

// A file made before messages kept their publisher (`sender`, the message's `from`) or their
// tags (`tags`, core/tags.hpp's encoding, a BLOB: it holds NUL separators) gets the column,
// empty for the messages already in it; CREATE TABLE IF NOT EXISTS leaves an old table as it was.
bool add_column(sqlite3* db, const std::string& name, const std::string& declaration) {
  int rc = SQLITE_ERROR;
  {
    const std::string sql = "SELECT 1 FROM pragma_table_info('messages') WHERE name = '" + name + "'";
    auto columns = prepare(db, sql.c_str());
    if (!columns) return false;
    rc = sqlite3_step(columns->get());
  }  // finalized before the table changes
  if (rc == SQLITE_ROW) return true;
  const std::string alter = "ALTER TABLE messages ADD COLUMN " + name + " " + declaration;
  return rc == SQLITE_DONE && exec(db, alter.c_str());
}

bool add_new_columns(sqlite3* db) {
  return add_column(db, "sender", "TEXT NOT NULL DEFAULT ''") && add_column(db, "tags", "BLOB NOT NULL DEFAULT x''");
}

}  // namespace

SqliteHistory::SqliteHistory(const std::string& path, bool fsync) : path_(path), fsync_(fsync) {
  writer_ = open_connection();
  if (!exec(writer_, "PRAGMA journal_mode=WAL") || !exec(writer_, schema) || !add_new_columns(writer_)) {
    std::string message = sqlite3_errmsg(writer_);
    sqlite3_close(writer_);
    throw std::runtime_error("history database " + path + ": " + message);
  }
  epoch_salt_ = load_epoch_salt();
}

// Made once per database file and kept in it: the epochs of channels not written yet derive
// from it, so they survive restarts and change with a new file.
std::string SqliteHistory::load_epoch_salt() {
  auto insert = prepare(writer_, "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch_salt', ?)");
  auto select = prepare(writer_, "SELECT value FROM meta WHERE key = 'epoch_salt'");
  if (!insert || !select) throw std::runtime_error("history database " + path_ + ": " + sqlite3_errmsg(writer_));
  bind_text(insert->get(), 1, random_hex(16));
  if (sqlite3_step(insert->get()) != SQLITE_DONE || sqlite3_step(select->get()) != SQLITE_ROW)
    throw std::runtime_error("history database " + path_ + ": " + sqlite3_errmsg(writer_));
  return reinterpret_cast<const char*>(sqlite3_column_text(select->get(), 0));
}

SqliteHistory::~SqliteHistory() {
  for (sqlite3* db : readers_) sqlite3_close(db);
  sqlite3_close(writer_);
}

sqlite3* SqliteHistory::open_connection() const {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open history database " + path_ + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  exec(db, fsync_ ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  return db;
}

sqlite3* SqliteHistory::acquire_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!readers_.empty()) {
      sqlite3* db = readers_.back();
      readers_.pop_back();
      return db;
    }
  }
  return open_connection();
}

void SqliteHistory::release_reader(sqlite3* db) {
  std::lock_guard lock(readers_mutex_);
  readers_.push_back(db);
}

// A read connection from the pool for one call, given back however the call ends.
struct SqliteHistory::ReaderLease {
  explicit ReaderLease(SqliteHistory& owner) : self(owner), db(owner.acquire_reader()) {}
  ~ReaderLease() { self.release_reader(db); }
  SqliteHistory& self;
  sqlite3* db;
};

Result<core::StreamPosition> SqliteHistory::position(std::string_view channel) {
  ReaderLease lease(*this);
  sqlite3* db = lease.db;
  auto stmt = prepare(db, "SELECT epoch, last_offset FROM channels WHERE name = ?");
  if (!stmt) return stmt.error();
  bind_text(stmt->get(), 1, channel);
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_ROW) {
    return core::StreamPosition{static_cast<std::uint64_t>(sqlite3_column_int64(stmt->get(), 1)),
                                reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 0))};
  }
  if (rc != SQLITE_DONE) return storage_error(db, "read channel");
  return core::StreamPosition{0, keyed_hex(epoch_salt_, channel, 6)};
}

Status SqliteHistory::append(std::span<const core::HistoryEntry> entries) {
  if (entries.empty()) return Ok{};
  if (!exec(writer_, "BEGIN IMMEDIATE")) return storage_error(writer_, "begin");
  Status status = append_locked(entries);
  if (!status) {
    exec(writer_, "ROLLBACK");
    return status;
  }
  if (!exec(writer_, "COMMIT")) {
    Error e = storage_error(writer_, "commit");
    exec(writer_, "ROLLBACK");
    return e;
  }
  return Ok{};
}

Status SqliteHistory::append_locked(std::span<const core::HistoryEntry> entries) {
  auto insert =
      prepare(writer_, "INSERT INTO messages (channel, offset, ts, expires, data, sender, tags) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return insert.error();
  std::map<std::string_view, const core::HistoryEntry*> last_by_channel;
  for (const auto& e : entries) {
    sqlite3_stmt* s = insert->get();
    sqlite3_reset(s);
    bind_text(s, 1, e.channel);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(e.offset));
    sqlite3_bind_int64(s, 3, e.ts);
    sqlite3_bind_int64(s, 4, e.policy.ttl.count() > 0 ? e.ts + e.policy.ttl.count() * 1000 : 0);
    bind_text(s, 5, e.data);
    bind_text(s, 6, e.from);
    sqlite3_bind_blob(s, 7, e.tags.data(), static_cast<int>(e.tags.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) return storage_error(writer_, "insert message");
    last_by_channel[e.channel] = &e;
  }
  auto upsert = prepare(writer_,
                        "INSERT INTO channels (name, epoch, last_offset) VALUES (?, ?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, "
                        "last_offset = MAX(last_offset, excluded.last_offset)");
  if (!upsert) return upsert.error();
  auto trim = prepare(writer_, "DELETE FROM messages WHERE channel = ? AND offset <= ?");
  if (!trim) return trim.error();
  for (const auto& [channel, e] : last_by_channel) {
    sqlite3_stmt* s = upsert->get();
    bind_text(s, 1, channel);
    bind_text(s, 2, e->epoch);
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(e->offset));
    if (sqlite3_step(s) != SQLITE_DONE) return storage_error(writer_, "update channel");
    sqlite3_reset(s);
    if (e->offset > e->policy.size) {
      sqlite3_stmt* t = trim->get();
      bind_text(t, 1, channel);
      sqlite3_bind_int64(t, 2, static_cast<sqlite3_int64>(e->offset - e->policy.size));
      if (sqlite3_step(t) != SQLITE_DONE) return storage_error(writer_, "trim");
      sqlite3_reset(t);
    }
  }
  return Ok{};
}

Result<core::HistoryPage> SqliteHistory::read(std::string_view channel, const core::HistoryQuery& q) {
  auto position = this->position(channel);
  if (!position) return position.error();
  core::HistoryPage page;
  page.position = std::move(*position);
  ReaderLease lease(*this);
  sqlite3* db = lease.db;
  const std::int64_t now = unix_millis();
  {
    auto first = prepare(db, "SELECT MIN(offset) FROM messages WHERE channel = ? AND (expires = 0 OR expires > ?)");
    if (!first) return first.error();
    bind_text(first->get(), 1, channel);
    sqlite3_bind_int64(first->get(), 2, now);
    if (sqlite3_step(first->get()) == SQLITE_ROW)
      page.first_offset = static_cast<std::uint64_t>(sqlite3_column_int64(first->get(), 0));
  }
  const char* sql = q.newest_first
                        ? "SELECT offset, ts, data, sender, tags FROM messages WHERE channel = ? AND offset > ? "
                          "AND offset < ? AND (expires = 0 OR expires > ?) ORDER BY offset DESC LIMIT ?"
                        : "SELECT offset, ts, data, sender, tags FROM messages WHERE channel = ? AND offset > ? "
                          "AND offset < ? AND (expires = 0 OR expires > ?) ORDER BY offset ASC LIMIT ?";
  auto stmt = prepare(db, sql);
  if (!stmt) return stmt.error();
  sqlite3_stmt* s = stmt->get();
  bind_text(s, 1, channel);
  // Callers refuse offsets above core::max_offset; clamping here too keeps a wrapped negative
  // bound (which would select everything) out of the query whatever the caller did.
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(std::min(q.after, core::max_offset)));
  sqlite3_bind_int64(s, 3, q.before == 0 ? INT64_MAX : static_cast<sqlite3_int64>(std::min(q.before, core::max_offset)));
  sqlite3_bind_int64(s, 4, now);
  // One row more than the limit tells whether another page follows.
  sqlite3_bind_int64(s, 5, static_cast<sqlite3_int64>(q.limit) + 1);
  core::PageFiller fill(page, q);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    core::StoredMessage m;
    m.offset = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    m.ts = sqlite3_column_int64(s, 1);
    m.data.assign(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)),
                  static_cast<std::size_t>(sqlite3_column_bytes(s, 2)));
    if (const int n = sqlite3_column_bytes(s, 3); n > 0)
      m.from.assign(reinterpret_cast<const char*>(sqlite3_column_text(s, 3)), static_cast<std::size_t>(n));
    if (const int n = sqlite3_column_bytes(s, 4); n > 0)
      m.tags.assign(static_cast<const char*>(sqlite3_column_blob(s, 4)), static_cast<std::size_t>(n));
    if (!fill.add(std::move(m))) {
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rc != SQLITE_DONE) return storage_error(db, "read messages");
  return page;
}

void SqliteHistory::expire(std::int64_t now_ms) {
  auto stmt = prepare(writer_, "DELETE FROM messages WHERE expires > 0 AND expires <= ?");
  if (!stmt) return;
  sqlite3_bind_int64(stmt->get(), 1, now_ms);
  sqlite3_step(stmt->get());
}

}  // namespace sb::storage
