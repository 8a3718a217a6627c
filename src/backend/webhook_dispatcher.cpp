#include "backend/webhook_dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <deque>
#include <mutex>
#include <random>

#include "backend/webhook_signature.hpp"
#include "common/clock.hpp"

namespace sb::backend {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds backoff_delay(unsigned retry, std::chrono::milliseconds first, std::chrono::milliseconds max,
                                        double unit_random) {
  std::chrono::milliseconds delay = first;
  for (unsigned i = 1; i < retry && delay < max; ++i) delay *= 2;
  delay = std::min(delay, max);
  const double scale = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * scale));
}

namespace {

struct Queued {
  std::shared_ptr<const std::string> event;  // shared by the targets
  Clock::time_point at;
};

// One URL and what it still has to get. Its fields are guarded by State::mutex; its timers are
// touched on the io_context's thread only.
struct Target {
  Target(boost::asio::io_context& io, std::string u)
      : url(std::move(u)), batch_timer(io), retry_timer(io), answer_timer(io) {}
  std::string url;
  std::deque<Queued> queue;  // oldest first; the batch in flight is its first `in_flight` events
  std::size_t bytes = 0;     // of the events in `queue`
  std::size_t in_flight = 0;
  unsigned retries = 0;                // of the batch in flight
  std::uint64_t attempt = 0;           // numbers the attempts: an answer to an older one is stale
  Clock::time_point first_attempt;    // of the batch in flight
  bool pump_posted = false;
  bool batch_timer_armed = false;
  std::uint64_t dropped_full = 0;  // for the log line
  boost::asio::steady_timer batch_timer;
  boost::asio::steady_timer retry_timer;
  boost::asio::steady_timer answer_timer;  // the attempt's deadline (options.timeout)
};

}  // namespace

struct WebhookDispatcher::State : std::enable_shared_from_this<State> {
  State(boost::asio::io_context& context, DispatcherOptions o, SendFunction s)
      : io(context), options(std::move(o)), send(std::move(s)), random(std::random_device{}()) {
    for (const auto& url : options.urls) targets.push_back(std::make_unique<Target>(io, url));
  }

  boost::asio::io_context& io;
  const DispatcherOptions options;
  const SendFunction send;
  std::mutex mutex;
  std::vector<std::unique_ptr<Target>> targets;  // fixed after construction
  bool stopped = false;
  std::atomic<std::uint64_t> sent{0}, failed{0}, dropped{0}, queued{0};
  std::mt19937_64 random;  // io thread only

  bool enqueue(std::string text);
  void post_pump_locked(Target& t);
  void pump(Target& t);
  std::string body_locked(const Target& t) const;
  void transmit(Target& t, std::string body);
  void on_answer(Target& t, std::uint64_t attempt, bool ok);
  void pop_batch_locked(Target& t);
};

bool WebhookDispatcher::State::enqueue(std::string text) {
  auto event = std::make_shared<const std::string>(std::move(text));
  const auto now = Clock::now();
  std::lock_guard lock(mutex);
  if (stopped) return false;
  bool kept = true;
  for (auto& target : targets) {
    Target& t = *target;
    if (t.queue.size() >= options.max_queue || t.bytes + event->size() > options.max_queue_bytes) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      if (t.dropped_full++ % 1000 == 0)
        spdlog::warn("webhooks: queue for {} is full ({} events, {} bytes): dropping events", t.url, t.queue.size(),
                     t.bytes);
      kept = false;
      continue;
    }
    t.queue.push_back(Queued{event, now});
    t.bytes += event->size();
    queued.fetch_add(1, std::memory_order_relaxed);
    // The first event starts the batch's clock; a full batch leaves at once.
    if (t.in_flight == 0 && (t.queue.size() == 1 || t.queue.size() >= options.batch_size)) post_pump_locked(t);
  }
  return kept;
}

void WebhookDispatcher::State::post_pump_locked(Target& t) {
  if (t.pump_posted) return;
  t.pump_posted = true;
  boost::asio::post(io, [self = shared_from_this(), &t] { self->pump(t); });
}

// On the io thread: sends the next batch if one is due, else waits for it to be.
void WebhookDispatcher::State::pump(Target& t) {
  std::unique_lock lock(mutex);
  t.pump_posted = false;
  if (stopped || t.in_flight > 0 || t.queue.empty()) return;
  const auto now = Clock::now();
  const auto due = t.queue.front().at + options.batch_interval;
  if (t.queue.size() < options.batch_size && now < due) {
    if (t.batch_timer_armed) return;
    t.batch_timer_armed = true;
    t.batch_timer.expires_at(due);
    t.batch_timer.async_wait([self = shared_from_this(), &t](boost::system::error_code) {
      {
        std::lock_guard lock(self->mutex);
        t.batch_timer_armed = false;
      }
      self->pump(t);
    });
    return;
  }
  t.in_flight = std::min(t.queue.size(), options.batch_size);
  t.retries = 0;
  t.first_attempt = now;
  std::string body = body_locked(t);
  lock.unlock();
  transmit(t, std::move(body));
}

