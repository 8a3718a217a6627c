#pragma once
// An HttpApi over a real core::Hub (two shards run by the test), for the handler tests: requests
// go in as transport::HttpRequest values through HttpApi::handle, answers come back as the
// HttpResponse handed to the reply.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http_api.hpp"
#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "storage/memory_history.hpp"

namespace sb::api::test {

// Encodes "channel|offset|data" (and "|from" when the publication has one), so a subscriber's
// frames show what the API published.
class TextEncoder : public core::PublicationEncoder {
 public:
  SharedBytes encode(const core::Publication& p) const override {
    std::string text = std::string(p.channel) + "|" + std::to_string(p.offset) + "|" + std::string(p.data);
    if (!p.from.empty()) text.append("|").append(p.from);
    return make_shared_bytes(std::move(text));
  }
};

class Recorder : public core::Subscriber {
 public:
  void deliver(const SharedBytes& frame, std::string_view, std::uint64_t, std::string_view) override {
    frames.push_back(*frame);
  }
  std::vector<std::string> frames;
};

// Every figure a different value, so a test can tell which one a key shows.
inline Stats numbered_stats() {
  Stats s;
  std::uint64_t n = 1000;
#define SB_TEST_NUMBER(type, field, series, kind, shown, help) s.field = static_cast<type>(++n);
  SB_API_STATS(SB_TEST_NUMBER)
#undef SB_TEST_NUMBER
  s.uptime_seconds = 12.75;
  return s;
}

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest() {
    core::NamespaceOptions rooms;
    rooms.name = "rooms";
    rooms.presence = true;
    namespaces.add(rooms);
    core::NamespaceOptions kept;
    kept.name = "kept";
    kept.history.size = 10;
    namespaces.add(kept);
  }

  // Sends a request as a loopback caller without API keys would, and waits (running the shards)
  // for its answer, at most 5 s.
  transport::HttpResponse call(std::string method, std::string target, std::string body = {},
                               std::vector<std::pair<std::string, std::string>> headers = {
                                   {"Content-Type", "application/json"}}) {
    transport::HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    request.headers = std::move(headers);
    request.headers.emplace_back("Host", "localhost:8080");
    request.remote_address = "127.0.0.1";
    request.remote_is_loopback = true;
    std::mutex mutex;
    std::optional<transport::HttpResponse> answer;
    int replies = 0;
    api.handle(request, [&](transport::HttpResponse r) {
      std::lock_guard lock(mutex);
      ++replies;
      answer = std::move(r);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      run_shards();
      {
        std::lock_guard lock(mutex);
        if (answer) {
          EXPECT_EQ(replies, 1);
          return std::move(*answer);
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "no answer to " << request.method << " " << request.target;
        return transport::HttpResponse{0, {}, {}, {}};
      }
      std::this_thread::yield();
    }
  }

  void run_shards() {
    for (auto* shard : {&shard0, &shard1}) {
      shard->restart();
      shard->poll();
    }
  }

  static std::string header(const transport::HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return {};
  }
  static boost::json::value json_of(const transport::HttpResponse& r) { return boost::json::parse(r.body); }

  boost::asio::io_context shard0, shard1;
  TextEncoder encoder;
  storage::MemoryHistory store;
  core::LocalBroker broker{&store};
  core::Hub hub{{&shard0, &shard1}, encoder, broker};
  core::Namespaces namespaces;
  session::ClientRegistry registry;
  ApiKeys keys{{}};
  Stats figures = numbered_stats();
  session::Streams streams{hub, namespaces, session::StreamOptions{}, [](const std::string&, std::string, auto) {}};
  StaticFiles web{"/nonexistent"};
  session::OriginPolicy origins{{}, {}};
  HttpApi api{HttpApi::Dependencies{hub, namespaces, registry, keys, [this] { return figures; }, streams, web, origins}};
};

}  // namespace sb::api::test
