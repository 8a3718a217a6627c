#pragma once
// Giving freed memory back to the operating system.
//
// glibc's malloc keeps what a burst freed (a flood of channels, large history pages, a ping
// flood's queues) in its arenas: the process stays at its peak RSS long after the burst. One
// malloc_trim(0) returns every free page of every arena (measured: docs/benchmarks.md). It walks
// the heaps, a few milliseconds on a large one, so its caller runs it off the network threads and
// now and then (server::App, every 2 s). And only when the arenas hold at least `min_free_bytes`
// unused: at steady state the free pages are reused at once, and giving them back would only make
// the workers fault them in again (measured as lower publish throughput).
#include <cstddef>

namespace sb {

// Any thread. Trims when at least `min_free_bytes` lie free; returns whether it did.
bool release_free_memory(std::size_t min_free_bytes);

}  // namespace sb