std::string WebhookDispatcher::State::body_locked(const Target& t) const {
  std::size_t size = 16;
  for (std::size_t i = 0; i < t.in_flight; ++i) size += t.queue[i].event->size() + 1;
  std::string body;
  body.reserve(size);
  body.append(R"({"events":[)");
  for (std::size_t i = 0; i < t.in_flight; ++i) {
    if (i > 0) body.push_back(',');
    body.append(*t.queue[i].event);
  }
  body.append("]}");
  return body;
}

// On the io thread. Signs with the time of this attempt: a retry is a fresh request within the
// replay window.
void WebhookDispatcher::State::transmit(Target& t, std::string body) {
  const std::int64_t timestamp = unix_millis() / 1000;
  Headers headers;
  headers.emplace_back(std::string(timestamp_header), std::to_string(timestamp));
  headers.emplace_back(std::string(signature_header), sign_webhook(options.secret, timestamp, body));
  std::uint64_t attempt = 0;
  {
    std::lock_guard lock(mutex);
    attempt = ++t.attempt;
  }
  t.answer_timer.expires_after(options.timeout);
  t.answer_timer.async_wait([self = shared_from_this(), &t, attempt](boost::system::error_code ec) {
    if (!ec) self->on_answer(t, attempt, false);
  });
  // The answer may come on any thread: it is handled on ours.
  send(t.url, std::move(body), std::move(headers), [self = shared_from_this(), &t, attempt](bool ok) {
    boost::asio::post(self->io, [self, &t, attempt, ok] { self->on_answer(t, attempt, ok); });
  });
}

void WebhookDispatcher::State::pop_batch_locked(Target& t) {
  for (std::size_t i = 0; i < t.in_flight; ++i) {
    t.bytes -= t.queue.front().event->size();
    t.queue.pop_front();
  }
  queued.fetch_sub(t.in_flight, std::memory_order_relaxed);
  t.in_flight = 0;
}

// On the io thread: the attempt's answer, or its deadline (ok false), whichever comes first.
void WebhookDispatcher::State::on_answer(Target& t, std::uint64_t attempt, bool ok) {
  std::unique_lock lock(mutex);
  if (stopped || t.in_flight == 0 || attempt != t.attempt) return;
  ++t.attempt;  // settled: whichever of answer and deadline comes second is stale
  t.answer_timer.cancel();
  if (ok) {
    sent.fetch_add(t.in_flight, std::memory_order_relaxed);
    pop_batch_locked(t);
  } else {
    failed.fetch_add(1, std::memory_order_relaxed);
    const auto now = Clock::now();
    const auto deadline = t.first_attempt + options.retry_for;
    if (now >= deadline) {
      spdlog::warn("webhooks: {} failed for {} ms: dropping a batch of {} events", t.url, options.retry_for.count(),
                   t.in_flight);
      dropped.fetch_add(t.in_flight, std::memory_order_relaxed);
      pop_batch_locked(t);
    } else {
      ++t.retries;
      const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random);
      // The last attempt comes at the deadline, not after it.
      const auto wait = std::min<Clock::duration>(
          backoff_delay(t.retries, options.first_backoff, options.max_backoff, unit), deadline - now);
      if (t.retries == 1) spdlog::info("webhooks: {} failed: retrying for up to {} ms", t.url, options.retry_for.count());
      t.retry_timer.expires_after(wait);
      t.retry_timer.async_wait([self = shared_from_this(), &t](boost::system::error_code) {
        std::unique_lock lock(self->mutex);
        if (self->stopped || t.in_flight == 0) return;
        std::string body = self->body_locked(t);
        lock.unlock();
        self->transmit(t, std::move(body));
      });
      return;
    }
  }
  if (!t.queue.empty()) post_pump_locked(t);
}

WebhookDispatcher::WebhookDispatcher(boost::asio::io_context& io, DispatcherOptions options, SendFunction send)
    : state_(std::make_shared<State>(io, std::move(options), std::move(send))) {}

WebhookDispatcher::~WebhookDispatcher() {
  std::lock_guard lock(state_->mutex);
  state_->stopped = true;
}

bool WebhookDispatcher::enqueue(std::string event) { return state_->enqueue(std::move(event)); }

DispatcherCounters WebhookDispatcher::counters() const {
  DispatcherCounters c;
  c.sent = state_->sent.load(std::memory_order_relaxed);
  c.failed = state_->failed.load(std::memory_order_relaxed);
  c.dropped = state_->dropped.load(std::memory_order_relaxed);
  c.queued = state_->queued.load(std::memory_order_relaxed);
  return c;
}

}  // namespace sb::backend
