// The request reader alone: framing rules and byte budgets, byte by byte and all at once.
#include <gtest/gtest.h>

#include <string>

#include "transport/http_request_reader.hpp"

namespace sb::transport {
namespace {

using Step = RequestReader::Step;

// Feeds `bytes` `piece` at a time until the reader stops asking for more; the last step.
Step feed(RequestReader& reader, const std::string& bytes, std::size_t piece = 1 << 20) {
  std::size_t pos = 0;
  for (;;) {
    Step step = reader.parse();
    if (step == Step::head) continue;
    if (step != Step::need_more || pos == bytes.size()) return step;
    const std::size_t n = std::min(piece, bytes.size() - pos);
    reader.feed(bytes.data() + pos, n);
    pos += n;
  }
}

TEST(RequestReader, ReadsContentLengthAndChunkedBodiesInAnyPieces) {
  for (std::size_t piece : {1u, 3u, 1000u}) {
    RequestReader reader(RequestLimits{});
    ASSERT_EQ(feed(reader, "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", piece), Step::done);
    EXPECT_EQ(reader.request().body, "abc");
    EXPECT_EQ(reader.request().header("content-length"), "3");
    RequestReader chunked(RequestLimits{});
    ASSERT_EQ(feed(chunked,
                   "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\nT: 1\r\n\r\nNEXT",
                   piece),
              Step::done);
    EXPECT_EQ(chunked.request().body, "abc");
    EXPECT_EQ(chunked.request().header("T"), "");  // trailers are not headers
    if (piece == 1000) EXPECT_EQ(chunked.take_unparsed(), "NEXT");  // fed at once: the rest waits
  }
}

TEST(RequestReader, TransferEncodingOtherThanChunkedAloneIsRefused) {
  const std::pair<const char*, int> shapes[] = {
      {"Transfer-Encoding: xchunked\r\n", 501},
      {"Transfer-Encoding: gzip, chunked\r\n", 501},
      {"Transfer-Encoding: chunked, gzip\r\n", 400},
      {"Transfer-Encoding: chunked,chunked\r\n", 400},
      {"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n", 400},
      {"Transfer-Encoding: ,\r\n", 400},
  };
  for (const auto& [headers, status] : shapes) {
    RequestReader reader(RequestLimits{});
    ASSERT_EQ(feed(reader, std::string("POST / HTTP/1.1\r\n") + headers + "\r\n0\r\n\r\n"), Step::refused) << headers;
    EXPECT_EQ(reader.refusal().status, status) << headers;
  }
  RequestReader old(RequestLimits{});
  ASSERT_EQ(feed(old, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Step::refused);
  EXPECT_EQ(old.refusal().status, 400);
}

TEST(RequestReader, ChunkLinesAndTheWholeRequestAreBounded) {
  RequestLimits limits;
  limits.max_body = 1000;
  // A chunk-size line that never ends: refused once 4 KiB wait for its CRLF.
  RequestReader line(limits);
  ASSERT_EQ(feed(line, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(5000, 'a'), 512),
            Step::refused);
  EXPECT_EQ(line.refusal().status, 400);
  // Short extensions on many small chunks: the framing bytes count with the body.
  std::string many = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 100; ++i) many += "1;" + std::string(300, 'e') + "\r\nx\r\n";
  RequestReader budget(limits);
  ASSERT_EQ(feed(budget, many, 700), Step::refused);
  EXPECT_EQ(budget.refusal().status, 413);
  // The body alone.
  RequestReader body(limits);
  ASSERT_EQ(feed(body, "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"), Step::refused);
  EXPECT_EQ(body.refusal().status, 413);
  // The head.
  RequestReader head(limits);
  ASSERT_EQ(feed(head, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'h'), 4096), Step::refused);
  EXPECT_EQ(head.refusal().status, 431);
}

TEST(RequestReader, AStreamedBodyGoesToTheSinkAndOnlyItsFramingCounts) {
  RequestLimits limits;
  limits.max_body = 10;
  RequestReader reader(limits);
  const std::string head = "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  reader.feed(head.data(), head.size());
  ASSERT_EQ(reader.parse(), Step::head);
  ASSERT_TRUE(reader.has_body());
  std::string got;
  reader.stream_body_to([&](std::string_view b) { got.append(b); });
  const std::string body = "14\r\n" + std::string(20, 'z') + "\r\n0\r\n\r\n";
  EXPECT_EQ(feed(reader, body, 5), Step::done);
  EXPECT_EQ(got, std::string(20, 'z'));
}

}  // namespace
}  // namespace sb::transport
