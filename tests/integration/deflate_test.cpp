// permessage-deflate: negotiated when offered, compressed client messages inflated, and a bound
// on what they inflate to.
#include <gtest/gtest.h>
#include <zlib.h>

#include "support/raw_ws.hpp"
#include "support/test_server.hpp"
#include "transport/deflate.hpp"

namespace sb::test {
namespace {

// Raw deflate as a browser sends it: a sync flush, then the 00 00 FF FF tail taken off.
std::string compress(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out.substr(0, out.size() - 4);
}

const char* offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

class Deflate : public ::testing::Test {
 protected:
  TestServer server{[](server::Config& c) { c.limits.max_message_size = 64 * 1024; }};
  RawWs ws{server.port()};
  std::string head;
  void SetUp() override {
    head = ws.upgrade("/ws", offer);
    ASSERT_TRUE(ws.read_frame());  // connected
  }
};

TEST_F(Deflate, IsAcceptedWhenOfferedWithoutContextTakeover) {
  EXPECT_NE(head.find("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                      "client_no_context_takeover"),
            std::string::npos)
      << head;
}

TEST_F(Deflate, CompressedMessagesAreInflated) {
  ws.write(RawWs::frame(0x1, compress(R"({"type":"ping","id":"z"})"), true, true, true));
  auto reply = ws.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, R"({"type":"pong","id":"z"})");
  // Fragmented: RSV1 on the first frame only.
  std::string c = compress(R"({"type":"ping","id":"frag"})");
  ws.write(RawWs::frame(0x1, c.substr(0, 5), false, true, true) + RawWs::frame(0x0, c.substr(5), true, true, false));
  reply = ws.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, R"({"type":"pong","id":"frag"})");
  // Uncompressed messages are still fine on the same connection.
  ws.send_text(R"({"type":"ping","id":"plain"})");
  EXPECT_EQ(ws.read_frame()->payload, R"({"type":"pong","id":"plain"})");
}

TEST_F(Deflate, ACompressionBombIsCutAtTheMessageLimit) {
  // 10 MB of spaces compress to about 10 KB; the limit is 64 KiB once inflated.
  std::string bomb = compress(std::string(10 * 1024 * 1024, ' '));
  ASSERT_LT(bomb.size(), 64u * 1024u);
  ws.write(RawWs::frame(0x1, bomb, true, true, true));
  EXPECT_EQ(ws.read_until_close(), 1009);
}

TEST_F(Deflate, DataThatDoesNotInflateClosesWith1007) {
  ws.write(RawWs::frame(0x1, "\xff\xff\xff\xff garbage", true, true, true));
  EXPECT_EQ(ws.read_until_close(), 1007);
}

TEST_F(Deflate, Rsv1OnAContinuationIsAProtocolError) {
  std::string c = compress(R"({"type":"ping"})");
  ws.write(RawWs::frame(0x1, c.substr(0, 3), false, true, true) + RawWs::frame(0x0, c.substr(3), true, true, true));
  EXPECT_EQ(ws.read_until_close(), 1002);
}

TEST(DeflateOff, Rsv1WithoutTheExtensionIsAProtocolError) {
  TestServer server;
  RawWs ws(server.port());
  std::string head = ws.upgrade();  // no offer
  EXPECT_EQ(head.find("Sec-WebSocket-Extensions"), std::string::npos);
  ASSERT_TRUE(ws.read_frame());
  ws.write(RawWs::frame(0x1, compress(R"({"type":"ping"})"), true, true, true));
  EXPECT_EQ(ws.read_until_close(), 1002);
}

TEST(DeflateNegotiation, AnswersOffersItCanHonourAndDeclinesOthers) {
  using transport::negotiate_deflate;
  EXPECT_EQ(negotiate_deflate("permessage-deflate"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(negotiate_deflate("permessage-deflate; server_max_window_bits=10"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10");
  EXPECT_EQ(negotiate_deflate("permessage-deflate; x-unknown=1"), "");
  EXPECT_EQ(negotiate_deflate("x-webkit-deflate-frame"), "");
  EXPECT_EQ(negotiate_deflate("permessage-deflate; x-unknown, permessage-deflate"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(negotiate_deflate(""), "");
}

}  // namespace
}  // namespace sb::test
