#pragma once
// Admission and rate limits shared by all sessions: token buckets per connection and per user,
// connection counts in total and per IP.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb::session {

// A token bucket: `rate` tokens a second, at most `burst` saved up. Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  // Takes one token; when there is none, says in how many ms there will be one.
  bool take(std::chrono::steady_clock::time_point now, std::int64_t& retry_after_ms);

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_{};
};

struct RateLimits {
  // Requests a connection may send per second, with a burst allowance. 1,000/s is far beyond a
  // person and leaves room for a service publishing over WebSocket; a flood is cut long before
  // it costs the server. The per-user budget spans all of a user's connections.
  double per_connection = 1000;
  double per_connection_burst = 2000;
  double per_user = 2000;  // 0: no per-user limit
  double per_user_burst = 4000;
};

class Admission {
 public:
  Admission(std::size_t max_connections, std::size_t max_per_ip, RateLimits rates)
      : max_connections_(max_connections), max_per_ip_(max_per_ip), rates_(rates) {}

  enum class Verdict { ok, server_full, ip_full };
  // Counts a new connection from `ip`, unless a limit is reached. Any thread.
  Verdict admit(const std::string& ip);
  void release(const std::string& ip);
  std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }
  // Connections admit() refused, either limit.
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  // Requests a session refused for its rate (per connection or per user); counted here so the
  // figure spans every worker.
  void note_rate_limited() noexcept { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t rate_limited() const noexcept { return rate_limited_.load(std::memory_order_relaxed); }

  const RateLimits& rates() const noexcept { return rates_; }
  // One request by `user` (non-empty); false with retry_after_ms when over the per-user budget.
  bool take_user(const std::string& user, std::int64_t& retry_after_ms);

 private:
  struct alignas(64) IpStripe {
    std::mutex mutex;
    std::unordered_map<std::string, std::size_t> count;
  };
  struct alignas(64) UserStripe {
    std::mutex mutex;
    std::unordered_map<std::string, TokenBucket> buckets;
  };
  std::size_t max_connections_;
  std::size_t max_per_ip_;
  RateLimits rates_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> rate_limited_{0};
  std::array<IpStripe, 16> ips_;
  std::array<UserStripe, 16> users_;
};

}  // namespace sb::session
