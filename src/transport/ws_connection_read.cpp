// The read side of WsConnection: start(), reading the socket, parsing frames, answering control
// frames, assembling fragments, validating text and handing messages to the handler. The send
// side (queue, flush, close, fail, sweep) is in ws_connection.cpp.
#include "transport/ws_connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include <boost/asio/bind_allocator.hpp>

#include "transport/deflate.hpp"
#include "transport/utf8.hpp"
#include "transport/worker.hpp"

namespace sb::transport {

namespace {

// Plain operator new/delete, of exactly the size asked. Asio treats std::allocator<void> as "use
// the recycling allocator", which hands a long-lived wait a cached block left by a larger,
// short-lived operation (Beast's HTTP read, ~580 bytes), kept for the connection's whole life.
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <typename U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

std::int64_t steady_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The code to answer a peer's close frame with: its own (RFC 6455 5.5.1), 1000 when it gave none.
std::uint16_t close_code_to_echo(std::string_view payload) {
  std::uint16_t code = close_code::normal;
  if (payload.size() >= 2)
    code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
  // A 1-byte payload, or a code no endpoint may send, is a protocol error; a reason that
  // is not UTF-8 is invalid data (RFC 6455 5.5.1, 7.4, 8.1).
  if (payload.size() == 1 || !valid_close_code(code)) return close_code::protocol_error;
  if (payload.size() > 2 && !is_valid_utf8(payload.substr(2))) return close_code::invalid_payload;
  return code;
}

}  // namespace

void WsConnection::start(std::unique_ptr<WsHandler> handler) {
  handler_ = std::move(handler);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  last_activity_ = worker_.now_seconds();
  budget_.start(worker_.limits().frame_burst, steady_nanoseconds());
  worker_.add(this);
  handler_->on_open(*this);
  // Bytes that arrived with the upgrade request are processed as if just read.
  if (!leftover_.empty() && state_ != State::closed) {
    std::string first = std::move(leftover_);
    leftover_.clear();
    std::size_t used = process(first.data(), first.size());
    if (used == std::string::npos) return;
    leftover_.assign(first, used);
  }
  if (state_ == State::closed) return;
  // TLS may already hold decrypted bytes that the socket will not signal again.
  if (ssl_ && SSL_pending(ssl_.get()) > 0)
    return boost::asio::post(worker_.context(), [self = shared_from_this()] { self->on_readable(); });
  wait_readable();
}

long WsConnection::read_some(char* buffer, std::size_t capacity) {
  if (ssl_) {
    const int n = SSL_read(ssl_.get(), buffer, static_cast<int>(capacity));
    if (n > 0) return n;
    switch (tls_want(ssl_.get(), n)) {
      case TlsWant::read:
      case TlsWant::write: return -1;  // a renegotiation's write is flushed by the next read
      case TlsWant::closed: return 0;
      default: return -2;
    }
  }
  for (;;) {
    ssize_t n = ::recv(socket_.native_handle(), buffer, capacity, 0);
    if (n >= 0) return static_cast<long>(n);
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : -2;
  }
}

void WsConnection::limit_until_trusted() noexcept { budget_.limit_until_trusted(worker_.limits().untrusted_frames); }

bool WsConnection::take_frame_token() {
  auto& stats = worker_.stats();
  switch (budget_.take()) {
    case FrameBudget::Verdict::ok: return true;
    case FrameBudget::Verdict::untrusted_spent:
      stats.add(stats.untrusted_frame_closes);
      fail(close_code::policy_violation, "too many frames before authentication");
      return false;
    case FrameBudget::Verdict::too_fast:
      stats.add(stats.frame_rate_closes);
      fail(close_code::policy_violation, "too many frames");
      return false;
  }
  return false;
}

// process() gave up on the connection (fail) or finished it: a failed one keeps reading, to drop.
void WsConnection::after_process_stopped() {
  if (state_ == State::closing && discard_input_) wait_readable();
}

void WsConnection::discard_input(char* buffer, std::size_t capacity) {
  for (int round = 0; round < 4; ++round) {
    const long n = read_some(buffer, capacity);
    if (n == 0 || n == -2) return finish();  // the peer closed (or reset): done
    if (n == -1) break;
    worker_.stats().add(worker_.stats().bytes_in, static_cast<std::uint64_t>(n));
  }
  if (ssl_ && SSL_pending(ssl_.get()) > 0) {
    boost::asio::post(worker_.context(), [self = shared_from_this()] { self->on_readable(); });
    return;
  }
  wait_readable();
}

void WsConnection::wait_readable() {
  // The wait every idle connection keeps pending: allocated at its own size (ExactAllocator).
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     boost::asio::bind_allocator(ExactAllocator<void>(),
                                                 [self = shared_from_this()](const boost::system::error_code& ec) {
                                                   if (ec) {
                                                     if (ec != boost::asio::error::operation_aborted) self->finish();
                                                     return;
                                                   }
                                                   self->on_readable();
                                                 }));
}

