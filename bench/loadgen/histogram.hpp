// A small HdrHistogram-like latency histogram: values (ns) fall into log2 buckets, each
// split into 2^kSubBits linear sub-buckets, so every recorded value is kept with a relative
// error below 2^-kSubBits (0.8 % at 7 bits) over the whole uint64 range, in ~58 KiB.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace sbload {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  static size_t index_of(uint64_t v) {
    if (v < kSub) return static_cast<size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int e = msb - kSubBits;  // >= 0
    return static_cast<size_t>(static_cast<uint64_t>(e) * kSub + (v >> e));
  }
  // Smallest and largest value that map to bucket `idx`.
  static uint64_t lowest_of(size_t idx) {
    if (idx < 2 * kSub) return idx;
    const uint64_t e = idx / kSub - 1;
    const uint64_t m = idx - e * kSub;
    return m << e;
  }
  static uint64_t highest_of(size_t idx) {
    if (idx < 2 * kSub) return idx;
    const uint64_t e = idx / kSub - 1;
    const uint64_t m = idx - e * kSub;
    return ((m + 1) << e) - 1;
  }

  void record(uint64_t v) {
    ++counts_[index_of(v)];
    ++total_;
    sum_ += v;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0; }

  // Value at percentile p (0..100): the midpoint of the bucket holding the ceil(p% * n)-th
  // smallest value, clamped to [min, max].
  uint64_t percentile(double p) const {
    if (total_ == 0) return 0;
    auto target = static_cast<uint64_t>(p / 100.0 * static_cast<double>(total_) + 0.999999);
    target = std::clamp<uint64_t>(target, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= target) {
        const uint64_t lo = lowest_of(i), hi = highest_of(i);
        return std::clamp<uint64_t>(lo + (hi - lo) / 2, min_, max_);
      }
    }
    return max_;
  }

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace sbload
