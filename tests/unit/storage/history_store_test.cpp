// The same contract, checked on both history stores.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "common/clock.hpp"
#include "storage/memory_history.hpp"
#include "storage/sqlite_history.hpp"

namespace sb::storage {
namespace {

core::HistoryEntry entry(std::string channel, std::uint64_t offset, std::size_t keep = 100, int ttl_seconds = 0,
                         std::int64_t ts = unix_millis()) {
  return core::HistoryEntry{std::move(channel), "epoch1", offset, ts, "\"m" + std::to_string(offset) + "\"",
                            core::HistoryPolicy{keep, std::chrono::seconds(ttl_seconds)}};
}

std::vector<std::uint64_t> offsets(const core::HistoryPage& page) {
  std::vector<std::uint64_t> out;
  for (const auto& m : page.messages) out.push_back(m.offset);
  return out;
}

class HistoryStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static inline int counter = 0;
  std::string path = ::testing::TempDir() + "history-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
                     ".db";
  std::unique_ptr<core::HistoryStore> store;
  void SetUp() override {
    std::filesystem::remove(path);
    store = open();
  }
  void TearDown() override {
    store.reset();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  std::unique_ptr<core::HistoryStore> open() {
    if (GetParam() == "memory") return std::make_unique<MemoryHistory>();
    return std::make_unique<SqliteHistory>(path, false);
  }
};

TEST_P(HistoryStoreTest, AnUnknownChannelHasOffsetZeroAndAFreshEpoch) {
  auto p = store->position("nothing");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->offset, 0u);
  EXPECT_EQ(p->epoch.size(), 12u);
}

// A backend hands out the position of an empty channel; it must still hold once messages come.
TEST_P(HistoryStoreTest, AnUnwrittenChannelKeepsItsEpochUntilItsFirstAppend) {
  const auto first = store->position("empty");
  EXPECT_EQ(store->position("empty")->epoch, first->epoch);
  EXPECT_EQ(store->read("empty", core::HistoryQuery{0, 0, 10, false})->position.epoch, first->epoch);
  EXPECT_NE(store->position("another")->epoch, first->epoch);

  store.reset();
  store = open();
  const auto reopened = store->position("empty");
  if (GetParam() == "memory") {
    EXPECT_NE(reopened->epoch, first->epoch);  // a new process has lost every offset
  } else {
    EXPECT_EQ(reopened->epoch, first->epoch);  // the same file still stands
  }
}

TEST(SqliteHistoryFile, ANewFileGivesNewEpochs) {
  const std::string path = ::testing::TempDir() + "history-salt-" + std::to_string(::getpid()) + ".db";
  std::string before;
  for (int round = 0; round < 2; ++round) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    SqliteHistory store(path, false);
    const std::string epoch = store.position("empty")->epoch;
    if (round == 1) EXPECT_NE(epoch, before);
    before = epoch;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

TEST_P(HistoryStoreTest, AppendsAndReadsBothWays) {
  std::vector<core::HistoryEntry> batch;
  for (std::uint64_t o = 1; o <= 10; ++o) batch.push_back(entry("c", o));
  batch.push_back(entry("other", 1));
  ASSERT_TRUE(store->append(batch).ok());
  auto p = store->position("c");
  EXPECT_EQ(p->offset, 10u);
  EXPECT_EQ(p->epoch, "epoch1");

  auto oldest = store->read("c", core::HistoryQuery{3, 0, 4, false});
  ASSERT_TRUE(oldest.ok());
  EXPECT_EQ(offsets(*oldest), (std::vector<std::uint64_t>{4, 5, 6, 7}));
  EXPECT_EQ(oldest->messages[0].data, "\"m4\"");
  EXPECT_EQ(oldest->first_offset, 1u);

  auto newest = store->read("c", core::HistoryQuery{0, 0, 3, true});
  EXPECT_EQ(offsets(*newest), (std::vector<std::uint64_t>{10, 9, 8}));
  auto before = store->read("c", core::HistoryQuery{0, 8, 3, true});
  EXPECT_EQ(offsets(*before), (std::vector<std::uint64_t>{7, 6, 5}));
}

TEST_P(HistoryStoreTest, KeepsOnlyTheNewestMessagesOfTheNamespaceSize) {
  std::vector<core::HistoryEntry> batch;
  for (std::uint64_t o = 1; o <= 20; ++o) batch.push_back(entry("c", o, 5));
  ASSERT_TRUE(store->append(batch).ok());
  auto page = store->read("c", core::HistoryQuery{0, 0, 100, false});
  EXPECT_EQ(offsets(*page), (std::vector<std::uint64_t>{16, 17, 18, 19, 20}));
  EXPECT_EQ(page->first_offset, 16u);
}

TEST_P(HistoryStoreTest, ExpiredMessagesAreNeitherReadNorKept) {
  const std::int64_t old_ts = unix_millis() - 10'000;
  ASSERT_TRUE(store->append(std::vector{entry("c", 1, 100, 5, old_ts), entry("c", 2, 100, 5)}).ok());
  auto page = store->read("c", core::HistoryQuery{0, 0, 100, false});
  EXPECT_EQ(offsets(*page), (std::vector<std::uint64_t>{2}));
  store->expire(unix_millis());
  EXPECT_EQ(store->position("c")->offset, 2u);  // the position stays
}

TEST_P(HistoryStoreTest, PagesByBytesAndSaysWhereToGoOn) {
  // Messages of 36 bytes ("m<n>" padded) count 100 each against the budget.
  std::vector<core::HistoryEntry> batch;
  for (std::uint64_t o = 1; o <= 10; ++o) {
    batch.push_back(entry("c", o));
    batch.back().data = "\"" + std::string(34, 'a' + static_cast<char>(o)) + "\"";
  }
  ASSERT_TRUE(store->append(batch).ok());
  core::HistoryQuery q;
  q.limit = 1000;
  q.max_bytes = 350;  // three messages of 100
  std::vector<std::uint64_t> all;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = store->read("c", q);
    ASSERT_TRUE(page.ok());
    EXPECT_LE(page->messages.size(), 3u);
    for (auto o : offsets(*page)) all.push_back(o);
    if (!page->more) break;
    EXPECT_EQ(page->next(), all.back());
    q.after = page->next();
  }
  EXPECT_EQ(all, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));

