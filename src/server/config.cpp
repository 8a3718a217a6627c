#include "server/config.hpp"

#include "broker/redis_address.hpp"

#include <toml++/toml.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <charconv>

#include "core/channel_name.hpp"
#include "server/config_sections.hpp"
#include "transport/http_client.hpp"

extern char** environ;

namespace sb::server {

namespace config_values {

std::int64_t positive_integer(const toml::node& node, const std::string& key) {
  auto v = node.value<std::int64_t>();
  if (!v || !node.is_integer()) throw ConfigError(key, "expected an integer");
  if (*v <= 0) throw ConfigError(key, "must be greater than 0");
  return *v;
}

std::int64_t non_negative_integer(const toml::node& node, const std::string& key) {
  auto v = node.value<std::int64_t>();
  if (!v || !node.is_integer()) throw ConfigError(key, "expected an integer");
  if (*v < 0) throw ConfigError(key, "must be 0 or greater");
  return *v;
}

std::string string_value(const toml::node& node, const std::string& key) {
  if (!node.is_string()) throw ConfigError(key, "expected a string");
  return std::string(*node.value<std::string>());
}

bool bool_value(const toml::node& node, const std::string& key) {
  if (!node.is_boolean()) throw ConfigError(key, "expected true or false");
  return *node.value<bool>();
}

// A section's value must be a table: `[history]`, not `history = 1`.
const toml::table& section(const toml::node& node, const std::string& key) {
  const toml::table* t = node.as_table();
  if (!t) throw ConfigError(key, "expected a table");
  return *t;
}

// Replaces `out` with the strings of an array; `expected` is the error when it is not an array.
void assign_strings(std::vector<std::string>& out, const toml::node& node, const std::string& key,
                    const char* expected) {
  const toml::array* a = node.as_array();
  if (!a) throw ConfigError(key, expected);
  out.clear();
  for (const auto& item : *a) out.push_back(string_value(item, key));
}

}  // namespace config_values

namespace {

using namespace config_values;

void apply_limits(Config& c, const toml::table& t) {
  for (const auto& [k, node] : t) {
    const std::string key = "limits." + std::string(k.str());
    const std::string_view name = k.str();
    if (name == "max_message_size") c.limits.max_message_size = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_send_queue") c.limits.max_send_queue = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_http_body") c.limits.max_http_body = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "ping_interval") c.limits.ping_interval = std::chrono::seconds(positive_integer(node, key));
    else if (name == "ping_timeout") c.limits.ping_timeout = std::chrono::seconds(positive_integer(node, key));
    else if (name == "handshake_timeout") c.limits.handshake_timeout = std::chrono::seconds(positive_integer(node, key));
    else if (name == "close_timeout") c.limits.close_timeout = std::chrono::seconds(positive_integer(node, key));
    else if (name == "max_subscriptions") c.max_subscriptions = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_channels") c.max_channels = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_history_response_bytes")
      c.max_history_response_bytes = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "deflate") c.limits.deflate = bool_value(node, key);
    else if (name == "max_http_connections")
      c.limits.max_http_connections = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_http_connections_per_ip")
      c.limits.max_http_connections_per_ip = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "http_keepalive_timeout")
      c.limits.http_keepalive_timeout = std::chrono::seconds(positive_integer(node, key));
    else if (name == "typing_timeout") c.typing_timeout = std::chrono::seconds(positive_integer(node, key));
    else if (name == "idle_timeout") c.idle_timeout = std::chrono::seconds(non_negative_integer(node, key));
    else if (name == "stream_heartbeat_interval")
      c.stream_heartbeat_interval = std::chrono::seconds(positive_integer(node, key));
    else if (name == "max_connections") c.max_connections = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "max_connections_per_ip")
      c.max_connections_per_ip = static_cast<std::size_t>(positive_integer(node, key));
    else if (name == "rate_per_connection") c.rate_per_connection = static_cast<double>(positive_integer(node, key));
    else if (name == "rate_burst") c.rate_burst = static_cast<double>(positive_integer(node, key));
    else if (name == "rate_per_user") c.rate_per_user = static_cast<double>(positive_integer(node, key));
    else if (name == "rate_user_burst") c.rate_user_burst = static_cast<double>(positive_integer(node, key));
    // WebSocket frames from a hostile peer (transport/limits.hpp).
    else if (name == "frame_rate") c.frame_rate = static_cast<double>(positive_integer(node, key));
    else if (name == "frame_burst") c.frame_burst = static_cast<double>(positive_integer(node, key));
    // UINT32_MAX - 1: UINT32_MAX is the connection's "no budget" mark.
    else if (name == "untrusted_frames")
      c.limits.untrusted_frames =
          static_cast<std::uint32_t>(std::min<std::int64_t>(positive_integer(node, key), UINT32_MAX - 1));
    else if (name == "max_message_fragments")
      c.limits.max_message_fragments =
          static_cast<std::uint32_t>(std::min<std::int64_t>(positive_integer(node, key), UINT32_MAX - 1));
    else if (name == "trim_memory_after")
      c.trim_memory_after = static_cast<std::size_t>(non_negative_integer(node, key));
    else throw ConfigError(key, "unknown key");
  }
}

