#include "transport/ws_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

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

// iovecs per sendmsg: enough to batch hundreds of small frames, well under IOV_MAX (1024).
constexpr std::size_t max_iov = 256;

std::int64_t steady_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

WsConnection::WsConnection(Worker& worker, boost::asio::ip::tcp protocol, int fd, std::string already_read, SSL* ssl,
                           bool deflate)
    : worker_(worker), socket_(worker.context().get_executor(), protocol, fd), ssl_(ssl),
      leftover_(std::move(already_read)), deflate_(deflate) {}

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

WsConnection::~WsConnection() = default;

std::string WsConnection::remote_address() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? std::string{} : ep.address().to_string();
}

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

void WsConnection::send(SharedBytes frame) {
  if (state_ != State::open) return;
  if (within_send_queue(frame->size())) enqueue(std::move(frame));
}

bool WsConnection::within_send_queue(std::size_t more) {
  if (queued_bytes_ + more <= worker_.limits().max_send_queue) return true;
  worker_.stats().add(worker_.stats().slow_consumers);
  fail(close_code::slow_consumer, "slow consumer");
  return false;
}

void WsConnection::queue_close(std::string frame) { enqueue(make_shared_bytes(std::move(frame))); }

void WsConnection::queue_pong(std::string_view payload) {
  auto pong = make_shared_bytes(encode_frame(WsOpcode::pong, payload));
  if (pong_at_ != no_limit) {
    // The earlier pong has not started on the wire: this one takes its place, so a peer that
    // pings without reading holds one pong here, not one per ping.
    queued_bytes_ = queued_bytes_ - queue_[pong_at_]->size() + pong->size();
    queue_[pong_at_] = std::move(pong);
    worker_.stats().add(worker_.stats().pongs_coalesced);
    return;
  }
  if (!within_send_queue(pong->size())) return;
  pong_at_ = static_cast<std::uint32_t>(queue_.size());
  enqueue(std::move(pong));
}

