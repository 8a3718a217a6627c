#pragma once
// The real switchboard binary as a child process, for what only a separate process can show:
// signals, kill -9, restarts on the same data dir, exit codes.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "support/ws_client.hpp"
#include "support/test_server.hpp"

namespace sb::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Child {
 public:
  // Runs SWITCHBOARD_BIN with `args`, its stderr going to `stderr_path`.
  Child(std::vector<std::string> args, const std::string& stderr_path) {
    args.insert(args.begin(), SWITCHBOARD_BIN);
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test, even one that aborts before its destructors run.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* err = std::fopen(stderr_path.c_str(), "w");
      if (err) dup2(fileno(err), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      wait_exit();
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }
  // Exit code, or minus the signal that ended it.
  int wait_exit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  // Waits until /healthz answers on `port`.
  static bool wait_healthy(std::uint16_t port) {
    return eventually([&] {
      try {
        return client::http_request("127.0.0.1", port, "GET", "/healthz").status == 200;
      } catch (const std::exception&) {
        return false;
      }
    }, std::chrono::seconds(10));
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace sb::test
