#include "transport/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/http_session.hpp"
#include "transport/tls.hpp"
#include "transport/ws_connection.hpp"

namespace sb::transport {

using tcp = boost::asio::ip::tcp;

struct Server::Acceptor {
  explicit Acceptor(boost::asio::io_context& context) : acceptor(context), timer(context) {}
  tcp::acceptor acceptor;
  boost::asio::steady_timer timer;  // backs off when accept fails (out of descriptors)
};

Server::Server(ServerOptions options, UpgradeHandler on_upgrade, HttpHandler on_http, BodyStreamHandler on_body)
    : options_(std::move(options)), on_upgrade_(std::move(on_upgrade)), on_http_(std::move(on_http)),
      on_body_(std::move(on_body)) {
  if (options_.threads == 0) options_.threads = 1;
  for (std::size_t i = 0; i < options_.threads; ++i) workers_.push_back(std::make_unique<Worker>(i, options_.limits));
  acceptor_ = std::make_unique<Acceptor>(workers_[0]->context());
}

Server::~Server() { halt(); }

void Server::halt() {
  for (auto& w : workers_) w->context().stop();
  join();
}

void Server::listen() {
  tcp::endpoint endpoint(boost::asio::ip::make_address(options_.host), options_.port);
  auto& a = acceptor_->acceptor;
  a.open(endpoint.protocol());
  a.set_option(tcp::acceptor::reuse_address(true));
  a.bind(endpoint);
  a.listen(4096);
  port_ = a.local_endpoint().port();
}

void Server::accept() {
  Worker& worker = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  auto& a = *acceptor_;
  // The socket is created on the chosen worker's io_context; its session starts on that thread.
  a.acceptor.async_accept(worker.context(), [this, &a, &worker](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !a.acceptor.is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      a.timer.expires_after(std::chrono::milliseconds(100));
      a.timer.async_wait([this](boost::system::error_code e) {
        if (!e) accept();
      });
      return;
    }
    boost::asio::post(worker.context(), [this, &worker, socket = std::move(socket)]() mutable {
      if (options_.tls) start_tls_session(worker, std::move(socket), *options_.tls, on_upgrade_, on_http_);
      else start_http_session(worker, std::move(socket), on_upgrade_, on_http_, on_body_);
    });
    accept();
  });
}

void Server::start() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    boost::asio::post(w.context(), [this, i, &w] {
      w.start_sweeping();
      if (i == 0) accept();
    });
    threads_.emplace_back([&w] {
      // One thread per io_context: a handler never races another on the same worker.
      for (;;) {
        try {
          w.context().run();
          return;
        } catch (const std::exception& e) {
          // Last resort: a bug escaped a session; keep the worker serving the others.
          spdlog::error("worker {}: unhandled exception: {}", w.index(), e.what());
        }
      }
    });
  }
}

void Server::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Server::stop() {
  boost::asio::post(workers_[0]->context(), [this] {
    boost::system::error_code ec;
    acceptor_->acceptor.close(ec);
  });
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    boost::asio::post(w.context(), [&w] {
      w.stop_gracefully();
    });
  }
}

}  // namespace sb::transport