core::NamespaceOptions namespace_options(std::string name, const toml::node& node, const std::string& key,
                                         core::NamespaceOptions options, backend::NamespaceProxyUrls& urls) {
  const toml::table* t = node.as_table();
  if (!t) throw ConfigError(key, "expected a table");
  options.name = std::move(name);
  for (const auto& [k, value] : *t) {
    const std::string sub = key + "." + std::string(k.str());
    if (k.str() == "client_publish") options.client_publish = bool_value(value, sub);
    else if (k.str() == "client_events") options.client_events = bool_value(value, sub);
    else if (k.str() == "history_size") options.history.size = static_cast<std::size_t>(positive_integer(value, sub));
    else if (k.str() == "history_ttl") options.history.ttl = std::chrono::seconds(positive_integer(value, sub));
    else if (k.str() == "presence") options.presence = bool_value(value, sub);
    else if (k.str() == "join_leave") options.join_leave = bool_value(value, sub);
    else if (k.str() == "url_subscribe") options.url_subscribe = bool_value(value, sub);
    else if (k.str() == "webhook_events") options.webhook_events = bool_value(value, sub);
    else if (k.str() == "webhook_typing") options.webhook_typing = bool_value(value, sub);
    else if (k.str() == "subscribe_proxy") options.subscribe_proxy = bool_value(value, sub);
    else if (k.str() == "publish_proxy") options.publish_proxy = bool_value(value, sub);
    else if (k.str() == "publish_proxy_only") options.publish_proxy_only = bool_value(value, sub);
    // A URL of its own implies the proxy.
    else if (k.str() == "subscribe_proxy_url") {
      urls.subscribe_url = string_value(value, sub);
      options.subscribe_proxy = true;
    } else if (k.str() == "publish_proxy_url") {
      urls.publish_url = string_value(value, sub);
      options.publish_proxy = true;
    }
    else if (k.str() == "access") {
      const std::string access = string_value(value, sub);
      if (access == "public") options.access = core::Access::open;
      else if (access == "protected") options.access = core::Access::protected_;
      else if (access == "private") options.access = core::Access::private_;
      else throw ConfigError(sub, "expected public, protected or private, got '" + access + "'");
    }
    else throw ConfigError(sub, "unknown key");
  }
  return options;
}

