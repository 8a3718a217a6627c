#pragma once
// What one WebSocket connection may send, counted in frames of any kind: a token bucket
// (limits frame_rate, frame_burst) and, until the handler trusts the peer, a small allowance
// (limits untrusted_frames). Frames only ever spend; time alone refills the bucket, so nothing
// a peer sends (an empty fragment, a pong) buys it more. One connection's: not thread-safe.
#include <algorithm>
#include <cstdint>

namespace sb::transport {

class FrameBudget {
 public:
  enum class Verdict : std::uint8_t { ok, too_fast, untrusted_spent };

  // A full bucket at `now_ns` (steady clock, nanoseconds).
  void start(double burst, std::int64_t now_ns) noexcept {
    tokens_ = burst;
    refilled_at_ = now_ns;
  }
  // Adds what `rate` tokens a second earned since the last refill, up to `burst`.
  void refill(double rate, double burst, std::int64_t now_ns) noexcept {
    const double elapsed = static_cast<double>(now_ns - refilled_at_) / 1e9;
    refilled_at_ = now_ns;
    tokens_ = std::min(burst, tokens_ + elapsed * rate);
  }
  // Spends one frame.
  Verdict take() noexcept {
    if (untrusted_left_ != no_limit) {
      if (untrusted_left_ == 0) return Verdict::untrusted_spent;
      --untrusted_left_;
    }
    if (tokens_ < 1.0) return Verdict::too_fast;
    tokens_ -= 1.0;
    return Verdict::ok;
  }
  // From now on at most `frames` more until trust().
  void limit_until_trusted(std::uint32_t frames) noexcept { untrusted_left_ = std::min(frames, no_limit - 1); }
  void trust() noexcept { untrusted_left_ = no_limit; }

 private:
  static constexpr std::uint32_t no_limit = UINT32_MAX;
  double tokens_ = 0;
  std::int64_t refilled_at_ = 0;
  std::uint32_t untrusted_left_ = no_limit;
};

}  // namespace sb::transport
