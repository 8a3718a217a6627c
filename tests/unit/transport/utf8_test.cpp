// The validator against a reference written the slow, obvious way (decode each code point, then
// check its range), exhaustively over every 1-, 2- and 3-byte string and every 4-byte string
// whose lead byte could start a 4-byte sequence, and split at every position.
#include "transport/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb::transport {
namespace {

// Reference: decodes sequence by sequence, checking length, continuation bytes and range.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    std::size_t n = 0;
    if (b < 0x80) { cp = b; n = 1; }
    else if ((b & 0xE0) == 0xC0) { cp = b & 0x1F; n = 2; }
    else if ((b & 0xF0) == 0xE0) { cp = b & 0x0F; n = 3; }
    else if ((b & 0xF8) == 0xF0) { cp = b & 0x07; n = 4; }
    else return false;
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Fed in two pieces, split at `at`: same verdict as whole, and a failure never recovers.
bool split_valid(std::string_view s, std::size_t at) {
  Utf8Validator v;
  if (!v.feed(s.substr(0, at))) return false;
  return v.feed(s.substr(at)) && v.complete();
}

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

TEST(Utf8, EveryOneAndTwoByteString) {
  for (int a = 0; a < 256; ++a) {
    EXPECT_EQ(is_valid_utf8(bytes({a})), reference_valid(bytes({a}))) << a;
    for (int b = 0; b < 256; ++b) {
      const std::string s = bytes({a, b});
      ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b;
      ASSERT_EQ(split_valid(s, 1), reference_valid(s)) << a << " " << b;
    }
  }
}

TEST(Utf8, EveryThreeByteString) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c = 0; c < 256; ++c) {
        const std::string s = bytes({a, b, c});
        const bool expected = reference_valid(s);
        ASSERT_EQ(is_valid_utf8(s), expected) << a << " " << b << " " << c;
        if (a >= 0xC0) {  // splits matter only where a sequence can straddle them
          ASSERT_EQ(split_valid(s, 1), expected);
          ASSERT_EQ(split_valid(s, 2), expected);
        }
      }
}

TEST(Utf8, EveryFourByteSequenceLead) {
  // Every second byte, and the third and fourth bytes at each class boundary.
  const int edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF};
  for (int a = 0xF0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c : edges)
        for (int d : edges) {
          const std::string s = bytes({a, b, c, d});
          const bool expected = reference_valid(s);
          ASSERT_EQ(is_valid_utf8(s), expected) << a << " " << b << " " << c << " " << d;
          for (std::size_t at = 0; at <= 4; ++at) ASSERT_EQ(split_valid(s, at), expected);
        }
}

TEST(Utf8, NamedEdgeCases) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"));
  EXPECT_TRUE(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // κόσμε
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));                              // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));                                  // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));                                  // U+E000
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));                                  // U+FFFF (a noncharacter, still valid)
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                             // U+110000
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                                 // U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));                                 // U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80\xED\xB0\x80"));                     // a surrogate pair
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                                     // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\xAF"));                         // 5-byte form
  EXPECT_FALSE(is_valid_utf8("\xCE\xBA\xE1"));                                 // truncated at the end
  EXPECT_FALSE(is_valid_utf8("\x80"));                                         // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xFE"));
}

TEST(Utf8, FailsFastAtTheFirstImpossibleByte) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));
  EXPECT_FALSE(v.feed("\xF4\x90"));  // U+110000 is already impossible at its second byte
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.feed("abc"));  // sticks
  v.reset();
  EXPECT_TRUE(v.feed("\xED"));
  EXPECT_FALSE(v.complete());   // cut inside a sequence: not yet a whole text
  EXPECT_FALSE(v.feed("\xA0"));  // a surrogate, refused at its second byte
}

TEST(Utf8, LongTextSplitAtEveryPosition) {
  // Long enough to take the ASCII word path, with multi-byte characters at varied offsets.
  std::string text;
  for (int i = 0; i < 40; ++i) text += i % 7 == 0 ? "\xF0\x9F\x98\x80" : i % 5 == 0 ? "\xE2\x82\xAC" : "abcdefghij";
  ASSERT_TRUE(reference_valid(text));
  for (std::size_t at = 0; at <= text.size(); ++at) ASSERT_TRUE(split_valid(text, at)) << at;
  for (std::size_t bad = 0; bad < text.size(); ++bad) {
    std::string broken = text;
    broken[bad] = static_cast<char>(0xFF);
    ASSERT_FALSE(is_valid_utf8(broken)) << bad;
    // Fails within the piece that holds the bad byte, whatever comes after.
    Utf8Validator v;
    EXPECT_FALSE(v.feed(std::string_view(broken).substr(0, bad + 1))) << bad;
  }
  EXPECT_FALSE(is_valid_utf8(text + "\xF0\x9F\x98"));  // ends mid-sequence
}

}  // namespace
}  // namespace sb::transport
