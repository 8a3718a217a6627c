#include "transport/server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/http_session.hpp"
#include "transport/tls.hpp"
#include "transport/ws_connection.hpp"

namespace sb::transport {

using tcp = boost::asio::ip::tcp;

namespace {

// Go's runtime does the same: the soft limit is a leftover of select(); the hard limit is what
// the administrator granted. Logged, with the fix when it is small.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = before;
  }
  // Below this, a few thousand clients exhaust the process (each connection is a descriptor).
  constexpr rlim_t small = 16384;
  if (limit.rlim_cur < small)
    spdlog::warn("file descriptor limit is {} (hard limit {}): at most about that many connections. Raise it: "
                 "LimitNOFILE=1048576 in the systemd unit, or `ulimit -n 1048576` before starting",
                 limit.rlim_cur, limit.rlim_max);
  else if (limit.rlim_cur != before)
    spdlog::info("file descriptor limit raised from {} to {}", before, limit.rlim_cur);
  else
    spdlog::info("file descriptor limit {}", limit.rlim_cur);
}

// Sent, on a plain port, to a connection accepted with the spare descriptor: head and body, as
// bytes, since the descriptors are gone and there is no session to write them.
std::string out_of_descriptors_reply(const RefusalRenderer& render) {
  const HttpResponse r = render(Refusal{503, "UNAVAILABLE", "server out of file descriptors", true});
  std::string bytes = "HTTP/1.1 503 Service Unavailable\r\n";
  if (!r.content_type.empty()) bytes += "Content-Type: " + r.content_type + "\r\n";
  for (const auto& [name, value] : r.headers) bytes += name + ": " + value + "\r\n";
  bytes += "Connection: close\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
  return bytes + r.body;
}

// Without a renderer from the layer above: the message as plain text.
HttpResponse plain_text_refusal(const Refusal& refusal) {
  return HttpResponse{refusal.status, "text/plain", std::string(refusal.message), {}};
}

}  // namespace

HttpConnectionGate::Slot HttpConnectionGate::admit(const std::string& address, bool& full) {
  std::lock_guard lock(mutex_);
  full = total_ >= max_total_;
  if (full) return {};
  auto [it, inserted] = per_address_.try_emplace(address, 0);
  full = it->second >= max_per_address_;
  if (full) return {};
  ++it->second;
  ++total_;
  return Slot(this, address);
}

void HttpConnectionGate::give_back(const std::string& address) {
  std::lock_guard lock(mutex_);
  --total_;
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t HttpConnectionGate::open() const {
  std::lock_guard lock(mutex_);
  return total_;
}

struct Server::Acceptor {
  explicit Acceptor(boost::asio::io_context& context) : acceptor(context), timer(context) {}
  tcp::acceptor acceptor;
  boost::asio::steady_timer timer;  // backs off when accept fails (out of descriptors)
};

Server::Server(ServerOptions options, UpgradeHandler on_upgrade, HttpHandler on_http, BodyStreamHandler on_body,
               RefusalRenderer render_refusal)
    : options_(std::move(options)), on_upgrade_(std::move(on_upgrade)), on_http_(std::move(on_http)),
      on_body_(std::move(on_body)),
      render_refusal_(render_refusal ? std::move(render_refusal) : RefusalRenderer(plain_text_refusal)),
      out_of_descriptors_reply_(out_of_descriptors_reply(render_refusal_)) {
  if (options_.threads == 0) options_.threads = 1;
  for (std::size_t i = 0; i < options_.threads; ++i) workers_.push_back(std::make_unique<Worker>(i, options_.limits));
  acceptor_ = std::make_unique<Acceptor>(workers_[0]->context());
  gate_ = std::make_unique<HttpConnectionGate>(options_.limits.max_http_connections,
                                               options_.limits.max_http_connections_per_ip);
}

Server::~Server() {
  halt();
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

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
  a.native_non_blocking(true);  // shed_backlog accepts directly and must not block
  port_ = a.local_endpoint().port();
  raise_descriptor_limit();
  if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// Out of descriptors, every connection in the backlog would wait there until its client gives
// up. Instead: give back the spare descriptor, accept one, answer it (503 on a plain port; a
// TLS client just sees the close), close it, take the spare again; as many as are waiting.
// Returns false when nothing could be done (no spare: the caller backs off).
bool Server::shed_backlog() {
  if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare_fd_ < 0) return false;
  const int listener = acceptor_->acceptor.native_handle();
  std::uint64_t shed = 0;
  for (int i = 0; i < 256; ++i) {
    ::close(spare_fd_);
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      // Read what the client already sent: closing with unread bytes would reset the answer away.
      char discard[4096];
      while (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
      }
      if (!options_.tls)
        (void)!::send(fd, out_of_descriptors_reply_.data(), out_of_descriptors_reply_.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      ++shed;
    }
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || spare_fd_ < 0) break;
  }
  workers_[0]->stats().add(workers_[0]->stats().accept_refused, shed);
  refused_since_warning_ += shed;
  const auto now = std::chrono::steady_clock::now();
  if (refused_since_warning_ > 0 &&
      (last_fd_warning_ == std::chrono::steady_clock::time_point{} || now - last_fd_warning_ >= std::chrono::minutes(1))) {
    spdlog::warn("out of file descriptors: {} connection(s) answered and closed at once since the last warning; "
                 "raise the limit (LimitNOFILE= in the systemd unit, or ulimit -n)",
                 refused_since_warning_);
    refused_since_warning_ = 0;
    last_fd_warning_ = now;
  }
  return shed > 0;
}

void Server::accept() {
  Worker& worker = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  auto& a = *acceptor_;
  // The socket is created on the chosen worker's io_context; its session starts on that thread.
  a.acceptor.async_accept(worker.context(), [this, &a, &worker](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !a.acceptor.is_open()) return;
    if (ec == boost::asio::error::no_descriptors || ec.value() == ENFILE) {
      if (shed_backlog()) return accept();
    }
    if (ec) {
      // Once a minute at most, not once per retry.
      const auto now = std::chrono::steady_clock::now();
      if (last_accept_warning_ == std::chrono::steady_clock::time_point{} ||
          now - last_accept_warning_ >= std::chrono::minutes(1)) {
        spdlog::warn("accept failed: {}", ec.message());
        last_accept_warning_ = now;
      }
      a.timer.expires_after(std::chrono::milliseconds(100));
      a.timer.async_wait([this](boost::system::error_code e) {
        if (!e) accept();
      });
      return;
    }
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    bool full = false;
    HttpConnectionGate::Slot slot = gate_->admit(peer_ec ? std::string() : peer.address().to_string(), full);
    boost::asio::post(worker.context(), [this, &worker, socket = std::move(socket), slot = std::move(slot), full]() mutable {
      start_http_session(worker, std::move(socket), options_.tls.get(), handlers_, std::move(slot), full);
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
