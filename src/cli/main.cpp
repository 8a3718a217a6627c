// switchboard: the command line. `serve` runs the server; `check-config` validates a config.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "server/app.hpp"
#include "server/config.hpp"

namespace {

void setup_logging(const sb::server::Config& config) {
  auto logger = spdlog::stderr_color_mt("switchboard");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (config.log_format == "json")
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":"%v"})");
  else
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
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
  sb::server::App app(config);
  app.start();
  // Signals are waited for on the main thread, outside the workers.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: closing connections and stopping", signal);
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
