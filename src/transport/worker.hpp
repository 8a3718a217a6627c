#pragma once
// One thread of the server: an io_context, the connections it owns, a shared read buffer, the
// list of connections waiting for a flush, and a once-a-second sweep for pings and timeouts.
// Nothing here is shared across threads except the counters in WorkerStats.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "transport/limits.hpp"

namespace sb::transport {

class WsConnection;
class EventStream;

// Counters written by the owning worker only, read by anyone (relaxed: figures for /metrics).
struct alignas(64) WorkerStats {
  std::atomic<std::uint64_t> connections{0};       // open WebSocket connections now
  std::atomic<std::uint64_t> connections_total{0};  // upgrades since start
  // Streamed responses (SSE, NDJSON: event_stream.hpp), which are not in `connections`.
  std::atomic<std::uint64_t> event_streams{0};        // open now
  std::atomic<std::uint64_t> event_streams_total{0};  // since start
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> writes{0};  // sendmsg calls: bytes_out / writes shows the batching
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> oversized_messages{0};  // 1009: above max_message_size
  std::atomic<std::uint64_t> ping_timeouts{0};
  std::atomic<std::uint64_t> http_requests{0};
  // Hostile WebSocket peers (limits.hpp, the frame block).
  std::atomic<std::uint64_t> frame_rate_closes{0};       // 1008: over frame_rate
  std::atomic<std::uint64_t> untrusted_frame_closes{0};  // 1008: over untrusted_frames
  std::atomic<std::uint64_t> fragment_closes{0};         // 1009: over max_message_fragments
  std::atomic<std::uint64_t> pongs_coalesced{0};         // pings answered by a newer pong only
  // Refusals of hostile or excess HTTP traffic (docs/http-api.md, "Request framing").
  std::atomic<std::uint64_t> http_requests_refused{0};     // framing and size rules: 400, 413, 431, 501
  std::atomic<std::uint64_t> http_connections_refused{0};  // max_http_connections(_per_ip): 503
  std::atomic<std::uint64_t> accept_refused{0};
  std::atomic<std::uint64_t> http_timeouts{0};  // closed by a deadline: handshake, request, keep-alive silence            // out of descriptors: answered and closed at once

  void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class Worker {
 public:
  Worker(std::size_t index, const Limits& limits);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  boost::asio::io_context& context() noexcept { return context_; }
  std::size_t index() const noexcept { return index_; }
  const Limits& limits() const noexcept { return limits_; }
  WorkerStats& stats() noexcept { return stats_; }
  const WorkerStats& stats() const noexcept { return stats_; }

  // Worker thread only from here on.
  void add(WsConnection* connection);
  void remove(WsConnection* connection);
  void schedule_flush(std::shared_ptr<WsConnection> connection);
  // Streamed responses, so that close_all ends them too.
  void add(EventStream* stream);
  void remove(EventStream* stream);
  char* read_buffer() noexcept { return read_buffer_.get(); }
  static constexpr std::size_t read_buffer_size = 64 * 1024;
  std::uint32_t now_seconds() const noexcept { return now_seconds_; }
  std::size_t connection_count() const noexcept { return count_; }
  // A connection dropped `bytes` of send queue; the sweep trims the heap once enough piled up.

  void start_sweeping();
  // Closes every connection with `code`; the sweep stops once none is left.
  void close_all(std::uint16_t code, std::string_view reason);
  bool stopping() const noexcept { return stopping_; }
  // Closes every connection with 1001 and stops the io_context once all have finished their
  // closing handshake, or after close_timeout with whatever is left.
  void stop_gracefully();

 private:
  void sweep();
  void run_flush();
  void stop_when_idle(std::chrono::steady_clock::time_point deadline);

  std::size_t index_;
  Limits limits_;
  // Not constructed with concurrency hint 1: with it, Asio queues a post made from the worker's
  // own thread in a thread-private queue that runs after posts from other threads, and the hub
  // relies on posts running in the order they were made (per-channel message order).
  boost::asio::io_context context_;
  boost::asio::steady_timer sweep_timer_{context_};
  boost::asio::steady_timer stop_timer_{context_};
  std::unique_ptr<char[]> read_buffer_;
  WsConnection* head_ = nullptr;
  std::size_t count_ = 0;
  std::vector<std::shared_ptr<WsConnection>> flush_list_;
  std::unordered_set<EventStream*> streams_;
  std::vector<std::shared_ptr<WsConnection>> flushing_;
  std::uint32_t now_seconds_ = 0;
  bool stopping_ = false;
  WorkerStats stats_;
};

}  // namespace sb::transport
