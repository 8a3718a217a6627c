#pragma once
// One upgraded WebSocket connection: bytes and frames only, no idea of channels or JSON.
//
// Memory: an idle connection holds its socket, an empty send queue and no read buffer. Reads go
// through the worker's shared buffer; only a partial frame left at the end of a read is copied
// into the connection (leftover_), and only a fragmented message is assembled in message_.
//
// Writes: send() only queues. The first frame queued on an idle connection schedules a flush on
// the worker, which runs after the handlers already posted, so every frame queued meanwhile
// (say, by a burst of publications) leaves in one gathered sendmsg(). While a write waits for
// the socket to drain, further frames join the queue and leave together when it is writable.
//
// A peer that sends without reading: every byte queued for the socket counts against
// max_send_queue, control frames included, and a full queue closes the connection (4001) rather
// than pausing reads. Pausing is Beast's way (its read waits while a pong is being written),
// which suits one reader feeding one writer; here the hub fills the queue whether or not we read,
// so a paused socket would still grow, and would hold its resources until the keepalive gives
// up. Closing at a byte limit is what Redis (client-output-buffer-limit), NATS (slow consumers)
// and uWebSockets (maxBackpressure with closeOnBackpressureLimit) do. What reading alone can
// cost is bounded separately: a ping is answered by at most one pending pong (RFC 6455 5.5.3
// allows answering only the latest), every frame spends a token of a per-connection frame
// bucket (1008 when empty), a fragmented message has at most max_message_fragments pieces
// (1009), and a connection not yet trusted by its handler may send only untrusted_frames
// frames (1008). The read buffer is the worker's; what a connection keeps is bounded by
// max_message_size.
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "transport/frame_budget.hpp"
#include "transport/tls.hpp"
#include "transport/utf8.hpp"
#include "transport/ws_frame.hpp"
#include "transport/ws_handler.hpp"

namespace sb::transport {

class Worker;

class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  // The socket type bound to the worker's own executor, not Asio's type-erased any_io_executor:
  // the socket and every pending wait on it are smaller by the difference, per connection.
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
  // Takes over the descriptor of an upgraded HTTP connection (`fd`, a connected TCP socket) and,
  // on a TLS port, its TLS session (`ssl`, owned from now on).
  // `deflate`: permessage-deflate was negotiated (compressed messages are inflated, bounded).
  WsConnection(Worker& worker, boost::asio::ip::tcp protocol, int fd, std::string already_read, SSL* ssl = nullptr,
               bool deflate = false);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Everything below runs on the worker thread only.
  void start(std::unique_ptr<WsHandler> handler);
  // Queues an encoded frame. Closes the connection with 4001 if the queue passes max_send_queue.
  // Never calls the handler back (so the hub may call it while iterating subscribers).
  void send(SharedBytes frame);
  // Starts the closing handshake: queued frames go first, then the close frame.
  void close(std::uint16_t code, std::string_view reason);
  bool is_open() const noexcept { return state_ == State::open; }
  // The code the connection closed (or is closing) with: the first close frame we sent, or the
  // peer's when it closed first; 1006 (no close frame, RFC 6455 7.1.5) while none was.
  std::uint16_t close_code() const noexcept { return close_code_; }
  Worker& worker() const noexcept { return worker_; }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  std::string remote_address() const;

  // Until trust() is called, the peer may send at most limits().untrusted_frames more frames
  // (any kind); one more closes with 1008. For handlers that authenticate after the upgrade: an
  // unauthenticated peer gets a small budget, not the full frame rate.
  void limit_until_trusted() noexcept;
  void trust() noexcept { budget_.trust(); }

  // Called by the worker's sweep, once a second.
  void on_sweep(std::uint32_t now_seconds);

  // Intrusive list of the worker's connections: no allocation per connection for the registry.
  WsConnection* prev_ = nullptr;
  WsConnection* next_ = nullptr;

 private:
  friend class Worker;
  enum class State : std::uint8_t { open, closing, closed };

