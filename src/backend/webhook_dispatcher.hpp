#pragma once
// Delivery of webhook events to the app's backend: queued per target, batched, signed, retried.
//
// Events come from every worker thread (enqueue takes one mutex, copies the event into each
// target's queue and returns); everything else runs on one io_context (worker 0's), which is
// also where the send function is called. Each target gets its events in the order they were
// queued, one batch in flight at a time: a batch that fails is sent again (same events, same
// ids, a fresh timestamp and signature) after an exponential backoff with jitter, until it gets
// a 2xx or `retry_for` has passed since its first attempt; then it is dropped and counted, and
// the next batch goes. Best effort: events still queued when the server stops are lost.
#include <boost/asio/io_context.hpp>

#include "backend/webhook_options.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sb::backend {

using Headers = std::vector<std::pair<std::string, std::string>>;
// Sends one POST of `body` (application/json) to `url` with `headers`; calls `done(true)` on a
// 2xx answer and `done(false)` on anything else (refused, timed out, non-2xx), once, on any
// thread. It must not retry by itself: the dispatcher does. The server plugs in an HTTP client.
using SendFunction =
    std::function<void(std::string url, std::string body, Headers headers, std::function<void(bool ok)> done)>;

struct DispatcherCounters {
  std::uint64_t sent = 0;     // events delivered (acknowledged with a 2xx)
  std::uint64_t failed = 0;   // requests that failed (each retry counts)
  std::uint64_t dropped = 0;  // events given up: queue full, or retry_for exhausted
  std::uint64_t queued = 0;   // events held now, in flight included
};

// The wait before retry number `retry` (1: after the first failure): first * 2^(retry-1), at
// most `max`, scaled into its upper half by `unit_random` in [0, 1).
std::chrono::milliseconds backoff_delay(unsigned retry, std::chrono::milliseconds first, std::chrono::milliseconds max,
                                        double unit_random);

class WebhookDispatcher {
 public:
  // `io` runs the timers and receives the send function's answers; it outlives the dispatcher
  // or is stopped first.
  WebhookDispatcher(boost::asio::io_context& io, DispatcherOptions options, SendFunction send);
  ~WebhookDispatcher();  // stops: nothing is sent any more, answers still coming are ignored
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Any thread. `event` is one complete JSON object; false when a target's queue was full (the
  // event is dropped for that target and counted).
  bool enqueue(std::string event);
  DispatcherCounters counters() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the handlers in flight, which may outlive us
};

}  // namespace sb::backend
