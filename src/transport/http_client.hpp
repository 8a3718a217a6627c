#pragma once
// Outgoing HTTP/1.1 POSTs (webhooks to the app's backend), retried with exponential backoff.
// Plain http:// only for now.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sb::transport {

struct WebhookRequest {
  std::string url;  // http://host[:port]/path
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int attempts = 5;                                     // the first try included
  std::chrono::milliseconds first_backoff{500};          // doubled after each failure
};

// Sends `request` from `context`'s thread; `done(true)` once a 2xx answer came back, `done(false)`
// after the last attempt failed (connection error, timeout or a non-2xx status).
void post_webhook(boost::asio::io_context& context, WebhookRequest request, std::function<void(bool)> done = {});

// Splits an http:// URL; false when it is not one.
bool parse_http_url(const std::string& url, std::string& host, std::string& port, std::string& target);

}  // namespace sb::transport
