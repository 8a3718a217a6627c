#include "server/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace sb::server {
namespace {

// The error message of what `f` throws, or "" if it does not throw ConfigError.
template <typename F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsAreTheDocumentedOnes) {
  Config c;
  validate(c);
  EXPECT_EQ(c.listen_host(), "0.0.0.0");
  EXPECT_EQ(c.listen_port(), 8080);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_TRUE(c.api_keys.empty());
  EXPECT_TRUE(c.default_namespace.client_publish);
  EXPECT_FALSE(c.echo_endpoint);  // a test aid: never on unless asked for
}

TEST(Config, EchoEndpointFromTomlAndFlag) {
  Config c;
  apply_config_text(c, "echo_endpoint = true", "t");
  EXPECT_TRUE(c.echo_endpoint);
  Config d;
  ConfigOverrides o;
  o.echo_endpoint = true;
  apply_overrides(d, o);
  EXPECT_TRUE(d.echo_endpoint);
}

TEST(Config, ReadsEveryKeyFromToml) {
  Config c;
  apply_config_text(c, R"(
listen = "127.0.0.1:9000"
data_dir = "/var/lib/sb"
api_keys = ["first-key-0123456789", "second-key-0123456789"]
threads = 3
log_level = "debug"
log_format = "json"
[limits]
max_message_size = 1000
max_send_queue = 2000
max_http_body = 3000
ping_interval = 5
ping_timeout = 6
handshake_timeout = 7
close_timeout = 8
max_subscriptions = 9
deflate = false
[namespaces.default]
client_publish = false
[namespaces.chat]
client_publish = true
)",
                    "test.toml");
  validate(c);
  EXPECT_EQ(c.listen_port(), 9000);
  EXPECT_EQ(c.data_dir, "/var/lib/sb");
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"first-key-0123456789", "second-key-0123456789"}));
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.limits.max_message_size, 1000u);
  EXPECT_EQ(c.limits.max_send_queue, 2000u);
  EXPECT_EQ(c.limits.max_http_body, 3000u);
  EXPECT_EQ(c.limits.ping_interval.count(), 5);
  EXPECT_EQ(c.limits.ping_timeout.count(), 6);
  EXPECT_EQ(c.limits.handshake_timeout.count(), 7);
  EXPECT_EQ(c.limits.close_timeout.count(), 8);
  EXPECT_EQ(c.max_subscriptions, 9u);
  EXPECT_FALSE(c.limits.deflate);
  EXPECT_FALSE(c.default_namespace.client_publish);
  ASSERT_EQ(c.namespaces.size(), 1u);
  EXPECT_EQ(c.namespaces[0].name, "chat");
  EXPECT_TRUE(c.namespaces[0].client_publish);
}

TEST(Config, ReadsIdleTimeoutAndClientEvents) {
  Config c;
  EXPECT_EQ(c.idle_timeout.count(), 0) << "off unless asked for";
  EXPECT_FALSE(c.default_namespace.client_events);
  apply_config_text(c, R"(
[limits]
idle_timeout = 300
[namespaces.chat]
client_publish = false
client_events = true
)",
                    "test.toml");
  validate(c);
  EXPECT_EQ(c.idle_timeout.count(), 300);
  ASSERT_EQ(c.namespaces.size(), 1u);
  EXPECT_TRUE(c.namespaces[0].client_events);
  EXPECT_FALSE(c.namespaces[0].client_publish);
  Config d;
  EXPECT_NE(config_error([&] { apply_config_text(d, "[limits]\nidle_timeout = -1", "t"); }), "");
  EXPECT_NE(config_error([&] { apply_config_text(d, "[namespaces.chat]\nclient_events = 1", "t"); }), "");
}

