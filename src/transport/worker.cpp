#include "transport/worker.hpp"

#include <malloc.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "transport/event_stream.hpp"
#include "transport/ws_connection.hpp"
#include "transport/ws_frame.hpp"

namespace sb::transport {

Worker::Worker(std::size_t index, const Limits& limits)
    : index_(index), limits_(limits), read_buffer_(new char[read_buffer_size]) {}

Worker::~Worker() = default;

void Worker::add(WsConnection* c) {
  c->prev_ = nullptr;
  c->next_ = head_;
  if (head_) head_->prev_ = c;
  head_ = c;
  ++count_;
  stats_.add(stats_.connections);
  stats_.add(stats_.connections_total);
}

void Worker::remove(WsConnection* c) {
  if (c->prev_) c->prev_->next_ = c->next_;
  else if (head_ == c) head_ = c->next_;
  else return;  // not in the list
  if (c->next_) c->next_->prev_ = c->prev_;
  c->prev_ = c->next_ = nullptr;
  --count_;
  stats_.connections.store(count_, std::memory_order_relaxed);
}

void Worker::add(EventStream* stream) {
  streams_.insert(stream);
  stats_.event_streams.store(streams_.size(), std::memory_order_relaxed);
  stats_.add(stats_.event_streams_total);
}

void Worker::remove(EventStream* stream) {
  streams_.erase(stream);
  stats_.event_streams.store(streams_.size(), std::memory_order_relaxed);
}

void Worker::schedule_flush(std::shared_ptr<WsConnection> c) {
  flush_list_.push_back(std::move(c));
  // The flush is posted, not run now: handlers already queued on this io_context (more
  // publications) run first and add their frames to the same gathered write.
  if (flush_list_.size() == 1) boost::asio::post(context_, [this] { run_flush(); });
}

void Worker::run_flush() {
  flushing_.swap(flush_list_);
  for (auto& c : flushing_) {
    c->flush_scheduled_ = false;
    c->flush();
  }
  flushing_.clear();
}

void Worker::start_sweeping() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    ++now_seconds_;
    sweep();
    if (!stopping_ || count_ > 0) start_sweeping();
  });
}

void Worker::sweep() {
  // on_sweep may finish (and unlink) the connection, so read next_ first.
  for (WsConnection* c = head_; c;) {
    WsConnection* next = c->next_;
    c->on_sweep(now_seconds_);
    c = next;
  }
}

void Worker::close_all(std::uint16_t code, std::string_view reason) {
  stopping_ = true;
  for (WsConnection* c = head_; c;) {
    WsConnection* next = c->next_;
    c->close(code, reason);
    c = next;
  }
  // A streamed response has no closing handshake: it ends now (the client reconnects elsewhere).
  const std::vector<EventStream*> streams(streams_.begin(), streams_.end());
  for (EventStream* s : streams) s->terminate();
}

void Worker::stop_gracefully() {
  close_all(close_code::going_away, "server shutting down");
  stop_when_idle(std::chrono::steady_clock::now() + limits_.close_timeout);
}

void Worker::stop_when_idle(std::chrono::steady_clock::time_point deadline) {
  if (count_ == 0 || std::chrono::steady_clock::now() >= deadline) {
    context_.stop();
    return;
  }
  stop_timer_.expires_after(std::chrono::milliseconds(20));
  stop_timer_.async_wait([this, deadline](const boost::system::error_code& ec) {
    if (!ec) stop_when_idle(deadline);
  });
}

}  // namespace sb::transport