void WsConnection::settle_pong() noexcept {
  if (pong_at_ != no_limit && (pong_at_ < head_ || (pong_at_ == head_ && head_offset_ > 0))) pong_at_ = no_limit;
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

void WsConnection::enqueue(SharedBytes frame) {
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (!writing_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    worker_.schedule_flush(shared_from_this());
  }
}

void WsConnection::close(std::uint16_t code, std::string_view reason) {
  if (state_ != State::open) return;
  state_ = State::closing;
  closing_since_ = worker_.now_seconds();
  queue_close(encode_close_frame(code, reason));
}

void WsConnection::fail(std::uint16_t code, std::string_view reason) {
  if (state_ == State::closed) return;
  // What was queued will never be read by a peer we are giving up on: drop it and send only the
  // close frame. A frame already partly on the wire must finish first, or the close frame would
  // land inside it. If the peer never reads again, the sweep drops it after close_timeout.
  SharedBytes partial;
  if (!ssl_ && writing_ && head_ < queue_.size() && head_offset_ > 0) partial = std::move(queue_[head_]);
  pong_at_ = no_limit;
  // With TLS the partly written bytes are in tls_out_, which flush_tls finishes first.
  if (ssl_) queued_bytes_ = tls_out_.size() - tls_out_pos_;
  queue_.clear();
  head_ = 0;
  if (!ssl_) queued_bytes_ = 0;
  if (partial) {
    queued_bytes_ = partial->size() - head_offset_;
    queue_.push_back(std::move(partial));
  } else {
    head_offset_ = 0;
  }
  state_ = State::closing;
  closing_since_ = worker_.now_seconds();
  discard_input_ = true;
  std::string().swap(leftover_);
  std::string().swap(message_);
  queue_close(encode_close_frame(code, reason));
}

// After the close frame of a failed connection is out: the FIN tells the peer we are done; its
// bytes are still read and dropped (on_readable) until it closes too.
void WsConnection::shut_down_sending() {
  if (sent_fin_) return;
  sent_fin_ = true;
  if (ssl_) SSL_shutdown(ssl_.get());
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::socket_base::shutdown_send, ec);
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
    case WsOpcode::close: {
      const bool first_close = !close_received_;
      close_received_ = true;
      if (state_ == State::open) {
        // Echo the peer's code (RFC 6455 5.5.1), then drop the socket once it is written.
        std::uint16_t code = close_code::normal;
        if (frame.payload.size() >= 2)
          code = static_cast<std::uint16_t>((static_cast<unsigned char>(frame.payload[0]) << 8) |
                                            static_cast<unsigned char>(frame.payload[1]));
        // A 1-byte payload, or a code no endpoint may send, is a protocol error; a reason that
        // is not UTF-8 is invalid data (RFC 6455 5.5.1, 7.4, 8.1).
        if (frame.payload.size() == 1 || !valid_close_code(code))
          code = close_code::protocol_error;
        else if (frame.payload.size() > 2 && !is_valid_utf8(frame.payload.substr(2)))
          code = close_code::invalid_payload;
        state_ = State::closing;
        closing_since_ = worker_.now_seconds();
        close_after_flush_ = true;
        queue_close(encode_close_frame(code, {}));
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
    case WsOpcode::continuation:
      // RSV1 marks a message on its first frame only (RFC 7692 6.1).
      if (!in_message_ || frame.compressed) {
        fail(close_code::protocol_error, "unexpected continuation");
        return false;
      }
      break;
    case WsOpcode::text:
    case WsOpcode::binary:
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
      break;
  }
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

void WsConnection::flush() {
  if (state_ == State::closed || writing_) return;
  if (ssl_) return flush_tls();
  const int fd = socket_.native_handle();
  while (head_ < queue_.size()) {
    iovec iov[max_iov];
    std::size_t n = 0;
    for (std::size_t i = head_; i < queue_.size() && n < max_iov; ++i, ++n) {
      const std::string& f = *queue_[i];
      std::size_t skip = i == head_ ? head_offset_ : 0;
      iov[n].iov_base = const_cast<char*>(f.data() + skip);
      iov[n].iov_len = f.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t written = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_writable();
        return;
      }
      finish();
      return;
    }
    auto& stats = worker_.stats();
    stats.add(stats.writes);
    stats.add(stats.bytes_out, static_cast<std::uint64_t>(written));
    queued_bytes_ -= static_cast<std::size_t>(written);
    // Release the frames written in full; keep our place in a partly written one.
    std::size_t left = static_cast<std::size_t>(written);
    while (left > 0) {
      std::size_t rest = queue_[head_]->size() - head_offset_;
      if (left >= rest) {
        left -= rest;
        queue_[head_].reset();
        ++head_;
        head_offset_ = 0;
      } else {
        head_offset_ += left;
        left = 0;
      }
    }
    settle_pong();
  }
  // Drained: give the buffer back, so an idle connection holds none (the next burst allocates
  // one, which costs far less than the sendmsg it comes with).
  std::vector<SharedBytes>().swap(queue_);
  head_ = head_offset_ = 0;
  pong_at_ = no_limit;
  if (close_after_flush_) return finish();
  if (discard_input_) shut_down_sending();
}

// TLS cannot gather: queued frames are copied into one buffer (up to 64 KiB at a time, a few TLS
// records) and written with SSL_write, which must be retried with the same bytes until done.
void WsConnection::flush_tls() {
  constexpr std::size_t batch = 64 * 1024;
  for (;;) {
    if (tls_out_pos_ == tls_out_.size()) {
      tls_out_.clear();
      tls_out_pos_ = 0;
      while (head_ < queue_.size() && tls_out_.size() < batch) {
        tls_out_.append(*queue_[head_]);
        queue_[head_].reset();
        ++head_;
      }
      settle_pong();
      if (tls_out_.empty()) break;
    }
    const int n = SSL_write(ssl_.get(), tls_out_.data() + tls_out_pos_, static_cast<int>(tls_out_.size() - tls_out_pos_));
    if (n > 0) {
      tls_out_pos_ += static_cast<std::size_t>(n);
      queued_bytes_ -= std::min(queued_bytes_, static_cast<std::size_t>(n));
      auto& stats = worker_.stats();
      stats.add(stats.writes);
      stats.add(stats.bytes_out, static_cast<std::uint64_t>(n));
      continue;
    }
    const TlsWant want = tls_want(ssl_.get(), n);
    if (want == TlsWant::write || want == TlsWant::read) return wait_writable();
    return finish();
  }
  std::vector<SharedBytes>().swap(queue_);
  std::string().swap(tls_out_);
  head_ = head_offset_ = 0;
  pong_at_ = no_limit;
  if (close_after_flush_) return finish();
  if (discard_input_) shut_down_sending();
}

void WsConnection::wait_writable() {
  writing_ = true;
  // Compact so the queue does not grow with frames already written.
  if (head_ > 0) {
    settle_pong();
    if (pong_at_ != no_limit) pong_at_ -= static_cast<std::uint32_t>(head_);
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  socket_.async_wait(boost::asio::socket_base::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->writing_ = false;
                       if (ec) {
                         if (ec != boost::asio::error::operation_aborted) self->finish();
                         return;
                       }
                       self->flush();
                     });
}

void WsConnection::on_sweep(std::uint32_t now) {
  if (state_ == State::closing) {
    if (now - closing_since_ >= worker_.limits().close_timeout.count()) finish();
    return;
  }
  if (state_ != State::open) return;
  handler_->on_tick(now);
  if (state_ != State::open) return;
  const auto& limits = worker_.limits();
  if (ping_outstanding_) {
    if (now - ping_sent_at_ >= limits.ping_timeout.count()) {
      worker_.stats().add(worker_.stats().ping_timeouts);
      fail(close_code::ping_timeout, "ping timeout");
    }
    return;
  }
  if (now - last_activity_ >= limits.ping_interval.count()) {
    static const SharedBytes ping = make_shared_bytes(encode_frame(WsOpcode::ping, {}));
    if (!within_send_queue(ping->size())) return;
    ping_outstanding_ = true;
    ping_sent_at_ = now;
    enqueue(ping);
  }
}

void WsConnection::finish() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  if (ssl_) SSL_shutdown(ssl_.get());  // best effort close_notify; the socket goes next anyway
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  std::vector<SharedBytes>().swap(queue_);
  queued_bytes_ = 0;
  pong_at_ = no_limit;
  worker_.remove(this);
  if (handler_) {
    auto handler = std::move(handler_);
    handler->on_close();
  }
}

}  // namespace sb::transport
