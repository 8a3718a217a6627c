#pragma once
// The two byte streams an HttpSession runs over, with one small interface so the session is
// written once (as Beast's advanced server does with its plain and SSL sessions): a plain TCP
// socket, or the same socket with an OpenSSL session on it. Both are non-blocking: a call that
// cannot go on says what to wait for (TlsWant::read or ::write), and the session waits for the
// socket's readiness and calls again. Worker thread only.
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstddef>

#include "transport/tls.hpp"

namespace sb::transport {

// n > 0 bytes moved, or what to wait for (read, write), or the end (closed, error).
struct IoResult {
  std::size_t n = 0;
  TlsWant want = TlsWant::nothing;
};

class PlainStream {
 public:
  explicit PlainStream(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
  }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
  TlsWant handshake() { return TlsWant::nothing; }
  IoResult read(char* data, std::size_t size) {
    for (;;) {
      const ssize_t n = ::recv(socket_.native_handle(), data, size, 0);
      if (n > 0) return {static_cast<std::size_t>(n)};
      if (n == 0) return {0, TlsWant::closed};
      if (errno == EINTR) continue;
      return {0, errno == EAGAIN || errno == EWOULDBLOCK ? TlsWant::read : TlsWant::error};
    }
  }
  IoResult write(const char* data, std::size_t size) {
    for (;;) {
      const ssize_t n = ::send(socket_.native_handle(), data, size, MSG_NOSIGNAL);
      if (n >= 0) return {static_cast<std::size_t>(n), n > 0 ? TlsWant::nothing : TlsWant::write};
      if (errno == EINTR) continue;
      return {0, errno == EAGAIN || errno == EWOULDBLOCK ? TlsWant::write : TlsWant::error};
    }
  }
  // Ends our direction; the peer may still send (and we may still drain) until it sees it.
  void shutdown_send() {
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  }
  SSL* release_ssl() noexcept { return nullptr; }

 private:
  boost::asio::ip::tcp::socket socket_;
};

class TlsStream {
 public:
  TlsStream(boost::asio::ip::tcp::socket socket, const TlsContext& tls) : socket_(std::move(socket)) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    ssl_.reset(tls.new_session(socket_.native_handle()));
  }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
  TlsWant handshake() {
    if (!ssl_) return TlsWant::error;
    const int r = SSL_accept(ssl_.get());
    return r == 1 ? TlsWant::nothing : tls_want(ssl_.get(), r);
  }
  IoResult read(char* data, std::size_t size) {
    const int n = SSL_read(ssl_.get(), data, static_cast<int>(size));
    if (n > 0) return {static_cast<std::size_t>(n)};
    return {0, tls_want(ssl_.get(), n)};
  }
  IoResult write(const char* data, std::size_t size) {
    const int n = SSL_write(ssl_.get(), data, static_cast<int>(size));
    if (n > 0) return {static_cast<std::size_t>(n)};
    return {0, tls_want(ssl_.get(), n)};
  }
  void shutdown_send() {
    if (ssl_ && SSL_is_init_finished(ssl_.get())) SSL_shutdown(ssl_.get());  // close_notify, best effort
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  }
  // The TLS session moves to the WebSocket connection with the socket.
  SSL* release_ssl() noexcept { return ssl_.release(); }

 private:
  boost::asio::ip::tcp::socket socket_;
  SslPtr ssl_;
};

}  // namespace sb::transport
