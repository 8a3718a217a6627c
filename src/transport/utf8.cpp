#include "transport/utf8.hpp"

#include <array>
#include <cstring>

namespace sb::transport {

namespace {

// Byte classes: bytes that behave alike in every state share one.
enum Class : std::uint8_t {
  ascii,      // 00..7F
  cont_low,   // 80..8F
  cont_mid,   // 90..9F
  cont_high,  // A0..BF
  lead2,      // C2..DF
  lead_e0,    // E0: next byte A0..BF, or the code point would be overlong
  lead3,      // E1..EC, EE..EF
  lead_ed,    // ED: next byte 80..9F, or it would be a surrogate
  lead_f0,    // F0: next byte 90..BF, or overlong
  lead4,      // F1..F3
  lead_f4,    // F4: next byte 80..8F, or above U+10FFFF
  never,      // C0, C1 (always overlong), F5..FF (always above U+10FFFF)
  class_count
};

// States: accept and reject as in the header, then what the next bytes must be.
enum State : std::uint8_t {
  s_accept = Utf8Validator::accept,
  s_reject = Utf8Validator::reject,
  need1,     // one more 80..BF
  need2,     // two more 80..BF
  need3,     // three more 80..BF
  after_e0,  // A0..BF, then need1
  after_ed,  // 80..9F, then need1
  after_f0,  // 90..BF, then need2
  after_f4,  // 80..8F, then need2
  state_count
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    std::uint8_t k = never;
    if (b <= 0x7F) k = ascii;
    else if (b <= 0x8F) k = cont_low;
    else if (b <= 0x9F) k = cont_mid;
    else if (b <= 0xBF) k = cont_high;
    else if (b >= 0xC2 && b <= 0xDF) k = lead2;
    else if (b == 0xE0) k = lead_e0;
    else if (b == 0xED) k = lead_ed;
    else if (b >= 0xE1 && b <= 0xEF) k = lead3;
    else if (b == 0xF0) k = lead_f0;
    else if (b >= 0xF1 && b <= 0xF3) k = lead4;
    else if (b == 0xF4) k = lead_f4;
    c[static_cast<std::size_t>(b)] = k;
  }
  return c;
}

constexpr std::size_t table_size = std::size_t{state_count} * std::size_t{class_count};

// next[state * class_count + class]
constexpr std::array<std::uint8_t, table_size> make_transitions() {
  std::array<std::uint8_t, table_size> t{};
  for (auto& x : t) x = s_reject;
  auto set = [&t](int state, int cls, std::uint8_t to) { t[static_cast<std::size_t>(state * int{class_count} + cls)] = to; };
  set(s_accept, ascii, s_accept);
  set(s_accept, lead2, need1);
  set(s_accept, lead_e0, after_e0);
  set(s_accept, lead3, need2);
  set(s_accept, lead_ed, after_ed);
  set(s_accept, lead_f0, after_f0);
  set(s_accept, lead4, need3);
  set(s_accept, lead_f4, after_f4);
  for (int cls : {cont_low, cont_mid, cont_high}) {
    set(need1, cls, s_accept);
    set(need2, cls, need1);
    set(need3, cls, need2);
  }
  set(after_e0, cont_high, need1);
  set(after_ed, cont_low, need1);
  set(after_ed, cont_mid, need1);
  set(after_f0, cont_mid, need2);
  set(after_f0, cont_high, need2);
  set(after_f4, cont_low, need2);
  return t;
}

constexpr auto classes = make_classes();
constexpr auto transitions = make_transitions();

// The same automaton laid out for speed (Per Vognsen's "shift-based DFA"): for each byte, one
// 64-bit row holding, in 6 bits per state, the next state times 6. A step is one load and one
// shift (`row[byte] >> state`), so the chain from one byte to the next is a couple of cycles,
// not the two dependent look-ups of the table above. States are kept multiplied by 6.
constexpr int bits_per_state = 6;
static_assert(state_count * bits_per_state <= 64);

constexpr std::array<std::uint64_t, 256> make_rows() {
  std::array<std::uint64_t, 256> rows{};
  for (std::size_t b = 0; b < 256; ++b)
    for (std::size_t st = 0; st < state_count; ++st) {
      const std::uint64_t next = transitions[st * class_count + classes[b]];
      rows[b] |= (next * bits_per_state) << (st * bits_per_state);
    }
  return rows;
}

constexpr auto rows = make_rows();
constexpr std::uint64_t shifted_accept = s_accept * bits_per_state;
constexpr std::uint64_t shifted_reject = s_reject * bits_per_state;

constexpr std::uint64_t high_bits = 0x8080808080808080ULL;

}  // namespace

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  std::uint64_t state = std::uint64_t{state_} * bits_per_state;
  while (p < end) {
    if (state == shifted_accept && *p < 0x80) {
      // Between characters, at an ASCII byte: skip ASCII a word at a time (32 bytes, then 8).
      while (end - p >= 32) {
        std::uint64_t w[4];
        std::memcpy(w, p, 32);
        if (((w[0] | w[1] | w[2] | w[3]) & high_bits) != 0) break;
        p += 32;
      }
      while (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        if ((w & high_bits) != 0) break;
        p += 8;
      }
      if (p == end) break;
    }
    // Non-ASCII: up to 16 bytes without looking at the state, which only a reject can end
    // early (reject maps to itself), then one check.
    const auto* stop = end - p > 16 ? p + 16 : end;
    while (p < stop) state = (rows[*p++] >> state) & 63;
    if (state == shifted_reject) break;
  }
  state_ = static_cast<std::uint8_t>(state / bits_per_state);
  return state_ != s_reject;
}

bool is_valid_utf8(std::string_view text) noexcept {
  Utf8Validator v;
  return v.feed(text) && v.complete();
}

}  // namespace sb::transport
