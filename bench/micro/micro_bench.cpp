// Micro-benchmarks of the hot paths, to check a change in seconds: frame encoding, protocol
// decoding (beside the parse-and-serialize decoder it replaced), the hub's fan-out to local
// subscribers, channel-name validation, UTF-8 validation (ours beside a naive decoder;
// bytes_per_second is the MB/s figure). Run:
//   build/bench/micro/sb-micro --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "core/channel_name.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "protocol/native/codec.hpp"
#include "protocol/native/encoder.hpp"
#include "protocol/native/tags_filters.hpp"
#include "transport/utf8.hpp"
#include "transport/ws_frame.hpp"

namespace {

const std::string payload_100 = "\"" + std::string(98, 'x') + "\"";

void EncodeMessageFrame(benchmark::State& state) {
  sb::protocol::native::NativeEncoder encoder;
  std::string data = "\"" + std::string(static_cast<std::size_t>(state.range(0)), 'x') + "\"";
  for (auto _ : state) {
    auto frame = encoder.encode(sb::core::Publication{"chat:room-42", data, 123456, 1700000000000});
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(EncodeMessageFrame)->Arg(100)->Arg(1024)->Arg(16384);

void ParseClientFrame(benchmark::State& state) {
  // A masked 100-byte text frame, as a browser sends it.
  std::string text = R"({"type":"publish","channel":"chat:room-42","data":)" + payload_100 + "}";
  std::string frame;
  frame.push_back('\x81');
  frame.push_back(static_cast<char>(0x80 | 126));
  frame.push_back(static_cast<char>(text.size() >> 8));
  frame.push_back(static_cast<char>(text.size() & 0xFF));
  frame.append("\x01\x02\x03\x04", 4);
  for (std::size_t i = 0; i < text.size(); ++i) frame.push_back(static_cast<char>(text[i] ^ "\x01\x02\x03\x04"[i % 4]));
  std::string buffer;
  for (auto _ : state) {
    buffer = frame;  // parsing unmasks in place
    auto r = sb::transport::parse_client_frame(buffer.data(), buffer.size(), 65536);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(ParseClientFrame);

// A typical publish frame, and one with a 1 KiB `data` of mixed fields.
const std::string publish_small =
    R"({"type":"publish","id":17,"channel":"chat:room-42","data":{"text":"hello there","n":5}})";
std::string publish_1k() {
  std::string data = R"({"user":"u-1234","items":[)";
  for (int i = 0; data.size() < 1000; ++i) {
    if (i) data += ',';
    data += R"({"id":)" + std::to_string(1000 + i) + R"(,"price":)" + std::to_string(i) + R"(.25,"name":"item \"q\""})";
  }
  data += "]}";
  return R"({"type":"publish","id":17,"channel":"chat:room-42","data":)" + data + "}";
}
const std::string& publish_frame(std::int64_t which) {
  static const std::string big = publish_1k();
  return which == 0 ? publish_small : big;
}

// Today's decoder: the codec, which checks the frame and keeps `data` as the bytes sent.
void DecodePublish(benchmark::State& state) {
  const std::string& text = publish_frame(state.range(0));
  std::string id;
  for (auto _ : state) {
    auto command = sb::protocol::native::decode(text, id);
    benchmark::DoNotOptimize(command);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(DecodePublish)->Arg(0)->Arg(1);

// What the codec did before `data` was opaque, kept as the baseline of the ratio: the frame
// parsed into a Boost.JSON tree, the fields read, `data` serialized again.
void DecodePublishTreeBaseline(benchmark::State& state) {
  namespace json = boost::json;
  const std::string& text = publish_frame(state.range(0));
  for (auto _ : state) {
    json::error_code ec;
    json::value root = json::parse(text, ec);
    const json::object& o = root.get_object();
    std::string id = json::serialize(o.at("id"));
    std::string type(o.at("type").get_string());
    std::string channel(o.at("channel").get_string());
    std::string data = json::serialize(o.at("data"));
    benchmark::DoNotOptimize(id);
    benchmark::DoNotOptimize(type);
    benchmark::DoNotOptimize(channel);
    benchmark::DoNotOptimize(data);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(DecodePublishTreeBaseline)->Arg(0)->Arg(1);

// The obvious validator, for comparison: decode each sequence with branches, then check range.
bool naive_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t n;
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
    static constexpr std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// 64 KiB of JSON-like ASCII (range 0), or of mixed text (range 1): Latin, Greek, CJK and emoji
// between ASCII runs, as chat messages in several languages are.
std::string utf8_sample(bool mixed) {
  const std::string piece = mixed ? "{\"text\":\"caf\xC3\xA9 \xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5 "
                                    "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 ok\"},"
                                  : "{\"type\":\"publish\",\"channel\":\"chat:room-42\",\"data\":\"hello\"},";
  std::string s;
  while (s.size() + piece.size() <= 64 * 1024) s += piece;
  return s;
}

void Utf8Validate(benchmark::State& state) {
  const std::string text = utf8_sample(state.range(0) == 1);
  for (auto _ : state) benchmark::DoNotOptimize(sb::transport::is_valid_utf8(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetLabel(state.range(0) == 1 ? "mixed" : "ascii");
}
BENCHMARK(Utf8Validate)->Arg(0)->Arg(1);

void Utf8ValidateNaive(benchmark::State& state) {
  const std::string text = utf8_sample(state.range(0) == 1);
  for (auto _ : state) benchmark::DoNotOptimize(naive_valid_utf8(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetLabel(state.range(0) == 1 ? "mixed" : "ascii");
}
BENCHMARK(Utf8ValidateNaive)->Arg(0)->Arg(1);

void ValidateChannelName(benchmark::State& state) {
  const std::string channel = "chat:room-42/thread#17";
  for (auto _ : state) benchmark::DoNotOptimize(sb::core::validate_channel_name(channel));
}
BENCHMARK(ValidateChannelName);

class CountingSubscriber : public sb::core::Subscriber {
 public:
  void deliver(const sb::SharedBytes& frame, std::string_view, std::uint64_t, std::string_view) override {
    bytes += frame->size();
  }
  std::size_t bytes = 0;
};

// One publication fanned out to N subscribers on one shard: encode once, post, deliver N times.
void HubFanOut(benchmark::State& state) {
  boost::asio::io_context shard;
  sb::protocol::native::NativeEncoder encoder;
  sb::core::LocalBroker broker;
  sb::core::Hub hub({&shard}, encoder, broker);
  std::vector<CountingSubscriber> subscribers(static_cast<std::size_t>(state.range(0)));
  for (auto& s : subscribers) (void)hub.subscribe(0, "wide", s);
  for (auto _ : state) {
    hub.publish("wide", payload_100);
    shard.restart();
    shard.poll();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(HubFanOut)->Arg(1)->Arg(100)->Arg(1000);

// Filters (docs/filters.md): one tagged publication fanned out to 1,000 subscribers, either all
// unfiltered (Arg 0) or split into 10 groups of 100, each with its own filter (Arg 10). Every
// filter matches, so both deliver 1,000 frames: the difference is the filters' own cost (10
// evaluations per publication, the groups' walk). Target: /10 within 1.3x of /0.
void HubFanOutFiltered(benchmark::State& state) {
  boost::asio::io_context shard;
  sb::protocol::native::NativeEncoder encoder;
  sb::core::LocalBroker broker;
  sb::core::Hub hub({&shard}, encoder, broker);
  const auto groups = static_cast<std::size_t>(state.range(0));
  std::vector<CountingSubscriber> subscribers(1000);
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    std::shared_ptr<const sb::core::Filter> filter;
    if (groups > 0) {
      const std::string g = std::to_string(i * groups / subscribers.size());  // blocks of 100
      // A shape a dashboard would use: a circle or a project, and not muted.
      filter = *sb::protocol::native::parse_filter(R"({"and":[{"or":[{"eq":["circle","12"]},{"in":["project",[")" + g +
                                                   R"(","7"]]}]},{"neq":["muted",")" + g + R"("]}]})");
    }
    (void)hub.subscribe(0, "wide", subscribers[i], {}, nullptr, filter);
  }
  const std::string tags = *sb::protocol::native::parse_tags(R"({"circle":"12","project":"7","kind":"update"})");
  for (auto _ : state) {
    hub.publish("wide", payload_100, {}, [](sb::Result<sb::core::StreamPosition>) {}, {}, tags);
    shard.restart();
    shard.poll();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 1000);
}
BENCHMARK(HubFanOutFiltered)->Arg(0)->Arg(10);

}  // namespace

BENCHMARK_MAIN();