  void wait_readable();
  void after_process_stopped();
  void discard_input(char* buffer, std::size_t capacity);
  void shut_down_sending();
  void on_readable();
  // Parses and dispatches every complete frame in [data, data+size); returns bytes consumed, or
  // npos after the connection failed.
  std::size_t process(char* data, std::size_t size);
  // One parsed frame; false once the connection failed or finished (process() stops there).
  bool on_frame(const WsFrameView& frame);
  bool on_close_frame(std::string_view payload);  // answers the peer's close, or ends our handshake
  bool on_first_frame(const WsFrameView& frame);  // text or binary: starts a message
  // A continuation, or a first frame without FIN: counts and assembles it, delivers on FIN.
  bool on_fragment(const WsFrameView& frame);
  // Hands a complete message to the handler, inflating it first when it came compressed.
  bool deliver_message(std::string_view payload, bool compressed, bool binary);
  // Validates the next fragment of an uncompressed text message as UTF-8 (`fin`: its last);
  // false (the connection failed with 1007) at the first invalid byte.
  bool check_text(std::string_view fragment, bool fin);
  void queue_close(std::string frame);  // the only frame allowed past max_send_queue (one per connection)
  // Answers a ping; replaces a pong still waiting in the queue instead of adding a second one.
  void queue_pong(std::string_view payload);
  // Within max_send_queue, else closes as a slow consumer; false then.
  bool within_send_queue(std::size_t more);
  // Spends one frame of the budget; false (the connection failed with 1008) when it is spent.
  bool take_frame_token();
  // Forgets the pending pong once its bytes left queue_ or started on the wire.
  void settle_pong() noexcept;
  void enqueue(SharedBytes frame);         // queues and schedules a flush if none is due
  void flush();  // writes as much of the queue as the socket takes
  void flush_tls();
  // Reads what the socket (or the TLS session) has; n > 0 bytes, 0 when the peer closed, -1
  // when nothing is available now, -2 on error.
  long read_some(char* buffer, std::size_t capacity);
  void wait_writable();
  void fail(std::uint16_t code, std::string_view reason);
  void finish();  // closes the socket and tells the handler; idempotent

  Worker& worker_;
  Socket socket_;
  SslPtr ssl_;           // null on a plain port
  std::string tls_out_;  // TLS: frames copied together for SSL_write, retried until written
  std::size_t tls_out_pos_ = 0;
  std::unique_ptr<WsHandler> handler_;
  std::vector<SharedBytes> queue_;  // frames not yet fully written; [head_, end) pending
  std::size_t head_ = 0;            // first frame not fully written
  std::size_t head_offset_ = 0;     // bytes of queue_[head_] already written
  std::size_t queued_bytes_ = 0;
  std::string leftover_;  // a partial frame carried to the next read
  std::string message_;   // fragments of a message not yet final
  static constexpr std::uint32_t no_limit = UINT32_MAX;
  FrameBudget budget_;
  std::uint32_t fragments_ = 0;       // frames of the message being assembled
  std::uint32_t pong_at_ = no_limit;  // index in queue_ of a pong not yet started; no_limit: none
  std::uint32_t last_activity_ = 0;  // worker clock, seconds
  std::uint32_t ping_sent_at_ = 0;
  std::uint32_t closing_since_ = 0;
  std::uint16_t close_code_ = 1006;
  State state_ = State::open;
  bool writing_ = false;          // waiting for the socket to become writable
  bool flush_scheduled_ = false;  // on the worker's flush list
  bool ping_outstanding_ = false;
  bool close_after_flush_ = false;  // shut the socket once the queue (with our close frame) is out
  // Failed (fail()): what the peer still sends is read and dropped, unparsed, until it closes or
  // close_timeout passes. Closing a socket with unread bytes makes the kernel send RST, which
  // can destroy our close frame before the peer reads it (a client still sending a message
  // above max_message_size would see a reset instead of 1009).
  bool discard_input_ = false;
  bool sent_fin_ = false;  // our side shut down for writing after the close frame (discarding)
  bool close_received_ = false;
  bool in_message_ = false;  // a fragmented message is being assembled
  bool deflate_ = false;          // permessage-deflate negotiated
  bool message_compressed_ = false;  // the message being assembled had RSV1 on its first frame
  bool message_binary_ = false;      // the message being assembled is binary (else text)
  Utf8Validator utf8_;               // where the text message being assembled stands
};

}  // namespace sb::transport
