#pragma once
// The real server, in process, on 127.0.0.1 and a free port (port 0, read back).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "server/app.hpp"

namespace sb::test {

class TestServer {
 public:
  explicit TestServer(std::function<void(server::Config&)> adjust = {}) {
    server::Config config;
    config.listen = "127.0.0.1:0";
    config.data_dir = ::testing::TempDir() + "switchboard-test-data";
    config.threads = 2;
    config.log_level = "warn";
    if (adjust) adjust(config);
    app_ = std::make_unique<server::App>(config);
    app_->start();
  }
  ~TestServer() {
    app_->stop();
    app_->wait();
  }
  std::uint16_t port() const { return app_->port(); }
  server::App& app() { return *app_; }

 private:
  std::unique_ptr<server::App> app_;
};

// Polls `condition` until it holds or `timeout` passes; tests wait for conditions, never sleep.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace sb::test
