#include "session/streams.hpp"

#include "common/random.hpp"
#include "core/channel_name.hpp"
#include "protocol/native/codec.hpp"

namespace sb::session {

namespace native = protocol::native;

Streams::Streams(core::Hub& hub, const core::Namespaces& namespaces, StreamOptions options, Notify notify,
                 backend::SessionEvents* events)
    : hub_(hub), namespaces_(namespaces), options_(std::move(options)), notify_(std::move(notify)), events_(events),
      expirer_([this] { expire_loop(); }) {}

Streams::~Streams() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  expirer_.join();
}

Result<std::string> Streams::start(const std::string& channel, std::string meta_json) {
  if (auto ns = namespaces_.resolve(channel); !ns) return ns.error();
  std::string id = random_hex(8);
  std::lock_guard lock(mutex_);
  if (streams_.size() >= options_.max_streams) {
    ++refused_;
    return make_error(ErrorCode::limit_exceeded, "too many streams running on this server (streams.max_streams)");
  }
  auto& s = streams_[id];
  s.channel = channel;
  s.meta = std::move(meta_json);
  s.last_append = std::chrono::steady_clock::now();
  hub_.relay(channel, make_shared_bytes(native::encode_stream_start(channel, id, s.meta)), nullptr, id, 0);
  return id;
}

Result<std::uint64_t> Streams::append(const std::string& stream, std::string_view delta) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return make_error(ErrorCode::not_found, "no running stream '" + stream + "'");
  Stream& s = it->second;
  // The whole text is kept for late subscribers and stored as one message: bound it, per stream
  // and for all of them.
  if (s.text.size() + delta.size() > options_.max_stream_bytes)
    return make_error(ErrorCode::message_too_large, "a stream holds at most " + std::to_string(options_.max_stream_bytes) +
                                                        " bytes of text (streams.max_stream_bytes)");
  if (bytes_ + delta.size() > options_.max_total_bytes) {
    ++refused_;
    return make_error(ErrorCode::limit_exceeded, "running streams hold too much text (streams.max_total_bytes)");
  }
  bytes_ += delta.size();
  s.text.append(delta);
  ++s.seq;
  s.last_append = std::chrono::steady_clock::now();
  hub_.relay(s.channel, make_shared_bytes(native::encode_stream_delta(s.channel, stream, s.seq, delta)), nullptr,
             stream, s.seq);
  return s.seq;
}

Status Streams::end(const std::string& stream, const std::string& reason, core::PublishDone published) {
  Stream s;
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return make_error(ErrorCode::not_found, "no running stream '" + stream + "'");
    s = std::move(it->second);
    bytes_ -= s.text.size();
    streams_.erase(it);
    hub_.relay(s.channel, make_shared_bytes(native::encode_stream_end(s.channel, stream, s.seq + 1, reason)), nullptr,
               stream, s.seq + 1);
  }
  // The finished answer becomes one ordinary message of the channel (kept if it keeps history).
  std::string data = R"({"stream":)" + native::json_quote(stream) + R"(,"text":)" + native::json_quote(s.text) +
                     R"(,"reason":)" + native::json_quote(reason) + (s.meta.empty() ? "" : R"(,"meta":)" + s.meta) +
                     "}";
  auto ns = namespaces_.find(s.channel);
  hub_.publish(s.channel, data, ns ? (*ns)->history : core::HistoryPolicy{},
               published ? std::move(published) : [](Result<core::StreamPosition>) {});
  return Ok{};
}

Status Streams::cancel(const std::string& stream, std::string_view channel_of_caller) {
  std::string channel = channel_of(stream);
  if (channel.empty()) return make_error(ErrorCode::not_found, "no running stream '" + stream + "'");
  if (!channel_of_caller.empty() && channel != channel_of_caller)
    return make_error(ErrorCode::permission_denied, "the stream is not on a channel you are subscribed to");
  if (auto ended = end(stream, "cancelled"); !ended) return ended;
  if (!options_.cancel_url.empty() && notify_) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!options_.cancel_secret.empty()) headers.emplace_back("X-Switchboard-Secret", options_.cancel_secret);
    notify_(options_.cancel_url,
            R"({"stream":)" + native::json_quote(stream) + R"(,"channel":)" + native::json_quote(channel) +
                R"(,"reason":"cancelled"})",
            std::move(headers));
  }
  if (events_) events_->stream_cancelled(stream, channel);
  return Ok{};
}

void Streams::end_all(const std::string& reason) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, s] : streams_) ids.push_back(id);
  }
  for (const auto& id : ids) end(id, reason);
}

std::vector<Streams::Snapshot> Streams::active(std::string_view channel) const {
  std::vector<Snapshot> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, s] : streams_)
    if (s.channel == channel) out.push_back(Snapshot{id, s.meta, s.text, s.seq});
  return out;
}

std::string Streams::channel_of(const std::string& stream) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? std::string{} : it->second.channel;
}

Streams::Counters Streams::counters() const {
  std::lock_guard lock(mutex_);
  return Counters{streams_.size(), bytes_, refused_};
}

void Streams::expire_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_) return;
    std::vector<std::string> idle;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [id, s] : streams_)
      if (now - s.last_append >= options_.idle_timeout) idle.push_back(id);
    lock.unlock();
    for (const auto& id : idle) end(id, "timeout");
    lock.lock();
  }
}

}  // namespace sb::session
