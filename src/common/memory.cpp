#include "common/memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sb {

bool release_free_memory(std::size_t min_free_bytes) {
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