  // Newest first, `next` is the next `before`.
  core::HistoryQuery back;
  back.newest_first = true;
  back.limit = 4;
  auto page = store->read("c", back);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(offsets(*page), (std::vector<std::uint64_t>{10, 9, 8, 7}));
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->next(), 7u);
  back.before = 3;
  page = store->read("c", back);
  EXPECT_EQ(offsets(*page), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_FALSE(page->more);
  EXPECT_EQ(page->next(), 0u);

  // One message above the budget still comes, alone; exactly the limit is not `more`.
  core::HistoryQuery tiny;
  tiny.max_bytes = 1;
  page = store->read("c", tiny);
  EXPECT_EQ(offsets(*page), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(page->more);
  core::HistoryQuery exact;
  exact.limit = 10;
  page = store->read("c", exact);
  EXPECT_EQ(page->messages.size(), 10u);
  EXPECT_FALSE(page->more);
}

TEST_P(HistoryStoreTest, AnOffsetBeyondTheLargestIsNotWrapped) {
  std::vector<core::HistoryEntry> batch{entry("c", 1), entry("c", 2)};
  ASSERT_TRUE(store->append(batch).ok());
  core::HistoryQuery q;
  q.after = ~std::uint64_t{0};  // would be -1 as a signed SQLite integer: everything
  auto page = store->read("c", q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->messages.empty());
}

TEST(SqliteHistory, SurvivesReopeningWithItsEpoch) {
  const std::string path = ::testing::TempDir() + "reopen-" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(path);
  {
    SqliteHistory store(path, true);
    ASSERT_TRUE(store.append(std::vector{entry("c", 1), entry("c", 2)}).ok());
  }
  SqliteHistory again(path, false);
  auto p = again.position("c");
  EXPECT_EQ(p->offset, 2u);
  EXPECT_EQ(p->epoch, "epoch1");
  EXPECT_EQ(again.read("c", core::HistoryQuery{})->messages.size(), 2u);
  std::filesystem::remove(path);
}

TEST(SqliteHistory, AFileThatIsNotADatabaseIsAClearError) {
  const std::string path = ::testing::TempDir() + "garbage-" + std::to_string(::getpid()) + ".db";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("this is not sqlite, just some text that is long enough to fill a header page.......", f);
    std::fclose(f);
  }
  EXPECT_THROW(SqliteHistory(path, false), std::runtime_error);
  std::filesystem::remove(path);
}

