#pragma once
// A deliberately dumb WebSocket client over a plain TCP socket, for tests that must send what a
// well-behaved client library never would: unmasked frames, oversized frames, half frames, and
// clients that never read or never answer a ping.
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace sb::test {

struct RawFrame {
  std::uint8_t opcode = 0;
  std::string payload;
  // For close frames: the code the server sent.
  int close_code() const {
    return payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
                               : 0;
  }
};

class RawWs {
 public:
  // Opens TCP; with `receive_buffer` > 0 the socket's receive buffer is shrunk first (to make a
  // slow consumer fill up fast).
  RawWs(std::uint16_t port, int receive_buffer = 0) : socket_(context_) {
    socket_.open(boost::asio::ip::tcp::v4());
    if (receive_buffer > 0) socket_.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }

  // Sends the upgrade and reads the 101; returns the response head.
  std::string upgrade(const std::string& path = "/ws", const std::string& extra_headers = {}) {
    write("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n");
    boost::asio::read_until(socket_, in_, "\r\n\r\n");
    std::string all(boost::asio::buffers_begin(in_.data()), boost::asio::buffers_end(in_.data()));
    auto end = all.find("\r\n\r\n") + 4;
    in_.consume(end);
    return all.substr(0, end);
  }

  void write(const std::string& bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }

  // A client frame; masked unless told otherwise.
  static std::string frame(std::uint8_t opcode, const std::string& payload, bool fin = true, bool masked = true,
                           bool rsv1 = false) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode));
    const std::uint8_t mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
      f.push_back(static_cast<char>(mask_bit | payload.size()));
    } else if (payload.size() <= 0xFFFF) {
      f.push_back(static_cast<char>(mask_bit | 126));
      f.push_back(static_cast<char>(payload.size() >> 8));
      f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
      f.push_back(static_cast<char>(mask_bit | 127));
      for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((std::uint64_t{payload.size()} >> s) & 0xFF));
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      f.push_back(masked ? static_cast<char>(payload[i] ^ mask[i % 4]) : payload[i]);
    return f;
  }
  void send_text(const std::string& text) { write(frame(0x1, text)); }

  // The next server frame, or nullopt on timeout or when the server closed TCP.
  std::optional<RawFrame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto f = parse()) return f;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      auto dest = in_.prepare(static_cast<std::size_t>(n));
      std::memcpy(dest.data(), buf, static_cast<std::size_t>(n));
      in_.commit(static_cast<std::size_t>(n));
    }
  }

  // Reads frames until a close frame; returns its code (0 if TCP closed without one, -1 on timeout).
  int read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return -1;
      auto f = read_frame(left);
      if (!f) return std::chrono::steady_clock::now() >= deadline ? -1 : 0;
      if (f->opcode == 0x8) return f->close_code();
    }
  }

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  std::optional<RawFrame> parse() {
    std::string data(boost::asio::buffers_begin(in_.data()), boost::asio::buffers_end(in_.data()));
    if (data.size() < 2) return std::nullopt;
    std::size_t len = static_cast<unsigned char>(data[1]) & 0x7F, pos = 2;
    if (len == 126) {
      if (data.size() < 4) return std::nullopt;
      len = (static_cast<unsigned char>(data[2]) << 8) | static_cast<unsigned char>(data[3]);
      pos = 4;
    } else if (len == 127) {
      if (data.size() < 10) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(data[2 + i]);
      pos = 10;
    }
    if (data.size() < pos + len) return std::nullopt;
    RawFrame f{static_cast<std::uint8_t>(data[0] & 0x0F), data.substr(pos, len)};
    in_.consume(pos + len);
    return f;
  }

  boost::asio::io_context context_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::streambuf in_;
};

}  // namespace sb::test