void WsConnection::on_readable() {
  if (state_ == State::closed) return;
  char* buffer = worker_.read_buffer();
  const std::size_t capacity = Worker::read_buffer_size;
  if (discard_input_) return discard_input(buffer, capacity);
  budget_.refill(worker_.limits().frame_rate, worker_.limits().frame_burst, steady_nanoseconds());
  // Read at most a few buffers per wake-up so one busy client cannot starve the others.
  for (int round = 0; round < 4; ++round) {
    long n = read_some(buffer, capacity);
    if (n == 0 || n == -2) {  // peer closed TCP without a close frame, or the socket failed
      finish();
      return;
    }
    if (n == -1) break;
    worker_.stats().add(worker_.stats().bytes_in, static_cast<std::uint64_t>(n));
    last_activity_ = worker_.now_seconds();
    ping_outstanding_ = false;
    if (leftover_.empty()) {
      std::size_t used = process(buffer, static_cast<std::size_t>(n));
      if (used == std::string::npos) return after_process_stopped();
      if (used < static_cast<std::size_t>(n)) leftover_.assign(buffer + used, static_cast<std::size_t>(n) - used);
    } else {
      leftover_.append(buffer, static_cast<std::size_t>(n));
      std::size_t used = process(leftover_.data(), leftover_.size());
      if (used == std::string::npos) return after_process_stopped();
      leftover_.erase(0, used);
      if (leftover_.empty()) std::string().swap(leftover_);
    }
    if (state_ == State::closed) return;
    // TLS may hold decrypted bytes the socket no longer signals.
    if (static_cast<std::size_t>(n) < capacity && !(ssl_ && SSL_pending(ssl_.get()) > 0)) break;
  }
  if (ssl_ && SSL_pending(ssl_.get()) > 0) {
    boost::asio::post(worker_.context(), [self = shared_from_this()] { self->on_readable(); });
    return;
  }
  wait_readable();
}

std::size_t WsConnection::process(char* data, std::size_t size) {
  std::size_t pos = 0;
  const std::size_t limit = worker_.limits().max_message_size;
  while (pos < size && state_ != State::closed) {
    WsParseResult r = parse_client_frame(data + pos, size - pos, limit, deflate_);
    if (r.status == WsParseStatus::need_more) break;
    if (r.status == WsParseStatus::protocol_error) {
      fail(close_code::protocol_error, "protocol error");
      return std::string::npos;
    }
    if (r.status == WsParseStatus::too_big) {
      worker_.stats().add(worker_.stats().oversized_messages);
      fail(close_code::message_too_big, "message too big");
      return std::string::npos;
    }
    pos += r.consumed;
    if (!on_frame(r.frame)) return std::string::npos;
  }
  // A partial frame larger than the limit (plus a header) can never complete in bounds.
  if (size - pos > limit + 14) {
    worker_.stats().add(worker_.stats().oversized_messages);
    fail(close_code::message_too_big, "message too big");
    return std::string::npos;
  }
  return pos;
}

bool WsConnection::on_frame(const WsFrameView& frame) {
  worker_.stats().add(worker_.stats().frames_in);
  // Every frame spends budget, empty fragments and control frames included; nothing a peer
  // sends gives any back (only time refills the bucket).
  if (state_ == State::open && !take_frame_token()) return false;
  switch (frame.opcode) {
    case WsOpcode::ping:
      if (state_ == State::open) queue_pong(frame.payload);
      return state_ != State::closed;
    case WsOpcode::pong:
      return true;
    case WsOpcode::close:
      return on_close_frame(frame.payload);
    case WsOpcode::continuation:
      // RSV1 marks a message on its first frame only (RFC 7692 6.1).
      if (!in_message_ || frame.compressed) {
        fail(close_code::protocol_error, "unexpected continuation");
        return false;
      }
      break;
    case WsOpcode::text:
    case WsOpcode::binary:
      return on_first_frame(frame);
  }
  return on_fragment(frame);
}

