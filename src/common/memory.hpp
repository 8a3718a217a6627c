#pragma once
// Giving freed memory back to the operating system.
//
// glibc's malloc keeps what a burst freed (a flood of channels, large history pages, a ping
// flood's queues) in its arenas: the process stays at its peak RSS long after the burst. One
// malloc_trim(0) returns every free page of every arena (measured: docs/benchmarks.md). It walks
// the heaps, a few milliseconds on a large one, so it runs off the network threads and at most
// once per `min_interval`. And only when the arenas hold at least `min_free_bytes` unused: at
// steady state the free pages are reused at once, and giving them back would only make the
// workers fault them in again (measured as lower publish throughput).
#include <chrono>
#include <cstddef>

namespace sb {

// Any thread. Trims if the last trim is at least `min_interval` ago; returns whether it did.
// Safe to call often (a periodic sweep): the calls in between cost one atomic load.
bool release_free_memory(std::chrono::milliseconds min_interval = std::chrono::seconds(5),
                         std::size_t min_free_bytes = 8 * 1024 * 1024);

}  // namespace sb