TEST(Config, ReadsTheCapacityKeys) {
  Config c;
  EXPECT_EQ(c.max_channels, 1'000'000u);
  EXPECT_EQ(c.max_history_response_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.max_streams, 1000u);
  apply_config_text(c, R"(
[limits]
max_channels = 11
max_history_response_bytes = 12
[history]
readers = 3
read_queue = 14
[streams]
max_streams = 15
max_stream_bytes = 16
max_total_bytes = 17
)",
                    "test.toml");
  validate(c);
  EXPECT_EQ(c.max_channels, 11u);
  EXPECT_EQ(c.max_history_response_bytes, 12u);
  EXPECT_EQ(c.history_readers, 3u);
  EXPECT_EQ(c.history_read_queue, 14u);
  EXPECT_EQ(c.max_streams, 15u);
  EXPECT_EQ(c.max_stream_bytes, 16u);
  EXPECT_EQ(c.max_stream_total_bytes, 17u);
}

TEST(Config, ReadsTheHttpConnectionLimits) {
  Config defaults;
  EXPECT_EQ(defaults.limits.max_http_connections, 10000u);
  EXPECT_EQ(defaults.limits.max_http_connections_per_ip, 256u);
  EXPECT_EQ(defaults.limits.http_keepalive_timeout.count(), 10);
  Config c;
  apply_config_text(c, R"(
[limits]
max_http_connections = 11
max_http_connections_per_ip = 12
http_keepalive_timeout = 13
)",
                    "test.toml");
  validate(c);
  EXPECT_EQ(c.limits.max_http_connections, 11u);
  EXPECT_EQ(c.limits.max_http_connections_per_ip, 12u);
  EXPECT_EQ(c.limits.http_keepalive_timeout.count(), 13);
  Config zero;
  EXPECT_NE(config_error([&] { apply_config_text(zero, "[limits]\nmax_http_connections = 0\n", "t.toml"); })
                .find("limits.max_http_connections"),
            std::string::npos);
}

TEST(Config, ErrorsNameTheKey) {
  Config c;
  EXPECT_NE(config_error([&] { apply_config_text(c, "lisen = \"x\"", "t"); }).find("lisen: unknown key"),
            std::string::npos);
  EXPECT_NE(config_error([&] { apply_config_text(c, "threads = \"two\"", "t"); }).find("threads: expected an integer"),
            std::string::npos);
  EXPECT_NE(config_error([&] { apply_config_text(c, "[limits]\nping_interval = -1", "t"); })
                .find("limits.ping_interval: must be greater than 0"),
            std::string::npos);
  EXPECT_NE(config_error([&] { apply_config_text(c, "[namespaces.chat]\nclient_publish = 1", "t"); })
                .find("namespaces.chat.client_publish"),
            std::string::npos);
  EXPECT_NE(config_error([&] { apply_config_text(c, "listen = ", "t.toml"); }).find("t.toml:1"), std::string::npos);
  Config bad_listen;
  bad_listen.listen = "localhost";
  EXPECT_NE(config_error([&] { validate(bad_listen); }).find("listen:"), std::string::npos);
  bad_listen.listen = "127.0.0.1:99999";
  EXPECT_NE(config_error([&] { validate(bad_listen); }).find("listen: port"), std::string::npos);
  Config short_key;
  short_key.api_keys = {"short"};
  EXPECT_NE(config_error([&] { validate(short_key); }).find("api_keys: an API key must be at least 16"),
            std::string::npos);
  Config bad_level;
  bad_level.log_level = "loud";
  EXPECT_NE(config_error([&] { validate(bad_level); }).find("log_level"), std::string::npos);
}

TEST(Config, WebsocketPathsDefaultToWsAndAreReadFromToml) {
  Config c;
  EXPECT_EQ(c.websocket_paths, (std::vector<std::string>{"/ws"}));
  apply_config_text(c, "websocket_paths = [\"/ws\", \"/ws/dashboard\"]\n[namespaces.dash]\nurl_subscribe = true", "t");
  validate(c);
  EXPECT_EQ(c.websocket_paths, (std::vector<std::string>{"/ws", "/ws/dashboard"}));
  ASSERT_EQ(c.namespaces.size(), 1u);
  EXPECT_TRUE(c.namespaces[0].url_subscribe);
  EXPECT_FALSE(c.default_namespace.url_subscribe);  // off unless a namespace opts in
}

