#pragma once
// A real redis-server for the tests (Debian's package, installed by `make test`), on a free
// loopback port with its own directory, stopped with the test. Append-only file with fsync on
// every write: a restart keeps everything Redis acknowledged, as docs/scaling.md tells operators
// to configure it.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/waiting.hpp"

namespace sb::test {

class RedisServer {
 public:
  RedisServer() : port_(free_port()) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-redis-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    start();
  }
  ~RedisServer() {
    kill_now();
    std::filesystem::remove_all(dir_);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Starts (again) on the same port and directory, and waits until it answers PING.
  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test, even one that aborts before its destructors run.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const std::string port = std::to_string(port_);
      const std::string log = (dir_ / "redis.log").string();
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--dir", dir_.c_str(),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", log.c_str(),
             "--daemonize", "no", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (!eventually([&] { return ping(); }, std::chrono::seconds(10)))
      throw std::runtime_error("redis-server did not start (is Debian's redis-server installed?)");
  }
  // kill -9: what Redis acknowledged is in its append-only file (fsync always).
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // One command: the first line of the raw reply (enough for tests: "+OK", ":3", "$5"...).
  std::string command(const std::vector<std::string>& args) const {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    std::string request = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    asio::write(socket, asio::buffer(request));
    asio::streambuf buffer;
    asio::read_until(socket, buffer, "\r\n");
    std::string reply(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
    return reply.substr(0, reply.find("\r\n"));
  }
  bool ping() const {
    try {
      return command({"PING"}) == "+PONG";
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  std::uint16_t port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace sb::test
