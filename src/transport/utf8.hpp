#pragma once
// UTF-8 validation (RFC 3629) for text messages and close reasons (RFC 6455 8.1), incremental so
// a message can be checked fragment by fragment as it arrives and fail at the first byte that
// cannot start or continue a valid sequence: overlong forms, surrogates (U+D800..DFFF) and code
// points above U+10FFFF are refused as early as their first impossible byte.
//
// A deterministic automaton in the spirit of Björn Höhrmann's decoder (bytes grouped into
// classes, a transition per state and class), laid out as a shift-based table: one load and one
// shift per byte, no branch on the byte's value. Runs of ASCII (most of JSON) are skipped 32 and
// 8 bytes at a time. bench/micro: about 26 GB/s on ASCII and 1.3 GB/s on mixed text, against
// 1.9 and 1.0 GB/s for a branchy per-code-point decoder.
#include <cstdint>
#include <string_view>

namespace sb::transport {

class Utf8Validator {
 public:
  // Checks the next bytes of the text. False as soon as a byte cannot be valid UTF-8, and from
  // then on (the state sticks) until reset().
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far is valid and ends on a character boundary: false for a text
  // cut inside a sequence (which the next feed() may still complete).
  bool complete() const noexcept { return state_ == accept; }
  bool failed() const noexcept { return state_ == reject; }
  void reset() noexcept { state_ = accept; }

  static constexpr std::uint8_t accept = 0;
  static constexpr std::uint8_t reject = 1;

 private:
  std::uint8_t state_ = accept;
};

// The whole text at once: valid and not cut inside a sequence.
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace sb::transport
