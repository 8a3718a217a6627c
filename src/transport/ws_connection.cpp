// The send side of WsConnection: queueing frames, the gathered flush (sendmsg, or SSL_write
// batches), closing and failing, the keepalive sweep and finish(). The read side (start, frames
// in, control frames, fragments, UTF-8) is in ws_connection_read.cpp.
#include "transport/ws_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "transport/worker.hpp"

namespace sb::transport {

namespace {

// iovecs per sendmsg: enough to batch hundreds of small frames, well under IOV_MAX (1024).
constexpr std::size_t max_iov = 256;

}  // namespace

WsConnection::WsConnection(Worker& worker, boost::asio::ip::tcp protocol, int fd, std::string already_read, SSL* ssl,
                           bool deflate)
    : worker_(worker), socket_(worker.context().get_executor(), protocol, fd), ssl_(ssl),
      leftover_(std::move(already_read)), deflate_(deflate) {}

WsConnection::~WsConnection() = default;

std::string WsConnection::remote_address() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? std::string{} : ep.address().to_string();
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
  close_code_ = code;
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
  if (state_ == State::open) close_code_ = code;
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
