#include "common/memory.hpp"

#include <atomic>
#include <cstdint>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sb {

bool release_free_memory(std::chrono::milliseconds min_interval, std::size_t min_free_bytes) {
  static std::atomic<std::int64_t> last_ms{0};
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = last_ms.load(std::memory_order_relaxed);
  if (last != 0 && now - last < min_interval.count()) return false;
  // One caller wins the slot; the others skip this round.
  if (!last_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) return false;
#if defined(__GLIBC__)
#if __GLIBC_PREREQ(2, 33)
  // Free bytes in every arena, the top chunks included.
  if (mallinfo2().fordblks < min_free_bytes) return false;
#endif
  malloc_trim(0);
  return true;
#else
  (void)min_free_bytes;
  return false;  // other allocators return memory by themselves
#endif
}

}  // namespace sb
