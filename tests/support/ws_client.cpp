#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <stdexcept>
#include <thread>

namespace sb::client {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

struct IoThread::Impl {
  boost::asio::io_context context;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{context.get_executor()};
  std::thread thread{[this] { context.run(); }};
};

IoThread::IoThread() : impl_(std::make_unique<Impl>()) {}
IoThread::~IoThread() {
  impl_->guard.reset();
  impl_->context.stop();
  impl_->thread.join();
}

struct WsClient::Impl : std::enable_shared_from_this<WsClient::Impl> {
  explicit Impl(boost::asio::io_context& context) : ws(context) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buffer;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> frames;
  bool closed = false;
  std::optional<int> close_code;

  void read_loop() {
    ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      std::lock_guard lock(self->mutex);
      if (ec) {
        self->closed = true;
        if (ec == websocket::error::closed) self->close_code = self->ws.reason().code;
        self->cv.notify_all();
        return;
      }
      self->frames.push_back(beast::buffers_to_string(self->buffer.data()));
      self->buffer.consume(self->buffer.size());
      self->cv.notify_all();
      self->read_loop();
    });
  }
};

WsClient::WsClient(std::shared_ptr<IoThread> io) : io_(std::move(io)) {}

WsClient::~WsClient() {
  if (!impl_) return;
  auto impl = impl_;
  std::promise<void> done;
  boost::asio::post(io_->impl().context, [impl, &done] {
    beast::error_code ec;
    impl->ws.next_layer().close(ec);
    done.set_value();
  });
  done.get_future().wait();
}

std::unique_ptr<WsClient> WsClient::connect(const std::string& host, std::uint16_t port, const std::string& path,
                                            std::shared_ptr<IoThread> io) {
  if (!io) io = std::make_shared<IoThread>();
  std::unique_ptr<WsClient> client(new WsClient(io));
  auto impl = std::make_shared<Impl>(io->impl().context);
  tcp::endpoint endpoint(boost::asio::ip::make_address(host), port);
  beast::error_code ec;
  impl->ws.next_layer().connect(endpoint, ec);
  if (ec) throw std::runtime_error("connect: " + ec.message());
  impl->ws.handshake(host + ":" + std::to_string(port), path, ec);
  if (ec) throw std::runtime_error("websocket handshake: " + ec.message());
  impl->ws.read(impl->buffer, ec);
  if (ec) throw std::runtime_error("reading the connected frame: " + ec.message());
  std::string first = beast::buffers_to_string(impl->buffer.data());
  impl->buffer.consume(impl->buffer.size());
  json::value v = json::parse(first);
  client->greeting_ = v.as_object();
  if (auto* id = client->greeting_.if_contains("client"); id && id->is_string())
    client->client_id_ = std::string(id->get_string());
  client->impl_ = impl;
  boost::asio::post(io->impl().context, [impl] { impl->read_loop(); });
  return client;
}

void WsClient::send_text(std::string_view text) {
  auto impl = impl_;
  std::promise<beast::error_code> done;
  boost::asio::post(io_->impl().context, [impl, &done, text] {
    beast::error_code ec;
    impl->ws.text(true);
    impl->ws.write(boost::asio::buffer(text.data(), text.size()), ec);
    done.set_value(ec);
  });
  auto ec = done.get_future().get();
  if (ec) throw std::runtime_error("send: " + ec.message());
}

void WsClient::send_json(const json::object& frame) { send_text(json::serialize(frame)); }

std::optional<json::object> WsClient::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->frames.empty() || impl_->closed; })) return std::nullopt;
  if (impl_->frames.empty()) return std::nullopt;
  std::string text = std::move(impl_->frames.front());
  impl_->frames.pop_front();
  lock.unlock();
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) throw std::runtime_error("server sent a frame that is not a JSON object: " + text);
  return std::move(v.get_object());
}

std::optional<json::object> WsClient::receive_type(std::string_view type, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto frame = receive(left);
    if (!frame) return std::nullopt;
    if (auto* t = frame->if_contains("type"); t && t->is_string() && t->get_string() == type) return frame;
  }
}

std::optional<json::object> WsClient::request(json::object frame, std::chrono::milliseconds timeout) {
  const std::uint64_t id = next_id_++;
  frame["id"] = id;
  send_json(frame);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(impl_->mutex);
  for (;;) {
    for (auto it = impl_->frames.begin(); it != impl_->frames.end(); ++it) {
      json::error_code ec;
      json::value v = json::parse(*it, ec);
      if (ec || !v.is_object()) continue;
      auto* got = v.get_object().if_contains("id");
      if (got && got->is_number() && got->to_number<std::uint64_t>() == id) {
        impl_->frames.erase(it);
        return std::move(v.get_object());
      }
    }
    if (impl_->closed) return std::nullopt;
    if (impl_->cv.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

void WsClient::subscribe(const std::string& channel) {
  auto reply = request(json::object{{"type", "subscribe"}, {"channel", channel}});
  if (!reply) throw std::runtime_error("subscribe " + channel + ": no reply");
  if (reply->at("type") != "subscribed") throw std::runtime_error("subscribe " + channel + ": " + json::serialize(*reply));
}

std::uint64_t WsClient::publish(const std::string& channel, const json::value& data) {
  auto reply = request(json::object{{"type", "publish"}, {"channel", channel}, {"data", data}});
  if (!reply) throw std::runtime_error("publish " + channel + ": no reply");
  if (reply->at("type") != "published") throw std::runtime_error("publish " + channel + ": " + json::serialize(*reply));
  return reply->at("offset").to_number<std::uint64_t>();
}

void WsClient::close() {
  auto impl = impl_;
  std::promise<void> done;
  boost::asio::post(io_->impl().context, [impl, &done] {
    impl->ws.async_close(websocket::close_code::normal, [&done](beast::error_code) { done.set_value(); });
  });
  done.get_future().wait();
}

std::optional<int> WsClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return impl_->closed; })) return std::nullopt;
  return impl_->close_code ? impl_->close_code : std::optional<int>(0);
}

bool WsClient::closed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->closed;
}

std::size_t WsClient::queued() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->frames.size();
}

std::string HttpResult::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

HttpResult http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  boost::asio::io_context context;
  beast::tcp_stream stream(context);
  beast::error_code ec;
  stream.connect(tcp::endpoint(boost::asio::ip::make_address(host), port), ec);
  if (ec) throw std::runtime_error("connect: " + ec.message());
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    if (req[http::field::content_type].empty()) req.set(http::field::content_type, "application/json");
    req.prepare_payload();
  }
  http::write(stream, req, ec);
  if (ec) throw std::runtime_error("write: " + ec.message());
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) throw std::runtime_error("read: " + ec.message());
  HttpResult result;
  result.status = static_cast<int>(res.result_int());
  result.body = std::move(res.body());
  for (const auto& f : res) result.headers.emplace_back(f.name_string(), f.value());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return result;
}

std::string WsClient::reply_code(boost::json::object frame) {
  auto r = request(std::move(frame));
  if (!r) return "no reply";
  if (r->at("type") != "error") return std::string(r->at("type").as_string());
  return std::string(r->at("code").as_string());
}

}  // namespace sb::client
