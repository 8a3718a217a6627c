#include "transport/event_stream.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/http_streams.hpp"
#include "transport/worker.hpp"

namespace sb::transport {

namespace {

template <class Stream>
class EventStreamConnection final : public EventStream,
                                    public std::enable_shared_from_this<EventStreamConnection<Stream>> {
 public:
  EventStreamConnection(Worker& worker, Stream stream, std::unique_ptr<EventStreamHandler> handler)
      : worker_(worker), stream_(std::move(stream)), heartbeat_(worker.context()), handler_(std::move(handler)) {}

  void start(std::string head) {
    worker_.add(this);
    out_ = std::move(head);  // the head goes out as it is; the body in chunks after it
    handler_->on_open(*this);
    if (state_ == State::closed) return;
    arm_heartbeat();
    wait_readable();
    flush();
  }

  void send(std::string_view bytes) override {
    if (state_ != State::open) return;
    if (queued_bytes() + bytes.size() > worker_.limits().max_send_queue) {
      worker_.stats().add(worker_.stats().slow_consumers);
      return terminate();
    }
    pending_.append(bytes);
    schedule_flush();
  }

  void close() override {
    if (state_ != State::open) return;
    state_ = State::closing;
    schedule_flush();
  }

  bool is_open() const noexcept override { return state_ == State::open; }
  std::size_t queued_bytes() const noexcept override { return pending_.size() + out_.size() - out_pos_; }

  void terminate() override {
    if (state_ == State::closed) return;
    state_ = State::closed;
    heartbeat_.cancel();
    boost::system::error_code ec;
    stream_.socket().close(ec);
    std::string().swap(pending_);
    std::string().swap(out_);
    out_pos_ = 0;
    worker_.remove(this);
    if (handler_) {
      auto handler = std::move(handler_);
      handler->on_close();
    }
  }

 private:
  enum class State : std::uint8_t { open, closing, closed };

  // Posted, not run now: publications already queued on the worker add to the same chunk.
  void schedule_flush() {
    if (flush_scheduled_ || writing_) return;
    flush_scheduled_ = true;
    boost::asio::post(worker_.context(), [self = this->shared_from_this()] {
      self->flush_scheduled_ = false;
      self->flush();
    });
  }

  // Moves what is pending into out_ as one HTTP chunk (or the last chunk once closing).
  bool next_chunk() {
    out_.clear();
    out_pos_ = 0;
    if (!pending_.empty()) {
      char size[24];
      const int n = std::snprintf(size, sizeof size, "%zx\r\n", pending_.size());
      out_.reserve(static_cast<std::size_t>(n) + pending_.size() + 2);
      out_.append(size, static_cast<std::size_t>(n));
      out_.append(pending_);
      out_.append("\r\n");
      std::string().swap(pending_);
      return true;
    }
    if (state_ == State::closing && !ended_) {
      out_ = "0\r\n\r\n";
      ended_ = true;
      return true;
    }
    return false;
  }

  void flush() {
    if (state_ == State::closed || writing_) return;
    for (;;) {
      if (out_pos_ == out_.size() && !next_chunk()) break;
      const IoResult r = stream_.write(out_.data() + out_pos_, out_.size() - out_pos_);
      if (r.n == 0) {
        if (r.want == TlsWant::read || r.want == TlsWant::write) return wait_writable(r.want);
        return terminate();
      }
      out_pos_ += r.n;
      worker_.stats().add(worker_.stats().writes);
      worker_.stats().add(worker_.stats().bytes_out, r.n);
    }
    // Drained: an idle stream holds no buffer.
    std::string().swap(out_);
    out_pos_ = 0;
    if (ended_) {
      stream_.shutdown_send();
      terminate();
    }
  }

  void wait_writable(TlsWant want) {
    writing_ = true;
    stream_.socket().async_wait(
        want == TlsWant::read ? boost::asio::socket_base::wait_read : boost::asio::socket_base::wait_write,
        [self = this->shared_from_this()](const boost::system::error_code& ec) {
          self->writing_ = false;
          if (ec || self->state_ == State::closed) return;
          self->flush();
        });
  }

  // The peer has nothing to say after its request: what it sends is dropped (bounded), and the
  // end of its input is the end of the stream.
  void wait_readable() {
    stream_.socket().async_wait(boost::asio::socket_base::wait_read,
                                [self = this->shared_from_this()](const boost::system::error_code& ec) {
                                  if (ec || self->state_ == State::closed) return;
                                  self->on_readable();
                                });
  }

  void on_readable() {
    for (;;) {
      const IoResult r = stream_.read(worker_.read_buffer(), Worker::read_buffer_size);
      if (r.n > 0) {
        input_ += r.n;
        if (input_ > stream_input_cap) return terminate();
        continue;
      }
      if (r.want == TlsWant::read || r.want == TlsWant::write) return wait_readable();
      return terminate();  // the peer left
    }
  }

  void arm_heartbeat() {
    heartbeat_.expires_after(handler_->heartbeat_interval());
    heartbeat_.async_wait([weak = this->weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->state_ != State::open) return;
      self->handler_->on_heartbeat();
      if (self->state_ == State::open) self->arm_heartbeat();
    });
  }

  Worker& worker_;
  Stream stream_;
  boost::asio::steady_timer heartbeat_;
  std::unique_ptr<EventStreamHandler> handler_;
  std::string pending_;  // queued by send(), not yet framed
  std::string out_;      // the chunk (or the head) being written
  std::size_t out_pos_ = 0;
  std::size_t input_ = 0;  // bytes the peer sent after its request
  State state_ = State::open;
  bool flush_scheduled_ = false;
  bool writing_ = false;  // waiting for the socket
  bool ended_ = false;    // the last chunk is queued
};

}  // namespace

template <class Stream>
void start_event_stream(Worker& worker, Stream stream, std::string head, std::unique_ptr<EventStreamHandler> handler) {
  auto connection = std::make_shared<EventStreamConnection<Stream>>(worker, std::move(stream), std::move(handler));
  connection->start(std::move(head));
}

template void start_event_stream<PlainStream>(Worker&, PlainStream, std::string, std::unique_ptr<EventStreamHandler>);
template void start_event_stream<TlsStream>(Worker&, TlsStream, std::string, std::unique_ptr<EventStreamHandler>);

}  // namespace sb::transport
