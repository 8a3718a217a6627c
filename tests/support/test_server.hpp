#pragma once
// The real server, in process, on 127.0.0.1 and a free port (port 0, read back).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "server/app.hpp"
#include "support/waiting.hpp"

namespace sb::test {

class TestServer {
 public:
  explicit TestServer(std::function<void(server::Config&)> adjust = {}) {
    server::Config config;
    config.listen = "127.0.0.1:0";
    // A data dir of its own: tests run in parallel processes and must not share history.
    static int counter = 0;
    config.data_dir = ::testing::TempDir() + "switchboard-test-" + std::to_string(::getpid()) + "-" +
                      std::to_string(++counter);
    std::filesystem::remove_all(config.data_dir);
    data_dir_ = config.data_dir;
    config.threads = 2;
    config.log_level = "warn";
    // Tests that flood would hit the rate limits; the tests of the limits set them back.
    config.rate_per_connection = config.rate_burst = config.rate_per_user = config.rate_user_burst = 1e9;
    if (adjust) adjust(config);
    app_ = std::make_unique<server::App>(config);
    app_->start();
  }
  ~TestServer() {
    app_->stop();
    app_->wait();
    app_.reset();
    std::filesystem::remove_all(data_dir_);
  }
  std::uint16_t port() const { return app_->port(); }
  server::App& app() { return *app_; }

 private:
  std::unique_ptr<server::App> app_;
  std::string data_dir_;
};


}  // namespace sb::test
