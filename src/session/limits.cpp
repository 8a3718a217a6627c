#include "session/limits.hpp"

#include <algorithm>
#include <cmath>

namespace sb::session {

bool TokenBucket::take(std::chrono::steady_clock::time_point now, std::int64_t& retry_after_ms) {
  if (last_ != std::chrono::steady_clock::time_point{}) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  }
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  retry_after_ms = static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1000.0));
  return false;
}

Admission::Verdict Admission::admit(const std::string& ip) {
  if (connections_.fetch_add(1, std::memory_order_relaxed) >= max_connections_) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::server_full;
  }
  auto& stripe = ips_[std::hash<std::string>{}(ip) % ips_.size()];
  std::lock_guard lock(stripe.mutex);
  auto& n = stripe.count[ip];
  if (n >= max_per_ip_) {
    if (n == 0) stripe.count.erase(ip);
    connections_.fetch_sub(1, std::memory_order_relaxed);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::ip_full;
  }
  ++n;
  return Verdict::ok;
}

void Admission::release(const std::string& ip) {
  connections_.fetch_sub(1, std::memory_order_relaxed);
  auto& stripe = ips_[std::hash<std::string>{}(ip) % ips_.size()];
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.count.find(ip);
  if (it != stripe.count.end() && --it->second == 0) stripe.count.erase(it);
}

bool Admission::take_user(const std::string& user, std::int64_t& retry_after_ms) {
  if (rates_.per_user <= 0) return true;
  auto& stripe = users_[std::hash<std::string>{}(user) % users_.size()];
  std::lock_guard lock(stripe.mutex);
  auto it = stripe.buckets.try_emplace(user, rates_.per_user, rates_.per_user_burst).first;
  return it->second.take(std::chrono::steady_clock::now(), retry_after_ms);
}

}  // namespace sb::session
