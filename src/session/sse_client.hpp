#pragma once
// A client that only listens, over a streamed HTTP response instead of a WebSocket: Server-Sent
// Events (`GET /sse`) or NDJSON (`GET /stream`), docs/sse.md. The second core::Subscriber kind
// beside Client. It subscribes at once to the URL's channels (checked like a `subscribe`, before
// the answer starts, so a refusal is an HTTP error), recovers from a Last-Event-ID through the
// hub like a `subscribe` with `since`, and writes each frame the hub delivers as an event: the
// native JSON frame taken out of the WebSocket frame the hub shares (transport::frame_payload),
// never re-encoded. Lives on its worker thread; owned by its transport::EventStream.
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/publication.hpp"
#include "session/client.hpp"
#include "transport/event_stream.hpp"

namespace sb::session {

enum class StreamFormat { sse, ndjson };

// At most this many channels in one stream: bounds the event id (about 40 bytes per channel, so
// under 3 KiB), which the browser echoes in a header on every reconnect.
inline constexpr std::size_t max_stream_channels = 64;

// The id of an event: every channel's position, in the order of the URL's channels, as
// `offset:epoch` joined by `,` (docs/sse.md). nullopt when `id` is not one for `count` channels.
std::string format_stream_id(const std::vector<core::StreamPosition>& positions);
std::optional<std::vector<core::StreamPosition>> parse_stream_id(std::string_view id, std::size_t count);

class SseClient final : public transport::EventStreamHandler, public core::Subscriber, public Connected {
 public:
  // Like Client's: `remote_ip` was admitted by services.admission and is released when destroyed.
  SseClient(ClientServices& services, std::size_t shard, boost::asio::io_context& io, Identity identity,
            std::string remote_ip, StreamFormat format);
  ~SseClient() override;

  // Before the answer starts: checks and subscribes every channel, recovering after `since` (one
  // position per channel, from a Last-Event-ID) when given. The error (nothing is kept) refuses
  // the request. What it has to say first is kept until on_open.
  Status start(const std::vector<std::string>& channels, const std::vector<core::StreamPosition>* since);

  // transport::EventStreamHandler
  void on_open(transport::EventStream& stream) override;
  void on_heartbeat() override;
  void on_close() override;
  std::chrono::seconds heartbeat_interval() const override;
  // core::Subscriber
  void deliver(const SharedBytes& frame, std::string_view channel, std::uint64_t offset,
               std::string_view stream) override;
  void on_gap(std::string_view channel, const core::StreamPosition& last) override;

  // Ends the stream with a terminal `error` event (POST /api/disconnect, the token expired).
  void end(const Error& why);
  // Connected (POST /api/disconnect): a terminal `error` event DISCONNECTED, then the end.
  const std::string& id() const noexcept override { return id_; }
  const std::string& user() const noexcept override { return identity_.user; }
  boost::asio::io_context& context() const noexcept override { return io_; }
  void disconnect(std::uint16_t code, std::string_view reason) override;

 private:
  struct Subscription {
    std::string channel;
    core::StreamPosition position;  // of the last message sent (or the start, or a reset)
  };
  Subscription* find(std::string_view channel);
  // One event: `payload` is a native JSON frame; `with_id` adds the positions (SSE only).
  void send_event(std::string_view payload, bool with_id);
  void send_frame(const std::string& ws_frame, bool with_id);
  void write(std::string_view bytes);
  void unsubscribe_all();

  ClientServices& services_;
  std::size_t shard_;
  boost::asio::io_context& io_;
  std::string id_;
  Identity identity_;
  std::string remote_ip_;
  StreamFormat format_;
  transport::EventStream* stream_ = nullptr;
  std::string prelude_;  // written before on_open (the start's events)
  std::vector<Subscription> subscriptions_;
};

}  // namespace sb::session