bool WsConnection::on_close_frame(std::string_view payload) {
  const bool first_close = !close_received_;
  close_received_ = true;
  if (state_ == State::open) {
    // Echo the peer's code (RFC 6455 5.5.1), then drop the socket once it is written.
    state_ = State::closing;
    closing_since_ = worker_.now_seconds();
    close_after_flush_ = true;
    close_code_ = close_code_to_echo(payload);
    queue_close(encode_close_frame(close_code_, {}));
    return true;
  }
  // A second close from the peer: our answer to its first is on its way; nothing more to do.
  if (!first_close) return true;
  // We started the handshake (or failed the connection) and this is the answer. Our close
  // frame may still be queued (both arrived in one read): it leaves first, then the socket.
  if (head_ < queue_.size() || tls_out_pos_ < tls_out_.size()) {
    close_after_flush_ = true;
    return false;
  }
  finish();
  return false;
}

bool WsConnection::on_first_frame(const WsFrameView& frame) {
  if (in_message_) {
    fail(close_code::protocol_error, "expected continuation");
    return false;
  }
  in_message_ = true;
  message_compressed_ = frame.compressed;
  message_binary_ = frame.opcode == WsOpcode::binary;
  fragments_ = 0;
  utf8_.reset();
  if (frame.fin) {
    in_message_ = false;
    if (!check_text(frame.payload, true)) return false;
    return deliver_message(frame.payload, frame.compressed, message_binary_);
  }
  return on_fragment(frame);
}

bool WsConnection::on_fragment(const WsFrameView& frame) {
  // RFC 6455 7.4.1: 1009 is for a message "too big for it to process", and 1008 is the generic
  // code for when no more specific one fits; a message in too many pieces is too big in pieces,
  // and the client's remedy is the same as for bytes: send it differently, not again as is.
  if (++fragments_ > worker_.limits().max_message_fragments) {
    worker_.stats().add(worker_.stats().fragment_closes);
    fail(close_code::message_too_big, "too many fragments");
    return false;
  }
  // A fragment: assemble, within the message limit.
  if (message_.size() + frame.payload.size() > worker_.limits().max_message_size) {
    worker_.stats().add(worker_.stats().oversized_messages);
    fail(close_code::message_too_big, "message too big");
    return false;
  }
  if (!check_text(frame.payload, frame.fin)) return false;
  message_.append(frame.payload);
  if (frame.fin) {
    in_message_ = false;
    fragments_ = 0;
    std::string whole = std::move(message_);
    message_ = std::string();
    return deliver_message(whole, message_compressed_, message_binary_);
  }
  return state_ != State::closed;
}

bool WsConnection::check_text(std::string_view fragment, bool fin) {
  if (message_binary_ || message_compressed_) return true;
  // Fail fast (RFC 6455 8.1 allows it): at the first byte that cannot be UTF-8, without waiting
  // for the rest of the message; a sequence cut at a fragment's end carries over to the next.
  if (utf8_.feed(fragment) && (!fin || utf8_.complete())) return true;
  fail(close_code::invalid_payload, "invalid UTF-8");
  return false;
}

bool WsConnection::deliver_message(std::string_view payload, bool compressed, bool binary) {
  if (state_ != State::open) return state_ != State::closed;
  if (!compressed) {
    // A text message's bytes were validated as they arrived (check_text).
    handler_->on_message(payload, binary);
    return state_ != State::closed;
  }
  std::string inflated;
  switch (inflate_message(payload, worker_.limits().max_message_size, inflated)) {
    case InflateStatus::ok: break;
    case InflateStatus::too_big:
      worker_.stats().add(worker_.stats().oversized_messages);
      fail(close_code::message_too_big, "message too big");
      return false;
    case InflateStatus::invalid:
      fail(close_code::invalid_payload, "invalid compressed data");
      return false;
  }
  // Compressed text is checked once inflated: the deflate stream is not cut at characters.
  if (!binary && !is_valid_utf8(inflated)) {
    fail(close_code::invalid_payload, "invalid UTF-8");
    return false;
  }
  handler_->on_message(inflated, binary);
  return state_ != State::closed;
}

}  // namespace sb::transport