TEST(Config, WebsocketPathsAreCheckedWithTheKeyInTheError) {
  auto refusal = [](std::vector<std::string> paths) {
    Config c;
    c.websocket_paths = std::move(paths);
    return config_error([&] { validate(c); });
  };
  EXPECT_NE(refusal({}).find("websocket_paths: needs at least one path"), std::string::npos);
  EXPECT_NE(refusal({"ws"}).find("websocket_paths: 'ws' must start with '/'"), std::string::npos);
  EXPECT_NE(refusal({"/"}).find("websocket_paths: '/' must start with '/' and name a path"), std::string::npos);
  EXPECT_NE(refusal({"/ws?x=1"}).find("websocket_paths: '/ws?x=1' must not contain '?'"), std::string::npos);
  EXPECT_NE(refusal({"/ws", "/ws"}).find("websocket_paths: '/ws' is listed twice"), std::string::npos);
  for (const char* taken : {"/api/ws", "/api", "/echo", "/healthz", "/metrics", "/dashboard", "/dashboard/ws", "/demo"})
    EXPECT_NE(refusal({taken}).find("is served by the HTTP side"), std::string::npos) << taken;
  EXPECT_EQ(refusal({"/ws/dashboard", "/live"}), "");
  Config c;
  EXPECT_NE(config_error([&] { apply_config_text(c, "websocket_paths = \"/ws\"", "t"); })
                .find("websocket_paths: expected an array of strings"),
            std::string::npos);
}

TEST(Config, ClusterReadsItsKeysAndEnvironment) {
  Config c;
  apply_config_text(c,
                    "[cluster]\nbroker = \"redis\"\nredis_urls = [\"redis://a:6379\", \"redis://b:6380/1\"]\n"
                    "prefix = \"app1\"\nnode_name = \"ws-1\"\nredis_timeout_ms = 500\nheartbeat_ms = 200\n"
                    "node_timeout_ms = 2000\nchannel_ttl = 3600\n",
                    "t");
  validate(c);
  EXPECT_EQ(c.broker, "redis");
  EXPECT_EQ(c.redis_urls, (std::vector<std::string>{"redis://a:6379", "redis://b:6380/1"}));
  EXPECT_EQ(c.redis_prefix, "app1");
  EXPECT_EQ(c.node_name, "ws-1");
  EXPECT_EQ(c.redis_timeout.count(), 500);
  EXPECT_EQ(c.heartbeat_interval.count(), 200);
  EXPECT_EQ(c.node_timeout.count(), 2000);
  EXPECT_EQ(c.channel_ttl.count(), 3600);
  apply_environment(c, {{"SWITCHBOARD_REDIS_URL", "redis://c"}, {"SWITCHBOARD_NODE_NAME", "ws-2"}});
  EXPECT_EQ(c.redis_urls, (std::vector<std::string>{"redis://c"}));
  EXPECT_EQ(c.node_name, "ws-2");
}

