#pragma once
// Where a channel's messages are kept, for recovery and paging. Implementations: an in-memory
// store and SQLite (src/storage/); the server picks one.
//
// Offsets and epochs. The hub assigns offsets (last + 1) under the channel's stripe lock; the
// store persists them. A channel's epoch is created once, with its first message, and survives
// restarts as long as its history does; a store that lost it (wiped file, memory engine after a
// restart) hands out a new epoch, which tells clients their offsets are void.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "core/publication.hpp"

namespace sb::core {

// How much history a namespace keeps. size 0: none (and publishing stays synchronous).
struct HistoryPolicy {
  std::size_t size = 0;        // newest messages kept per channel
  std::chrono::seconds ttl{0};  // 0: no age limit
  bool enabled() const noexcept { return size > 0; }
};

struct StoredMessage {
  std::uint64_t offset = 0;
  std::int64_t ts = 0;
  std::string data;  // serialized JSON
  std::string from;  // serialized JSON object, or empty (Publication::from)
  std::string tags;  // Publication::tags
};

struct HistoryEntry {
  std::string channel;
  std::string epoch;
  std::uint64_t offset = 0;
  std::int64_t ts = 0;
  std::string data;
  HistoryPolicy policy;
  std::string from;  // Publication::from
  std::string tags;  // Publication::tags
};

// The largest offset a client may name: 2^53 - 1, the largest integer a JavaScript number (and
// so every JSON parser that reads numbers as doubles) holds exactly. Offsets are handed out one by
// one and never come near it; a larger value in a request is an error, never wrapped to a signed
// SQLite integer (2^64 - 1 would become -1 and select the whole history).
inline constexpr std::uint64_t max_offset = (std::uint64_t{1} << 53) - 1;

// What one stored message counts against a page's byte budget: its payload plus room for the
// envelope around it ({"offset":...,"ts":...,"data":...}), who sent it and its tags (as JSON,
// at most twice their encoded size).
inline std::size_t page_bytes(const StoredMessage& m) noexcept {
  return m.data.size() + m.from.size() + m.tags.size() * 2 + 64;
}

struct HistoryQuery {
  std::uint64_t after = 0;  // oldest first: offsets > after; newest first: offsets < before
  std::uint64_t before = 0;  // 0: no upper bound
  std::size_t limit = 100;
  bool newest_first = false;
  // The page stops before the message that would take the payload bytes (page_bytes) above this;
  // at least one message is returned whatever its size. 0: no byte bound (recovery, which checks
  // its own).
  std::size_t max_bytes = 0;
};

struct HistoryPage {
  StreamPosition position;  // the channel's last stored offset and its epoch
  std::uint64_t first_offset = 0;  // oldest offset still retained (0: none)
  std::vector<StoredMessage> messages;
  // Whether more messages match the query than this page holds (cut by `limit` or `max_bytes`):
  // the next page starts after the last message here (its offset is the next `after`, or
  // `before` when newest first).
  bool more = false;
  // With a filter (Hub::history): the offset of the last message read for this page, which the
  // filter may have dropped; 0 without one.
  std::uint64_t last_read = 0;
  // The cursor to page on: the offset of the last message read when `more`, else 0.
  std::uint64_t next() const noexcept {
    if (!more) return 0;
    if (last_read != 0) return last_read;
    return messages.empty() ? 0 : messages.back().offset;
  }
};

// Fills a page from messages in query order: stops at `limit` or the byte budget, and says
// whether anything matching was left. Shared by the stores so they cut pages the same way.
class PageFiller {
 public:
  PageFiller(HistoryPage& page, const HistoryQuery& query) : page_(page), query_(query) {}
  // False once the page is full; `m` is then not taken and the page is marked `more`.
  bool add(StoredMessage m) {
    const std::size_t size = page_bytes(m);
    const bool full = page_.messages.size() >= query_.limit ||
                      (query_.max_bytes != 0 && !page_.messages.empty() && bytes_ + size > query_.max_bytes);
    if (full) {
      page_.more = true;
      return false;
    }
    bytes_ += size;
    page_.messages.push_back(std::move(m));
    return true;
  }

 private:
  HistoryPage& page_;
  const HistoryQuery& query_;
  std::size_t bytes_ = 0;
};

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;
  // The last stored offset and epoch of a channel. A channel never written has offset 0 and an
  // epoch of its own that stays the same until its first append stores it, so a position read
  // from an empty channel is still good after its first message; the epoch changes only when
  // the store itself starts over (a new SQLite file, a memory store after a restart). Any
  // thread, concurrently.
  virtual Result<StreamPosition> position(std::string_view channel) = 0;
  // Appends in one transaction, in the order given; when it returns ok, every entry is as
  // durable as the store promises (docs/guarantees.md). Called by one thread at a time.
  virtual Status append(std::span<const HistoryEntry> entries) = 0;
  // Retained messages. Any thread, concurrently with append.
  virtual Result<HistoryPage> read(std::string_view channel, const HistoryQuery& query) = 0;
  // Drops messages older than their channel's TTL. Called by the appending thread.
  virtual void expire(std::int64_t now_ms) = 0;
};

}  // namespace sb::core
