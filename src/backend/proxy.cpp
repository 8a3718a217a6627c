#include "backend/proxy.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <chrono>

namespace sb::backend {

namespace json = boost::json;

std::string_view hook_name(Hook hook) noexcept {
  switch (hook) {
    case Hook::connect: return "connect";
    case Hook::refresh: return "refresh";
    case Hook::subscribe: return "subscribe";
    case Hook::publish: return "publish";
    case Hook::rpc: return "rpc";
  }
  return "?";
}

namespace {

Error bad(std::string why) { return make_error(ErrorCode::backend_error, std::move(why)); }

bool app_code(std::string_view code) {
  if (code.empty() || code.size() > 64 || code[0] < 'A' || code[0] > 'Z') return false;
  for (char c : code)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Result<ProxyAnswer> error_answer(const json::value& v) {
  const json::object* o = v.if_object();
  const json::string* code = o ? o->if_contains("code") ? o->at("code").if_string() : nullptr : nullptr;
  const json::string* message = o ? o->if_contains("message") ? o->at("message").if_string() : nullptr : nullptr;
  if (!code) return bad("'error' must be an object with a string 'code'");
  ProxyAnswer a;
  a.kind = ProxyAnswer::Kind::error;
  // A code the client could take for one of the server's own shapes becomes BACKEND_ERROR.
  a.code = app_code(*code) ? std::string(*code) : "BACKEND_ERROR";
  a.message = message ? std::string(*message) : std::string();
  return a;
}

Result<ProxyAnswer> disconnect_answer(const json::value& v) {
  const json::object* o = v.if_object();
  const json::value* code = o ? o->if_contains("code") : nullptr;
  const json::value* reason = o ? o->if_contains("reason") : nullptr;
  if (!code || !code->is_int64() || code->as_int64() < 4000 || code->as_int64() > 4999)
    return bad("'disconnect' must be an object with a 'code' from 4000 to 4999");
  if (reason && !reason->is_string()) return bad("'disconnect.reason' must be a string");
  ProxyAnswer a;
  a.kind = ProxyAnswer::Kind::disconnect;
  a.close_code = static_cast<std::uint16_t>(code->as_int64());
  if (reason) a.reason = std::string(reason->as_string());
  // A close frame's reason fits 123 bytes (RFC 6455 5.5); cut at a character boundary.
  if (a.reason.size() > 123) {
    std::size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(a.reason[n]) & 0xC0) == 0x80) --n;
    a.reason.resize(n);
  }
  return a;
}

}  // namespace

Result<ProxyAnswer> parse_answer(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return bad("the answer is not JSON: " + ec.message());
  json::object* o = v.if_object();
  if (!o) return bad("the answer is not a JSON object");
  const int present = int(o->contains("result")) + int(o->contains("error")) + int(o->contains("disconnect"));
  if (present != 1) return bad("the answer must hold exactly one of 'result', 'error', 'disconnect'");
  if (auto* e = o->if_contains("error")) return error_answer(*e);
  if (auto* d = o->if_contains("disconnect")) return disconnect_answer(*d);
  ProxyAnswer a;
  a.result = std::move(o->at("result"));
  return a;
}

Proxy::Proxy(ProxyConfig config, const std::vector<boost::asio::io_context*>& workers) : config_(std::move(config)) {
  for (auto* context : workers) clients_.push_back(std::make_unique<transport::HttpClient>(*context, config_.http));
}

Proxy::~Proxy() = default;

const std::string& Proxy::subscribe_url(std::string_view ns) const {
  auto it = config_.namespaces.find(ns);
  return it != config_.namespaces.end() && !it->second.subscribe_url.empty() ? it->second.subscribe_url
                                                                               : config_.subscribe_url;
}

const std::string& Proxy::publish_url(std::string_view ns) const {
  auto it = config_.namespaces.find(ns);
  return it != config_.namespaces.end() && !it->second.publish_url.empty() ? it->second.publish_url
                                                                             : config_.publish_url;
}

bool Proxy::passes_header(std::string_view name) const {
  auto iequal = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  };
  for (const std::string& pattern : config_.headers) {
    if (!pattern.empty() && pattern.back() == '*') {
      const std::string_view prefix(pattern.data(), pattern.size() - 1);
      if (name.size() >= prefix.size() && iequal(name.substr(0, prefix.size()), prefix)) return true;
    } else if (iequal(name, pattern)) {
      return true;
    }
  }
  return false;
}

void Proxy::call(std::size_t shard, Hook hook, const std::string& url, std::string body,
                 const transport::HttpHeaders& headers, ProxyCompletion done) {
  transport::HttpCall request{"POST", url, headers, std::move(body)};
  request.headers.emplace_back("Content-Type", "application/json");
  clients_[shard]->request(std::move(request), [this, hook, url, done = std::move(done)](
                                                   Result<transport::HttpClientResponse> response) {
    if (!response) {
      warn(hook, url, response.error().message);
      // The HTTP layer's kinds, folded into the two a client sees.
      const bool answered_badly = response.error().code == ErrorCode::server_error ||
                                  response.error().code == ErrorCode::message_too_large;
      return done(make_error(answered_badly ? ErrorCode::backend_error : ErrorCode::backend_unavailable,
                             answered_badly ? "the backend's answer is not valid" : "the backend is unavailable"));
    }
    if (response->status != 200) {
      warn(hook, url, "status " + std::to_string(response->status));
      return done(make_error(ErrorCode::backend_error, "the backend answered status " + std::to_string(response->status)));
    }
    auto answer = parse_answer(response->body);
    if (!answer) warn(hook, url, answer.error().message);
    done(std::move(answer));
  });
}

void Proxy::warn(Hook hook, const std::string& url, const std::string& why) {
  const auto index = static_cast<std::size_t>(hook);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch()).count();
  std::int64_t last = last_warned_[index].load(std::memory_order_relaxed);
  // One line per hook every 10 s: a dead backend must not flood the log with one line per call.
  if (last != 0 && now - last < 10000) {
    unlogged_[index].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!last_warned_[index].compare_exchange_strong(last, now)) {
    unlogged_[index].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::uint64_t more = unlogged_[index].exchange(0, std::memory_order_relaxed);
  spdlog::warn("backend {} proxy {} failed: {}{}", hook_name(hook), url, why,
               more ? " (and " + std::to_string(more) + " more failures in the last 10 s)" : std::string());
}

}  // namespace sb::backend