void apply_api_keys(Config& c, const toml::node& node, const std::string& key) {
  // Either a list of keys, or named keys ({ ci = "...", dashboard = "..." }) whose names show
  // in the logs: rotate by adding the new key, moving clients, then removing the old one.
  c.api_keys.clear();
  c.api_key_names.clear();
  if (const toml::array* a = node.as_array()) {
    for (const auto& item : *a) {
      c.api_keys.push_back(string_value(item, key));
      c.api_key_names.push_back("key" + std::to_string(c.api_keys.size()));
    }
  } else if (const toml::table* t = node.as_table()) {
    for (const auto& [name, item] : *t) {
      c.api_keys.push_back(string_value(item, key + "." + std::string(name.str())));
      c.api_key_names.emplace_back(name.str());
    }
  } else {
    throw ConfigError(key, "expected an array of strings or a table of named keys");
  }
}

void apply_history(Config& c, const toml::table& t) {
  for (const auto& [hk, value] : t) {
    const std::string sub = "history." + std::string(hk.str());
    if (hk.str() == "engine") c.history_engine = string_value(value, sub);
    else if (hk.str() == "fsync") c.history_fsync = bool_value(value, sub);
    else if (hk.str() == "readers") c.history_readers = static_cast<std::size_t>(positive_integer(value, sub));
    else if (hk.str() == "read_queue") c.history_read_queue = static_cast<std::size_t>(positive_integer(value, sub));
    else throw ConfigError(sub, "unknown key");
  }
}

void apply_cluster(Config& c, const toml::table& t) {
  if (t.contains("redis_url") && t.contains("redis_urls"))
    throw ConfigError("cluster.redis_urls", "give redis_url (one Redis) or redis_urls (several), not both");
  for (const auto& [ck, value] : t) {
    const std::string sub = "cluster." + std::string(ck.str());
    const std::string_view name = ck.str();
    if (name == "broker") c.broker = string_value(value, sub);
    else if (name == "redis_url") c.redis_urls = {string_value(value, sub)};
    else if (name == "redis_urls") assign_strings(c.redis_urls, value, sub, "expected an array of redis:// URLs");
    else if (name == "prefix") c.redis_prefix = string_value(value, sub);
    else if (name == "node_name") c.node_name = string_value(value, sub);
    else if (name == "redis_timeout_ms") c.redis_timeout = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "heartbeat_ms") c.heartbeat_interval = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "node_timeout_ms") c.node_timeout = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "channel_ttl") c.channel_ttl = std::chrono::seconds(positive_integer(value, sub));
    else throw ConfigError(sub, "unknown key");
  }
}

void apply_auth(Config& c, const toml::table& t) {
  for (const auto& [ak, value] : t) {
    const std::string sub = "auth." + std::string(ak.str());
    const std::string_view name = ak.str();
    if (name == "jwt_secret") c.jwt_secret = string_value(value, sub);
    else if (name == "jwt_public_key") c.jwt_public_key = string_value(value, sub);
    else if (name == "jwks_file") c.jwks_file = string_value(value, sub);
    else if (name == "leeway") c.jwt_leeway = std::chrono::seconds(positive_integer(value, sub));
    else if (name == "anonymous") c.anonymous = string_value(value, sub);
    else if (name == "allowed_origins") assign_strings(c.allowed_origins, value, sub, "expected an array of strings");
    else if (name == "allowed_hosts") assign_strings(c.allowed_hosts, value, sub, "expected an array of strings");
    else throw ConfigError(sub, "unknown key");
  }
}

void apply_streams(Config& c, const toml::table& t) {
  for (const auto& [sk, value] : t) {
    const std::string sub = "streams." + std::string(sk.str());
    if (sk.str() == "idle_timeout") c.stream_idle_timeout = std::chrono::seconds(positive_integer(value, sub));
    else if (sk.str() == "cancel_url") c.stream_cancel_url = string_value(value, sub);
    else if (sk.str() == "cancel_secret") c.stream_cancel_secret = string_value(value, sub);
    else if (sk.str() == "max_streams") c.max_streams = static_cast<std::size_t>(positive_integer(value, sub));
    else if (sk.str() == "max_stream_bytes") c.max_stream_bytes = static_cast<std::size_t>(positive_integer(value, sub));
    else if (sk.str() == "max_total_bytes")
      c.max_stream_total_bytes = static_cast<std::size_t>(positive_integer(value, sub));
    else throw ConfigError(sub, "unknown key");
  }
}

