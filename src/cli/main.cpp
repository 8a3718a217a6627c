// switchboard: the command line. `serve` runs the server; `check-config` validates a config.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

#include "server/app.hpp"
#include "server/config.hpp"

namespace {

// True when standard error is the systemd journal: systemd names that stream in $JOURNAL_STREAM
// as "device:inode", and we compare, since a child of a journal-logged shell inherits the variable
// with its stderr sent elsewhere.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || ::fstat(STDERR_FILENO, &st) != 0) return false;
  return std::string(stream) == std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// "<N>", the syslog priority of the message: the journal reads it off the start of each line, so
// `journalctl -p warning` finds warnings and errors.
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    // trace, debug, info, warn, err, critical, off
    static constexpr char priority[] = {'7', '7', '6', '4', '3', '2', '6'};
    const char text[] = {'<', priority[static_cast<int>(msg.level)], '>'};
    dest.append(text, text + sizeof text);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriorityFlag>(); }
};

void setup_logging(const sb::server::Config& config) {
  auto logger = spdlog::stderr_color_mt("switchboard");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (config.log_format == "json") {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":"%v"})");
  } else if (stderr_is_journal()) {
    // The journal stamps each line with the time itself.
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%l %v");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
}

// Tells the service manager about our state (sd_notify(3)): one datagram to the unix socket named
// by $NOTIFY_SOCKET, '@' meaning the abstract namespace. The protocol is documented and stable, so
// these lines replace a dependency on libsystemd for the build, the package and the container.
// Without NOTIFY_SOCKET (not started by systemd as Type=notify) it does nothing; a failed send is
// ignored, since readiness is advice to the manager and never a reason to stop serving.
void notify_service_manager(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length < 2 || length >= sizeof(address.sun_path)) return;
  std::memcpy(address.sun_path, path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
  ::close(fd);
}

sb::server::Config build_config(const std::string& config_path, const sb::server::ConfigOverrides& overrides) {
  sb::server::Config config;
  auto env = sb::server::process_environment();
  std::string path = config_path;
  if (path.empty()) {
    auto it = env.find("SWITCHBOARD_CONFIG");
    if (it != env.end()) path = it->second;
  }
  if (!path.empty()) sb::server::apply_config_file(config, path);
  sb::server::apply_environment(config, env);
  sb::server::apply_overrides(config, overrides);
  sb::server::validate(config);
  return config;
}

int serve(const sb::server::Config& config) {
  setup_logging(config);
  ::signal(SIGPIPE, SIG_IGN);
  // Signals are waited for on their own thread, outside the workers. Registered before start(), so
  // a SIGTERM that comes as soon as the port listens (or READY=1 is out) waits for the handler
  // below instead of killing the process.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  sb::server::App app(config);
  app.start();
  // start() returns once the port is bound and listening: a client connecting now is accepted.
  notify_service_manager("READY=1\nSTATUS=listening on " + config.listen_host() + ":" + std::to_string(app.port()));
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: closing connections and stopping", signal);
    notify_service_manager("STOPPING=1");
    app.stop();
  });
  std::thread signal_thread([&] { signals_context.run(); });
  app.wait();
  signals_context.stop();
  signal_thread.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Switchboard: a real-time messaging server (WebSocket channels, HTTP publish API)", "switchboard"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", std::string("switchboard 0.1.0"));

  std::string config_path;
  sb::server::ConfigOverrides overrides;
  std::string threads_text;
  bool echo = false;
  auto add_config_options = [&](CLI::App* sub) {
    sub->add_option("-c,--config", config_path, "TOML config file (default: $SWITCHBOARD_CONFIG, else none)");
    sub->add_option("--listen", overrides.listen, "Address and port to serve on (default 0.0.0.0:8080)");
    sub->add_option("--data-dir", overrides.data_dir, "Directory for persistent data (default ./data)");
    sub->add_option("--api-key", overrides.api_keys,
                    "HTTP API key; repeat for several (none: the API answers on loopback only)");
    sub->add_option("--threads", overrides.threads, "Worker threads (default: one per core)");
    sub->add_option("--log-level", overrides.log_level, "trace, debug, info, warn, error or off (default info)");
    sub->add_option("--log-format", overrides.log_format, "text or json (default text)");
    sub->add_option("--tls-cert", overrides.tls_cert, "PEM certificate chain: serve wss:// and https:// (with --tls-key)");
    sub->add_option("--tls-key", overrides.tls_key, "PEM private key of --tls-cert");
    sub->add_flag("--echo", echo, "Serve the /echo WebSocket endpoint, a test aid for conformance suites (off by default)");
  };
  CLI::App* serve_cmd = cli.add_subcommand("serve", "Run the server");
  add_config_options(serve_cmd);
  CLI::App* check_cmd = cli.add_subcommand("check-config", "Validate the configuration and print the result");
  add_config_options(check_cmd);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  if (echo) overrides.echo_endpoint = true;
  try {
    sb::server::Config config = build_config(config_path, overrides);
    if (check_cmd->parsed()) {
      // Key and certificate files too, not only the syntax: what serve would load.
      (void)sb::server::load_jwt_keys(config);
      (void)sb::server::load_tls(config);
      std::cout << "configuration is valid: listen " << config.listen << ", data_dir " << config.data_dir << ", "
                << config.api_keys.size() << " API key(s), " << config.namespaces.size() + 1 << " namespace(s)\n";
      return 0;
    }
    return serve(config);
  } catch (const sb::server::ConfigError& e) {
    std::cerr << "switchboard: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    // Startup failures: the port is taken, the data dir is unusable, ...
    std::cerr << "switchboard: " << e.what() << "\n";
    return 1;
  }
}