TEST(Config, ClusterMistakesAreRefusedWithTheKey) {
  auto error_of = [](const std::string& toml) {
    return config_error([&] {
      Config c;
      apply_config_text(c, toml, "t");
      validate(c);
    });
  };
  EXPECT_NE(error_of("[cluster]\nbroker = \"kafka\"").find("cluster.broker: expected memory or redis"), std::string::npos);
  EXPECT_NE(error_of("[cluster]\nbroker = \"redis\"").find("cluster.redis_url: broker = \"redis\" needs redis_url"),
            std::string::npos);
  EXPECT_NE(error_of("[cluster]\nbroker = \"redis\"\nredis_url = \"http://x\"").find("cluster.redis_url: expected redis://"),
            std::string::npos);
  EXPECT_NE(error_of("[cluster]\nredis_url = \"redis://a\"\nredis_urls = [\"redis://b\"]")
                .find("cluster.redis_urls: give redis_url (one Redis) or redis_urls (several), not both"),
            std::string::npos);
  EXPECT_NE(error_of("[cluster]\nheartbeat_ms = 1000\nnode_timeout_ms = 1500").find("cluster.node_timeout_ms: must be at least twice"),
            std::string::npos);
  EXPECT_NE(error_of("[cluster]\nprefix = \"a b\"").find("cluster.prefix"), std::string::npos);
  EXPECT_NE(error_of("[cluster]\nnode_name = \"a b\"").find("cluster.node_name"), std::string::npos);
  EXPECT_NE(error_of("[cluster]\nredis = \"x\"").find("cluster.redis: unknown key"), std::string::npos);
  // A password in a refused URL is not shown.
  const std::string shown = error_of("[cluster]\nbroker = \"redis\"\nredis_url = \"redis://:hunter2@h:x\"");
  EXPECT_NE(shown.find("cluster.redis_url"), std::string::npos);
  EXPECT_EQ(shown.find("hunter2"), std::string::npos) << shown;
}

TEST(Config, ApiKeysMayBeNamed) {
  Config c;
  apply_config_text(c, "[api_keys]\nci = \"ci-key-0123456789ab\"\ndashboard = \"dash-key-0123456789\"\n", "t");
  validate(c);
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"ci-key-0123456789ab", "dash-key-0123456789"}));
  EXPECT_EQ(c.api_key_names, (std::vector<std::string>{"ci", "dashboard"}));
  EXPECT_NE(config_error([&] { apply_config_text(c, "api_keys = 3", "t"); }).find("api_keys"), std::string::npos);
}

TEST(Config, MissingFileIsAnError) {
  Config c;
  EXPECT_NE(config_error([&] { apply_config_file(c, "/nonexistent/switchboard.toml"); }), "");
}

TEST(Config, EnvironmentOverridesFileAndFlagsOverrideEnvironment) {
  Config c;
  apply_config_text(c, "listen = \"127.0.0.1:1\"\nthreads = 1\n", "t");
  apply_environment(c, {{"SWITCHBOARD_LISTEN", "127.0.0.1:2"},
                        {"SWITCHBOARD_API_KEYS", "a,b"},
                        {"SWITCHBOARD_THREADS", "4"},
                        {"SWITCHBOARD_LOG_FORMAT", "json"}});
  EXPECT_EQ(c.listen, "127.0.0.1:2");
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.threads, 4u);
  ConfigOverrides flags;
  flags.listen = "127.0.0.1:3";
  apply_overrides(c, flags);
  EXPECT_EQ(c.listen, "127.0.0.1:3");
  EXPECT_EQ(c.threads, 4u);  // not given on the command line: the environment's value stays
  EXPECT_NE(config_error([&] { apply_environment(c, {{"SWITCHBOARD_THREADS", "many"}}); }).find("SWITCHBOARD_THREADS"),
            std::string::npos);
}

TEST(Config, TheExampleFileInTheRepositoryIsValid) {
  Config c;
  apply_config_file(c, SWITCHBOARD_SOURCE_DIR "/config/switchboard.example.toml");
  validate(c);
}

TEST(Config, AllowedHostsAreNamesWithoutSchemeOrPort) {
  Config c;
  apply_config_text(c, R"(
[auth]
allowed_hosts = ["chat.example.com", "*.dev.example", "192.168.1.20", "[fd00::1]"]
)", "test.toml");
  validate(c);
  EXPECT_EQ(c.allowed_hosts.size(), 4u);
  for (const char* bad : {"http://chat.example.com", "chat.example.com:8080", "chat.example.com/", "a b", "*",
                          "*.", "a.*.example", "", "fd00::1"}) {
    Config d;
    d.allowed_hosts = {bad};
    EXPECT_NE(config_error([&] { validate(d); }).find("auth.allowed_hosts"), std::string::npos) << bad;
  }
  EXPECT_NE(config_error([&] { apply_config_text(c, "[auth]\nallowed_hosts = \"x\"\n", "t.toml"); }).find("expected an array"),
            std::string::npos);
}