TEST_P(HistoryStoreTest, KeepsWhoPublishedEachMessageAsItsBytes) {
  auto named = entry("c", 1);
  named.from = R"({"user":"ann","client":"c1","info":{"name":"Ann"}})";
  ASSERT_TRUE(store->append(std::vector{named, entry("c", 2)}).ok());
  auto page = store->read("c", core::HistoryQuery{});
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].from, named.from);
  EXPECT_EQ(page->messages[1].from, "") << "a message without a publisher has none";
}

TEST_P(HistoryStoreTest, KeepsTagsAsTheirBytes) {
  auto tagged = entry("c", 1);
  tagged.tags = std::string("circle\0" "12\0" "note\0" "a\nb\0", 17);  // NUL separators, a newline
  ASSERT_TRUE(store->append(std::vector{tagged, entry("c", 2)}).ok());
  auto page = store->read("c", core::HistoryQuery{});
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].tags, tagged.tags);
  EXPECT_EQ(page->messages[1].tags, "") << "a message without tags has none";
}

// A history.db from before tags (with `sender`, without `tags`) opens and gains the column.
TEST(SqliteHistory, AFileFromBeforeTheTagsColumnOpensAndGainsIt) {
  const std::string path = ::testing::TempDir() + "no-tags-" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(path);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE channels (name TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT "
                           "NULL) WITHOUT ROWID;"
                           "CREATE TABLE messages (channel TEXT NOT NULL, offset INTEGER NOT NULL, ts INTEGER NOT NULL, "
                           "expires INTEGER NOT NULL, data TEXT NOT NULL, sender TEXT NOT NULL DEFAULT '', "
                           "PRIMARY KEY (channel, offset)) WITHOUT ROWID;"
                           "INSERT INTO channels VALUES ('c', 'epoch1', 1);"
                           "INSERT INTO messages VALUES ('c', 1, 5, 0, '\"old\"', '{\"user\":\"ann\"}');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    SqliteHistory store(path, false);
    auto tagged = entry("c", 2);
    tagged.tags = std::string("k\0v\0", 4);
    ASSERT_TRUE(store.append(std::vector{tagged}).ok());
  }
  SqliteHistory again(path, false);
  auto page = again.read("c", core::HistoryQuery{});
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].from, R"({"user":"ann"})");
  EXPECT_EQ(page->messages[0].tags, "");
  EXPECT_EQ(page->messages[1].tags, std::string("k\0v\0", 4));
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

// A history.db written before messages kept their publisher has no `sender` column: it opens,
// its messages read back without one, and new ones keep theirs.
TEST(SqliteHistory, AFileFromBeforeTheSenderColumnOpensAndGainsIt) {
  const std::string path = ::testing::TempDir() + "old-schema-" + std::to_string(::getpid()) + ".db";
  std::filesystem::remove(path);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE channels (name TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT "
                           "NULL) WITHOUT ROWID;"
                           "CREATE TABLE messages (channel TEXT NOT NULL, offset INTEGER NOT NULL, ts INTEGER NOT NULL, "
                           "expires INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (channel, offset)) WITHOUT ROWID;"
                           "INSERT INTO channels VALUES ('c', 'epoch1', 1);"
                           "INSERT INTO messages VALUES ('c', 1, 5, 0, '\"old\"');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    SqliteHistory store(path, false);
    EXPECT_EQ(store.position("c")->offset, 1u);
    auto named = entry("c", 2);
    named.from = R"({"user":"ann","client":"c1"})";
    ASSERT_TRUE(store.append(std::vector{named}).ok());
  }
  SqliteHistory again(path, false);  // opens a file that has the column already
  auto page = again.read("c", core::HistoryQuery{});
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].data, "\"old\"");
  EXPECT_EQ(page->messages[0].from, "");
  EXPECT_EQ(page->messages[1].from, R"({"user":"ann","client":"c1"})");
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

INSTANTIATE_TEST_SUITE_P(Engines, HistoryStoreTest, ::testing::Values("memory", "sqlite"));

}  // namespace
}  // namespace sb::storage
