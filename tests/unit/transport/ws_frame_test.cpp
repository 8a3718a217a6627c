#include "transport/ws_frame.hpp"

#include <gtest/gtest.h>

#include "support/raw_ws.hpp"

namespace sb::transport {
namespace {

TEST(WsFrame, HeaderUsesTheShortestLengthForm) {
  EXPECT_EQ(encode_frame(WsOpcode::text, std::string(125, 'x')).substr(0, 2), std::string("\x81\x7d", 2));
  EXPECT_EQ(encode_frame(WsOpcode::text, std::string(126, 'x')).substr(0, 4), std::string("\x81\x7e\x00\x7e", 4));
  EXPECT_EQ(encode_frame(WsOpcode::binary, std::string(65535, 'x')).substr(0, 4), std::string("\x82\x7e\xff\xff", 4));
  EXPECT_EQ(encode_frame(WsOpcode::text, std::string(65536, 'x')).substr(0, 10),
            std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(WsFrame, ServerFramesAreUnmaskedAndWhole) {
  std::string f = encode_frame(WsOpcode::text, "hello");
  EXPECT_EQ(f, std::string("\x81\x05hello", 7));
}

TEST(WsFrame, CloseFrameCarriesCodeAndTruncatedReason) {
  std::string f = encode_close_frame(4001, std::string(200, 'r'));
  ASSERT_EQ(f.size(), 2u + 125u);
  EXPECT_EQ(static_cast<unsigned char>(f[2]), 4001 >> 8);
  EXPECT_EQ(static_cast<unsigned char>(f[3]), 4001 & 0xFF);
}

TEST(WsFrame, ParsesAndUnmasksAClientFrame) {
  std::string f = test::RawWs::frame(0x1, R"({"type":"ping"})");
  auto r = parse_client_frame(f.data(), f.size(), 1024);
  ASSERT_EQ(r.status, WsParseStatus::complete);
  EXPECT_EQ(r.consumed, f.size());
  EXPECT_EQ(r.frame.opcode, WsOpcode::text);
  EXPECT_TRUE(r.frame.fin);
  EXPECT_EQ(r.frame.payload, R"({"type":"ping"})");
}

TEST(WsFrame, AsksForMoreOnEveryPrefixOfAFrame) {
  std::string whole = test::RawWs::frame(0x2, std::string(300, 'a'));
  for (std::size_t n = 0; n < whole.size(); ++n) {
    std::string part = whole.substr(0, n);
    EXPECT_EQ(parse_client_frame(part.data(), part.size(), 1024).status, WsParseStatus::need_more) << n;
  }
}

TEST(WsFrame, ParsesTwoFramesBackToBack) {
  std::string two = test::RawWs::frame(0x1, "one") + test::RawWs::frame(0x1, "two");
  auto first = parse_client_frame(two.data(), two.size(), 1024);
  ASSERT_EQ(first.status, WsParseStatus::complete);
  EXPECT_EQ(first.frame.payload, "one");
  auto second = parse_client_frame(two.data() + first.consumed, two.size() - first.consumed, 1024);
  ASSERT_EQ(second.status, WsParseStatus::complete);
  EXPECT_EQ(second.frame.payload, "two");
}

TEST(WsFrame, RejectsWhatRfc6455Forbids) {
  std::string unmasked = test::RawWs::frame(0x1, "x", true, false);
  EXPECT_EQ(parse_client_frame(unmasked.data(), unmasked.size(), 1024).status, WsParseStatus::protocol_error);
  std::string rsv = test::RawWs::frame(0x1, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  EXPECT_EQ(parse_client_frame(rsv.data(), rsv.size(), 1024).status, WsParseStatus::protocol_error);
  std::string bad_opcode = test::RawWs::frame(0x3, "x");
  EXPECT_EQ(parse_client_frame(bad_opcode.data(), bad_opcode.size(), 1024).status, WsParseStatus::protocol_error);
  std::string fragmented_ping = test::RawWs::frame(0x9, "x", false);
  EXPECT_EQ(parse_client_frame(fragmented_ping.data(), fragmented_ping.size(), 1024).status,
            WsParseStatus::protocol_error);
  std::string long_ping = test::RawWs::frame(0x9, std::string(126, 'p'));
  EXPECT_EQ(parse_client_frame(long_ping.data(), long_ping.size(), 1024).status, WsParseStatus::protocol_error);
}

TEST(WsFrame, RejectsADeclaredLengthAboveTheLimitBeforeItArrives) {
  std::string big = test::RawWs::frame(0x1, std::string(2000, 'b')).substr(0, 8);
  EXPECT_EQ(parse_client_frame(big.data(), big.size(), 1000).status, WsParseStatus::too_big);
}

}  // namespace
}  // namespace sb::transport