void apply_namespaces(Config& c, const toml::table& t) {
  for (const auto& [ns, options] : t) {
    const std::string name(ns.str());
    const std::string ns_key = "namespaces." + name;
    backend::NamespaceProxyUrls urls;
    if (name == "default") {
      c.default_namespace = namespace_options("", options, ns_key, c.default_namespace, urls);
    } else {
      if (name.empty() || name.find(':') != std::string::npos || !core::validate_channel_name(name))
        throw ConfigError(ns_key, "a namespace name uses the channel charset and has no ':'");
      c.namespaces.push_back(namespace_options(name, options, ns_key, core::NamespaceOptions{}, urls));
    }
    // The default namespace's name is "" (core::NamespaceOptions::name).
    if (!urls.subscribe_url.empty() || !urls.publish_url.empty())
      c.proxy.namespaces[name == "default" ? std::string() : name] = std::move(urls);
  }
}

// The top level: the server's own keys, then one table per section.
void apply_table(Config& c, const toml::table& root) {
  for (const auto& [k, node] : root) {
    const std::string key(k.str());
    if (key == "listen") c.listen = string_value(node, key);
    else if (key == "data_dir") c.data_dir = string_value(node, key);
    else if (key == "threads") c.threads = static_cast<std::size_t>(positive_integer(node, key));
    else if (key == "log_level") c.log_level = string_value(node, key);
    else if (key == "log_format") c.log_format = string_value(node, key);
    else if (key == "web_root") c.web_root = string_value(node, key);
    else if (key == "echo_endpoint") c.echo_endpoint = bool_value(node, key);
    else if (key == "websocket_paths") assign_strings(c.websocket_paths, node, key, "expected an array of strings");
    else if (key == "tls_cert") c.tls_cert = string_value(node, key);
    else if (key == "tls_key") c.tls_key = string_value(node, key);
    else if (key == "api_keys") apply_api_keys(c, node, key);
    else if (key == "limits") apply_limits(c, section(node, key));
    else if (key == "history") apply_history(c, section(node, key));
    else if (key == "cluster") apply_cluster(c, section(node, key));
    else if (key == "auth") apply_auth(c, section(node, key));
    else if (key == "streams") apply_streams(c, section(node, key));
    else if (key == "webhooks") apply_webhooks(c, section(node, key));
    else if (key == "proxy") apply_proxy(c, section(node, key));
    else if (key == "namespaces") apply_namespaces(c, section(node, key));
    else throw ConfigError(key, "unknown key");
  }
}

}  // namespace

std::string Config::listen_host() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw ConfigError("listen", "expected host:port, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) throw ConfigError("listen", "'" + host + "' is not an IP address");
  return host;
}

std::uint16_t Config::listen_port() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw ConfigError("listen", "expected host:port, got '" + listen + "'");
  std::string_view port = std::string_view(listen).substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || value > 65535 || port.empty())
    throw ConfigError("listen", "port must be a number from 0 to 65535, got '" + std::string(port) + "'");
  return static_cast<std::uint16_t>(value);
}

void apply_config_text(Config& config, const std::string& text, const std::string& source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
  }
  apply_table(config, table);
}

void apply_config_file(Config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(path + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
  }
  apply_table(config, table);
}

