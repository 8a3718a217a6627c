#include "transport/http_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace sb::transport {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

bool parse_http_url(const std::string& url, std::string& host, std::string& port, std::string& target) {
  constexpr std::string_view scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    host = authority;
    port = "80";
  } else {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  return !host.empty() && !port.empty();
}

namespace {

class Webhook : public std::enable_shared_from_this<Webhook> {
 public:
  Webhook(boost::asio::io_context& context, WebhookRequest request, std::function<void(bool)> done)
      : context_(context), request_(std::move(request)), done_(std::move(done)), resolver_(context), timer_(context) {}

  void attempt() {
    ++tries_;
    std::string host, port, target;
    if (!parse_http_url(request_.url, host, port, target)) return finish(false, "not an http:// URL");
    auto stream = std::make_shared<beast::tcp_stream>(context_);
    auto req = std::make_shared<http::request<http::string_body>>(http::verb::post, target, 11);
    req->set(http::field::host, host);
    req->set(http::field::content_type, "application/json");
    req->set(http::field::user_agent, "switchboard");
    for (const auto& [k, v] : request_.headers) req->set(k, v);
    req->body() = request_.body;
    req->prepare_payload();
    auto self = shared_from_this();
    resolver_.async_resolve(host, port, [self, stream, req](beast::error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->retry(ec.message());
      stream->expires_after(std::chrono::seconds(5));
      stream->async_connect(results, [self, stream, req](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->retry(ec.message());
        http::async_write(*stream, *req, [self, stream, req](beast::error_code ec, std::size_t) {
          if (ec) return self->retry(ec.message());
          auto buffer = std::make_shared<beast::flat_buffer>();
          auto res = std::make_shared<http::response<http::string_body>>();
          http::async_read(*stream, *buffer, *res, [self, stream, buffer, res](beast::error_code ec, std::size_t) {
            if (ec) return self->retry(ec.message());
            beast::error_code ignored;
            stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
            if (res->result_int() / 100 != 2) return self->retry("status " + std::to_string(res->result_int()));
            self->finish(true, {});
          });
        });
      });
    });
  }

 private:
  void retry(const std::string& why) {
    if (tries_ >= request_.attempts) return finish(false, why);
    auto delay = request_.first_backoff * (1 << (tries_ - 1));
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->attempt();
    });
  }
  void finish(bool ok, const std::string& why) {
    if (!ok) spdlog::warn("webhook {} failed after {} attempt(s): {}", request_.url, tries_, why);
    if (done_) done_(ok);
  }

  boost::asio::io_context& context_;
  WebhookRequest request_;
  std::function<void(bool)> done_;
  tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  int tries_ = 0;
};

}  // namespace

void post_webhook(boost::asio::io_context& context, WebhookRequest request, std::function<void(bool)> done) {
  auto hook = std::make_shared<Webhook>(context, std::move(request), std::move(done));
  boost::asio::post(context, [hook] { hook->attempt(); });
}

}  // namespace sb::transport
