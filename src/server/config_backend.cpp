// The config sections of the app's backend: [webhooks] (signed event POSTs) and [proxy] (the
// hooks the backend answers), read and checked as config.cpp does the others.
#include "backend/proxy.hpp"
#include "backend/webhook_options.hpp"
#include "server/config_sections.hpp"
#include "transport/http_client.hpp"

namespace sb::server {

using namespace config_values;

namespace {

void apply_webhook_events(backend::WebhookOptions& w, const toml::node& node, const std::string& key) {
  std::vector<std::string> names;
  assign_strings(names, node, key, "expected an array of event types");
  w.events = 0;
  for (const auto& name : names) {
    auto type = backend::webhook_event_type(name);
    if (!type) {
      std::string known;
      for (auto n : backend::webhook_event_names()) known.append(known.empty() ? "" : ", ").append(n);
      throw ConfigError(key, "unknown event type '" + name + "' (known: " + known + ")");
    }
    w.events |= *type;
  }
}

}  // namespace

void apply_webhooks(Config& c, const toml::table& t) {
  if (t.contains("url") && t.contains("urls"))
    throw ConfigError("webhooks.urls", "give url (one target) or urls (several), not both");
  auto& w = c.webhooks;
  auto& d = w.delivery;
  for (const auto& [wk, value] : t) {
    const std::string sub = "webhooks." + std::string(wk.str());
    const std::string_view name = wk.str();
    if (name == "url") d.urls = {string_value(value, sub)};
    else if (name == "urls") assign_strings(d.urls, value, sub, "expected an array of URLs");
    else if (name == "secret") d.secret = string_value(value, sub);
    else if (name == "events") apply_webhook_events(w, value, sub);
    else if (name == "batch_size") d.batch_size = static_cast<std::size_t>(positive_integer(value, sub));
    else if (name == "batch_interval_ms") d.batch_interval = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "max_queue") d.max_queue = static_cast<std::size_t>(positive_integer(value, sub));
    else if (name == "max_queue_bytes") d.max_queue_bytes = static_cast<std::size_t>(positive_integer(value, sub));
    else if (name == "retry_for") d.retry_for = std::chrono::seconds(positive_integer(value, sub));
    else if (name == "timeout_ms") d.timeout = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "ca_file") d.ca_file = string_value(value, sub);
    else throw ConfigError(sub, "unknown key");
  }
}

void apply_proxy(Config& c, const toml::table& t) {
  for (const auto& [pk, value] : t) {
    const std::string sub = "proxy." + std::string(pk.str());
    const std::string_view name = pk.str();
    auto& p = c.proxy;
    if (name == "connect_url") p.connect_url = string_value(value, sub);
    else if (name == "refresh_url") p.refresh_url = string_value(value, sub);
    else if (name == "rpc_url") p.rpc_url = string_value(value, sub);
    else if (name == "subscribe_url") p.subscribe_url = string_value(value, sub);
    else if (name == "publish_url") p.publish_url = string_value(value, sub);
    else if (name == "headers") assign_strings(p.headers, value, sub, "expected an array of header names");
    else if (name == "timeout_ms") p.http.timeout = std::chrono::milliseconds(positive_integer(value, sub));
    else if (name == "max_in_flight") p.http.max_in_flight = static_cast<std::size_t>(positive_integer(value, sub));
    else if (name == "max_queued") p.http.max_queued = static_cast<std::size_t>(non_negative_integer(value, sub));
    else if (name == "max_response_bytes")
      p.http.max_response_bytes = static_cast<std::size_t>(positive_integer(value, sub));
    else if (name == "ca_file") p.http.ca_file = string_value(value, sub);
    else throw ConfigError(sub, "unknown key");
  }
}

void validate_url(const std::string& url, const std::string& key) {
  transport::ParsedUrl parsed;
  if (!url.empty() && !transport::parse_url(url, parsed))
    throw ConfigError(key, "expected an http:// or https:// URL, got '" + url + "'");
}

// Each namespace's proxy flag needs a URL to call; header patterns are names, `*` only last.
void validate_proxy(const Config& c) {
  const auto& p = c.proxy;
  validate_url(p.connect_url, "proxy.connect_url");
  validate_url(p.refresh_url, "proxy.refresh_url");
  validate_url(p.rpc_url, "proxy.rpc_url");
  validate_url(p.subscribe_url, "proxy.subscribe_url");
  validate_url(p.publish_url, "proxy.publish_url");
  for (const auto& header : p.headers) {
    const std::string_view name = !header.empty() && header.back() == '*' ? std::string_view(header).substr(0, header.size() - 1)
                                                                         : std::string_view(header);
    if (name.empty() || name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
                            std::string_view::npos)
      throw ConfigError("proxy.headers", "'" + header + "' is not a header name (a trailing '*' matches a prefix)");
  }
  std::vector<const core::NamespaceOptions*> all{&c.default_namespace};
  for (const auto& ns : c.namespaces) all.push_back(&ns);
  for (const auto* ns : all) {
    const std::string key = "namespaces." + (ns->name.empty() ? std::string("default") : ns->name);
    auto urls = p.namespaces.find(ns->name);
    const backend::NamespaceProxyUrls none;
    const auto& own = urls == p.namespaces.end() ? none : urls->second;
    validate_url(own.subscribe_url, key + ".subscribe_proxy_url");
    validate_url(own.publish_url, key + ".publish_proxy_url");
    if (ns->subscribe_proxy && own.subscribe_url.empty() && p.subscribe_url.empty())
      throw ConfigError(key + ".subscribe_proxy", "needs [proxy] subscribe_url or subscribe_proxy_url in the namespace");
    if (ns->publish_proxy && own.publish_url.empty() && p.publish_url.empty())
      throw ConfigError(key + ".publish_proxy", "needs [proxy] publish_url or publish_proxy_url in the namespace");
    if (ns->publish_proxy_only && !ns->publish_proxy)
      throw ConfigError(key + ".publish_proxy_only", "needs publish_proxy = true (or publish_proxy_url) in the same namespace");
  }
}

// A target is http:// or https://, then a host; the secret signs every request, so it must be
// there and hard to guess (16 bytes, as an API key).
void validate_webhooks(const Config& c) {
  const auto& d = c.webhooks.delivery;
  for (const auto& url : d.urls) validate_url(url, "webhooks.url");
  if (!d.urls.empty() && d.secret.size() < 16)
    throw ConfigError("webhooks.secret", "a webhook target needs a secret of at least 16 bytes (it signs every request)");
  if (d.urls.empty() && !d.secret.empty()) throw ConfigError("webhooks.url", "a secret is set but no url");
}

}  // namespace sb::server