void apply_environment(Config& c, const std::map<std::string, std::string>& env) {
  auto get = [&env](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  if (auto v = get("SWITCHBOARD_LISTEN")) c.listen = *v;
  if (auto v = get("SWITCHBOARD_DATA_DIR")) c.data_dir = *v;
  if (auto v = get("SWITCHBOARD_LOG_LEVEL")) c.log_level = *v;
  if (auto v = get("SWITCHBOARD_LOG_FORMAT")) c.log_format = *v;
  if (auto v = get("SWITCHBOARD_JWT_SECRET")) c.jwt_secret = *v;
  if (auto v = get("SWITCHBOARD_TLS_CERT")) c.tls_cert = *v;
  if (auto v = get("SWITCHBOARD_TLS_KEY")) c.tls_key = *v;
  if (auto v = get("SWITCHBOARD_BROKER")) c.broker = *v;
  if (auto v = get("SWITCHBOARD_REDIS_URL")) c.redis_urls = {*v};
  if (auto v = get("SWITCHBOARD_NODE_NAME")) c.node_name = *v;
  if (auto v = get("SWITCHBOARD_THREADS")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || ptr != v->data() + v->size() || n == 0)
      throw ConfigError("SWITCHBOARD_THREADS", "expected a positive integer, got '" + *v + "'");
    c.threads = n;
  }
  if (auto v = get("SWITCHBOARD_API_KEYS")) {
    c.api_keys.clear();
    c.api_key_names.clear();
    std::string_view rest = *v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view key = rest.substr(0, comma);
      if (!key.empty()) c.api_keys.emplace_back(key);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

void apply_overrides(Config& c, const ConfigOverrides& o) {
  if (o.listen) c.listen = *o.listen;
  if (o.data_dir) c.data_dir = *o.data_dir;
  if (!o.api_keys.empty()) {
    c.api_keys = o.api_keys;
    c.api_key_names.clear();
  }
  if (o.threads) c.threads = *o.threads;
  if (o.log_level) c.log_level = *o.log_level;
  if (o.log_format) c.log_format = *o.log_format;
  if (o.tls_cert) c.tls_cert = *o.tls_cert;
  if (o.tls_key) c.tls_key = *o.tls_key;
  if (o.echo_endpoint) c.echo_endpoint = *o.echo_endpoint;
}

namespace {

// The checks of validate(), section by section, in the order it runs them (the first failure is
// the one reported).
void validate_server(const Config& c) {
  (void)c.listen_host();
  (void)c.listen_port();
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  bool level_ok = false;
  for (const char* l : levels) level_ok |= c.log_level == l;
  if (!level_ok) throw ConfigError("log_level", "expected trace, debug, info, warn, error or off, got '" + c.log_level + "'");
  if (c.log_format != "text" && c.log_format != "json")
    throw ConfigError("log_format", "expected text or json, got '" + c.log_format + "'");
  if (c.threads > 64) throw ConfigError("threads", "at most 64");
  for (const auto& key : c.api_keys)
    if (key.size() < 16) throw ConfigError("api_keys", "an API key must be at least 16 characters (got one of " + std::to_string(key.size()) + ")");
  if (c.data_dir.empty()) throw ConfigError("data_dir", "must not be empty");
}

// Each path an upgrade may name: a path of its own, not one the HTTP side or /echo serves.
void validate_websocket_paths(const Config& c) {
  const std::string key = "websocket_paths";
  if (c.websocket_paths.empty()) throw ConfigError(key, "needs at least one path (the default is [\"/ws\"])");
  static const char* taken[] = {"/echo", "/healthz", "/metrics", "/dashboard", "/demo", "/api"};
  for (std::size_t i = 0; i < c.websocket_paths.size(); ++i) {
    const std::string& path = c.websocket_paths[i];
    if (path.size() < 2 || path[0] != '/') throw ConfigError(key, "'" + path + "' must start with '/' and name a path");
    if (path.find_first_of("?# ") != std::string::npos) throw ConfigError(key, "'" + path + "' must not contain '?', '#' or a space");
    for (const char* t : taken) {
      const std::string_view prefix(t);
      if (path == prefix || path.rfind(std::string(prefix) + "/", 0) == 0)
        throw ConfigError(key, "'" + path + "' is served by the HTTP side (" + std::string(prefix) + ")");
    }
    for (std::size_t j = 0; j < i; ++j)
      if (c.websocket_paths[j] == path) throw ConfigError(key, "'" + path + "' is listed twice");
  }
}

void validate_namespaces(const Config& c) {
  for (const auto& ns : c.namespaces)
    if (ns.join_leave && !ns.presence)
      throw ConfigError("namespaces." + ns.name + ".join_leave", "needs presence = true in the same namespace");
  if (c.default_namespace.join_leave && !c.default_namespace.presence)
    throw ConfigError("namespaces.default.join_leave", "needs presence = true in the same namespace");
}

void validate_streams(const Config& c) { validate_url(c.stream_cancel_url, "streams.cancel_url"); }

void validate_tls(const Config& c) {
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw ConfigError(c.tls_cert.empty() ? "tls_cert" : "tls_key", "TLS needs both tls_cert and tls_key");
}

// A name, "*.name", an IPv4 address or a bracketed IPv6 one; no scheme, path or port (the Host
// header is matched at any port).
void validate_allowed_host(const std::string& host) {
  const bool bracketed = !host.empty() && host.front() == '[' && host.back() == ']';
  const bool wildcard = host.size() > 2 && host.compare(0, 2, "*.") == 0;
  const std::string_view name = wildcard ? std::string_view(host).substr(2) : std::string_view(host);
  const bool port = !bracketed && host.find(':') != std::string::npos;
  if (name.empty() || name.find('*') != std::string::npos || port ||
      host.find_first_of("/@ \t\\") != std::string::npos)
    throw ConfigError("auth.allowed_hosts",
                      "'" + host + "' is not a host name like chat.example.com or *.example.com (no scheme, no port)");
}

void validate_auth(const Config& c) {
  if (c.anonymous != "loopback" && c.anonymous != "always" && c.anonymous != "never")
    throw ConfigError("auth.anonymous", "expected loopback, always or never, got '" + c.anonymous + "'");
  if (!c.jwt_secret.empty() && c.jwt_secret.size() < 32)
    throw ConfigError("auth.jwt_secret", "must be at least 32 bytes");
  for (const auto& origin : c.allowed_origins)
    if (origin.find("://") == std::string::npos)
      throw ConfigError("auth.allowed_origins", "'" + origin + "' is not an origin like https://app.example.com");
  for (const auto& host : c.allowed_hosts) validate_allowed_host(host);
}

void validate_cluster(const Config& c) {
  if (c.broker != "memory" && c.broker != "redis")
    throw ConfigError("cluster.broker", "expected memory or redis, got '" + c.broker + "'");
  if (c.broker == "redis") {
    if (c.redis_urls.empty()) throw ConfigError("cluster.redis_url", "broker = \"redis\" needs redis_url (or redis_urls)");
    for (const auto& url : c.redis_urls)
      if (auto address = broker::parse_redis_url(url); !address) throw ConfigError("cluster.redis_url", address.error().message);
  }
  if (c.redis_prefix.empty() || c.redis_prefix.find_first_of(" {}\n") != std::string::npos)
    throw ConfigError("cluster.prefix", "must be a non-empty word without spaces or braces");
  if (c.node_name.find_first_of(" \n") != std::string::npos)
    throw ConfigError("cluster.node_name", "must not contain spaces or newlines");
  if (c.node_timeout < 2 * c.heartbeat_interval)
    throw ConfigError("cluster.node_timeout_ms", "must be at least twice heartbeat_ms, or a slow beat takes a live node for dead");
}

}  // namespace

void validate(const Config& c) {
  validate_server(c);
  validate_websocket_paths(c);
  validate_namespaces(c);
  validate_streams(c);
  validate_webhooks(c);
  validate_proxy(c);
  validate_tls(c);
  validate_auth(c);
  if (c.history_engine != "sqlite" && c.history_engine != "memory")
    throw ConfigError("history.engine", "expected sqlite or memory, got '" + c.history_engine + "'");
  if (c.limits.max_message_size > 16 * 1024 * 1024)
    throw ConfigError("limits.max_message_size", "at most 16 MiB");
  validate_cluster(c);
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (kv.substr(0, 12) == "SWITCHBOARD_") env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace sb::server
