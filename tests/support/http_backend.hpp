#pragma once
// A stand-in for the app's backend: an HTTP/1.1 server on 127.0.0.1 (Beast, synchronous, one
// thread per connection, keep-alive) whose answers a test scripts, and which records every
// request it got.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sb::test {

class HttpBackend {
 public:
  struct Request {
    std::string path, body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string header(std::string_view name) const {
      for (const auto& [k, v] : headers)
        if (boost::beast::iequals(k, name)) return v;
      return {};
    }
  };
  struct Reply {
    std::string body;
    unsigned status = 200;
    std::chrono::milliseconds delay{0};
    std::string raw;  // when set: these bytes instead of an HTTP answer, then the connection closes
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit HttpBackend(Handler handler) : handler_(std::move(handler)) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen(1024);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~HttpBackend() {
    stopping_ = true;
    boost::system::error_code ignored;
    boost::asio::ip::tcp::socket poke(context_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    accept_thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (auto* s : open_) s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    }
    for (auto& t : threads_) t.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<Request> requests_to(const std::string& path) const {
    std::vector<Request> out;
    for (auto& r : requests())
      if (r.path == path) out.push_back(r);
    return out;
  }

 private:
  void accept_loop() {
    while (true) {
      boost::asio::ip::tcp::socket socket(context_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_ || ec) return;
      std::lock_guard lock(mutex_);
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(s); });
    }
  }
  void serve(boost::asio::ip::tcp::socket& socket) {
    namespace http = boost::beast::http;
    {
      std::lock_guard lock(mutex_);
      open_.push_back(&socket);
    }
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) break;
      Request r{std::string(request.target()), request.body(), {}};
      for (const auto& field : request) r.headers.emplace_back(field.name_string(), field.value());
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(r);
      }
      Reply reply = handler_(r);
      if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
      if (!reply.raw.empty()) {
        boost::asio::write(socket, boost::asio::buffer(reply.raw), ec);
        break;
      }
      http::response<http::string_body> response(static_cast<http::status>(reply.status), 11);
      response.set(http::field::content_type, "application/json");
      response.body() = reply.body;
      response.keep_alive(true);
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec) break;
    }
    std::lock_guard lock(mutex_);
    std::erase(open_, &socket);
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  Handler handler_;
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_{context_};
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::vector<boost::asio::ip::tcp::socket*> open_;
  std::vector<Request> requests_;
  std::atomic<bool> stopping_{false};
};

}  // namespace sb::test