TEST(Config, ReadsTheProxySectionAndTheNamespacesProxyKeys) {
  Config c;
  apply_config_text(c, R"(
[proxy]
connect_url = "http://127.0.0.1:9000/sb/connect"
refresh_url = "https://backend.example.com/sb/refresh"
rpc_url = "http://127.0.0.1:9000/sb/rpc"
subscribe_url = "http://127.0.0.1:9000/sb/subscribe"
publish_url = "http://127.0.0.1:9000/sb/publish"
timeout_ms = 1500
headers = ["Cookie", "X-*"]
max_in_flight = 8
max_queued = 16
max_response_bytes = 4096
[namespaces.chat]
subscribe_proxy = true
publish_proxy = true
publish_proxy_only = true
[namespaces.agents]
publish_proxy_url = "http://127.0.0.1:9001/agents"
)", "t");
  validate(c);
  EXPECT_EQ(c.proxy.connect_url, "http://127.0.0.1:9000/sb/connect");
  EXPECT_EQ(c.proxy.refresh_url, "https://backend.example.com/sb/refresh");
  EXPECT_EQ(c.proxy.http.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.proxy.headers, (std::vector<std::string>{"Cookie", "X-*"}));
  EXPECT_EQ(c.proxy.http.max_in_flight, 8u);
  EXPECT_EQ(c.proxy.http.max_queued, 16u);
  EXPECT_EQ(c.proxy.http.max_response_bytes, 4096u);
  ASSERT_EQ(c.namespaces.size(), 2u);
  const auto& agents = c.namespaces[0].name == "agents" ? c.namespaces[0] : c.namespaces[1];
  const auto& chat = c.namespaces[0].name == "chat" ? c.namespaces[0] : c.namespaces[1];
  EXPECT_TRUE(chat.subscribe_proxy && chat.publish_proxy && chat.publish_proxy_only);
  EXPECT_TRUE(agents.publish_proxy);
  EXPECT_FALSE(agents.subscribe_proxy);
  EXPECT_EQ(c.proxy.namespaces.at("agents").publish_url, "http://127.0.0.1:9001/agents");
}

TEST(Config, ProxyMistakesAreRefusedWithTheKey) {
  auto error_of = [](const std::string& toml) {
    return config_error([&] {
      Config c;
      apply_config_text(c, toml, "t");
      validate(c);
    });
  };
  EXPECT_NE(error_of("[proxy]\nconnect_url = \"ftp://x/\"").find("proxy.connect_url: expected an http:// or https:// URL"),
            std::string::npos);
  EXPECT_NE(error_of("[proxy]\ntimeout_ms = 0").find("proxy.timeout_ms: must be greater than 0"), std::string::npos);
  EXPECT_NE(error_of("[proxy]\nheaders = [\"Cook ie\"]").find("proxy.headers: 'Cook ie' is not a header name"),
            std::string::npos);
  EXPECT_NE(error_of("[proxy]\nretries = 3").find("proxy.retries: unknown key"), std::string::npos);
  EXPECT_NE(error_of("[namespaces.chat]\nsubscribe_proxy = true")
                .find("namespaces.chat.subscribe_proxy: needs [proxy] subscribe_url"),
            std::string::npos);
  EXPECT_NE(error_of("[namespaces.chat]\npublish_proxy = true").find("namespaces.chat.publish_proxy: needs [proxy] publish_url"),
            std::string::npos);
  EXPECT_NE(error_of("[proxy]\npublish_url = \"http://b/p\"\n[namespaces.chat]\npublish_proxy_only = true")
                .find("namespaces.chat.publish_proxy_only: needs publish_proxy = true"),
            std::string::npos);
  EXPECT_NE(error_of("[namespaces.chat]\npublish_proxy_url = \"nope\"")
                .find("namespaces.chat.publish_proxy_url: expected an http:// or https:// URL"),
            std::string::npos);
  EXPECT_NE(error_of("[streams]\ncancel_url = \"ftp://backend.example.com/cancel\"")
                .find("streams.cancel_url: expected an http:// or https:// URL"),
            std::string::npos);
  EXPECT_EQ(error_of("[streams]\ncancel_url = \"https://backend.example.com/cancel\""), "");
}

}  // namespace
}  // namespace sb::server

