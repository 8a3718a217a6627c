#pragma once
// Streams: long outputs (an LLM's answer) sent to a channel piece by piece. The backend starts a
// stream, appends text deltas and ends it; subscribers get stream_start, stream_delta {seq},
// stream_end. Someone who subscribes mid-stream first gets the text so far as one delta, then the
// rest. A client may cancel: the stream ends with reason "cancelled" and the backend is told by a
// webhook. A stream without appends for idle_timeout ends with reason "timeout". The finished
// text is published into the channel as one message (stored when the namespace keeps history).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backend/session_events.hpp"
#include "common/error.hpp"
#include "core/hub.hpp"
#include "core/namespaces.hpp"

namespace sb::session {

struct StreamOptions {
  // A stream with no append for this long ends with reason "timeout". 60 s outlasts any model's
  // pause between tokens while still freeing abandoned streams.
  std::chrono::seconds idle_timeout{60};
  // The first form of the cancel webhook, kept for the apps that use it: POSTed {stream, channel,
  // reason} when a client cancels, unbatched and unsigned; empty: nobody. [webhooks] also gets a
  // signed `stream_cancelled` event (through `events`), whether or not this is set.
  std::string cancel_url;
  std::string cancel_secret;  // sent as X-Switchboard-Secret with that POST
  // Streams running at once on this node; start() beyond it is LIMIT_EXCEEDED. Only the backend
  // starts streams, so this bounds a runaway backend (or a leaked API key), not clients: 1,000
  // concurrent answers is far above one node's share of an LLM fleet.
  std::size_t max_streams = 1000;
  // Text one stream keeps for late subscribers (and publishes when it ends); an append beyond it
  // is MESSAGE_TOO_LARGE. 1 MiB is a very long answer (about 250k tokens).
  std::size_t max_stream_bytes = 1024 * 1024;
  // Text all running streams keep together; an append beyond it is LIMIT_EXCEEDED (retry once a
  // stream has ended). 64 MiB bounds what streams hold whatever their number.
  std::size_t max_total_bytes = 64 * 1024 * 1024;
};

class Streams {
 public:
  // Sends the cancel webhook; the server plugs in an HTTP client.
  using Notify = std::function<void(const std::string& url, std::string body,
                                    std::vector<std::pair<std::string, std::string>> headers)>;
  // `events`, when given, hears of every cancel (the app's webhooks); it outlives the streams.
  Streams(core::Hub& hub, const core::Namespaces& namespaces, StreamOptions options, Notify notify,
          backend::SessionEvents* events = nullptr);
  ~Streams();

  // Any thread, all of them.
  Result<std::string> start(const std::string& channel, std::string meta_json);
  Result<std::uint64_t> append(const std::string& stream, std::string_view delta);  // returns the seq
  // Ends the stream; `published` gets the finished text's position in the channel.
  Status end(const std::string& stream, const std::string& reason, core::PublishDone published = {});
  // A client asked to stop: ends with "cancelled" and notifies the backend.
  Status cancel(const std::string& stream, std::string_view channel_of_caller = {});

  struct Snapshot {
    std::string stream;
    std::string meta;
    std::string text;
    std::uint64_t seq = 0;  // of the last delta in `text`
  };
  // Ends every running stream with `reason` (server shutdown).
  void end_all(const std::string& reason);
  // The streams running on a channel, for someone who just subscribed.
  std::vector<Snapshot> active(std::string_view channel) const;
  // The channel a running stream is on, or empty.
  std::string channel_of(const std::string& stream) const;

  struct Counters {
    std::uint64_t running = 0;
    std::uint64_t bytes = 0;    // text held by running streams
    std::uint64_t refused = 0;  // starts and appends refused by max_streams or max_total_bytes
  };
  Counters counters() const;

 private:
  struct Stream {
    std::string channel;
    std::string meta;
    std::string text;
    std::uint64_t seq = 0;
    std::chrono::steady_clock::time_point last_append;
  };
  void expire_loop();

  core::Hub& hub_;
  const core::Namespaces& namespaces_;
  StreamOptions options_;
  Notify notify_;
  backend::SessionEvents* events_;
  // One mutex for all streams: relays happen under it so a snapshot and the deltas around it are
  // cut at one point of each stream's sequence (lock order: this mutex, then a hub stripe).
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Stream> streams_;
  std::size_t bytes_ = 0;  // sum of the streams' text sizes
  std::uint64_t refused_ = 0;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread expirer_;
};

}  // namespace sb::session
