#pragma once
// One long-lived streamed HTTP response (Server-Sent Events, NDJSON): what a GET becomes when the
// layer above takes it as a stream (EventStreamOpener). Bytes only, no idea of channels, JSON or
// the SSE syntax: the handler hands it text and the connection frames it as HTTP/1.1 chunks.
//
// Like WsConnection's send side: send() only queues; one flush posted on the worker writes every
// chunk queued meanwhile in one write, as one HTTP chunk. Every byte waiting for the socket counts
// against limits.max_send_queue (the WebSocket slow-consumer cap); one more and the client is cut
// off (the socket closed, slow_consumers counted). What the peer sends after its request is read
// and dropped (at most stream_input_cap bytes, then it is cut off): reading is how we see it leave.
// An idle stream holds its socket, an empty queue and a heartbeat timer.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.hpp"

namespace sb::transport {

class Worker;
class EventStream;

// What the layer above does with one stream. Every call comes on the stream's worker thread; the
// stream owns its handler.
class EventStreamHandler {
 public:
  virtual ~EventStreamHandler() = default;
  // The response head is queued; `stream` outlives the handler's use of it (until on_close).
  virtual void on_open(EventStream& stream) = 0;
  // Every heartbeat_interval() while open: a chance to send a keep-alive (an SSE comment).
  virtual void on_heartbeat() {}
  // The stream is gone (peer left, cut off, closed, server stopped); exactly once, then no call.
  virtual void on_close() = 0;
  virtual std::chrono::seconds heartbeat_interval() const = 0;
};

class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues bytes for the body. Cuts the client off when the queue passes limits.max_send_queue.
  virtual void send(std::string_view bytes) = 0;
  // Ends the body (terminal chunk) once what is queued is written, then closes the socket.
  virtual void close() = 0;
  virtual bool is_open() const noexcept = 0;
  virtual std::size_t queued_bytes() const noexcept = 0;
  // Closes the socket now, unwritten bytes dropped (the worker stopping, a slow consumer).
  virtual void terminate() = 0;
};

// The bytes of what the peer may still send us after its request that we read and drop.
inline constexpr std::size_t stream_input_cap = 64 * 1024;

// Takes over an HTTP session's connection (`stream`: PlainStream or TlsStream, http_streams.hpp),
// writes `head` (a response head announcing chunked transfer) and runs `handler`. Worker thread.
template <class Stream>
void start_event_stream(Worker& worker, Stream stream, std::string head, std::unique_ptr<EventStreamHandler> handler);

}  // namespace sb::transport