namespace sb::server {
namespace {

TEST(Config, WebhooksReadTheirKeysAndTheNamespaceSwitches) {
  Config c;
  EXPECT_TRUE(c.webhooks.delivery.urls.empty());  // none by default
  EXPECT_EQ(c.webhooks.events, backend::all_webhook_events);
  apply_config_text(c, R"(
[webhooks]
urls = ["http://127.0.0.1:9000/events", "https://backend.example.com/hooks"]
secret = "0123456789abcdef"
events = ["channel_occupied", "typing"]
batch_size = 10
batch_interval_ms = 250
max_queue = 500
max_queue_bytes = 100000
retry_for = 60
timeout_ms = 2000
[namespaces.chat]
webhook_events = true
webhook_typing = true
)", "t");
  validate(c);
  const auto& d = c.webhooks.delivery;
  EXPECT_EQ(d.urls, (std::vector<std::string>{"http://127.0.0.1:9000/events", "https://backend.example.com/hooks"}));
  EXPECT_EQ(d.secret, "0123456789abcdef");
  EXPECT_EQ(c.webhooks.events, backend::channel_occupied | backend::typing_event);
  EXPECT_EQ(d.batch_size, 10u);
  EXPECT_EQ(d.batch_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(d.max_queue, 500u);
  EXPECT_EQ(d.max_queue_bytes, 100000u);
  EXPECT_EQ(d.retry_for, std::chrono::seconds(60));
  EXPECT_EQ(d.timeout, std::chrono::milliseconds(2000));
  ASSERT_EQ(c.namespaces.size(), 1u);
  EXPECT_TRUE(c.namespaces[0].webhook_events);
  EXPECT_TRUE(c.namespaces[0].webhook_typing);
}

TEST(Config, WebhookMistakesAreRefusedWithTheKey) {
  auto error_of = [](const std::string& toml) {
    return config_error([&] {
      Config c;
      apply_config_text(c, toml, "t");
      validate(c);
    });
  };
  EXPECT_NE(error_of("[webhooks]\nurl = \"http://h/x\"").find("webhooks.secret: a webhook target needs a secret"),
            std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nurl = \"http://h/x\"\nsecret = \"short\"").find("webhooks.secret"), std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nurl = \"ftp://h/x\"\nsecret = \"0123456789abcdef\"").find("webhooks.url: expected an http"),
            std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nurl = \"http:///x\"\nsecret = \"0123456789abcdef\"").find("webhooks.url"),
            std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nsecret = \"0123456789abcdef\"").find("webhooks.url: a secret is set but no url"),
            std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nurl = \"http://a/\"\nurls = [\"http://b/\"]").find("not both"), std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nevents = [\"occupied\"]").find("webhooks.events: unknown event type 'occupied' (known: channel_occupied"),
            std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nbatch_size = 0").find("webhooks.batch_size"), std::string::npos);
  EXPECT_NE(error_of("[webhooks]\nretry = 5").find("webhooks.retry: unknown key"), std::string::npos);
}

}  // namespace
}  // namespace sb::server
