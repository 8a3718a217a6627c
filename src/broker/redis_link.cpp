#include "broker/redis_link.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <random>

namespace sb::broker {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// The URL as it may be shown: a password never reaches a log or an error message.
std::string redacted(std::string_view url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) return std::string(url);
  return std::string(url.substr(0, scheme + 3)) + "***" + std::string(url.substr(at));
}

RedisValue copy_reply(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::status;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::error;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::array;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

Error link_down(const std::string& name) {
  return make_error(ErrorCode::unavailable, "redis " + name + " is unreachable; retry later");
}

}  // namespace

Result<RedisAddress> parse_redis_url(std::string_view url_text) {
  const std::string shown = redacted(url_text);
  std::string_view url = url_text;
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme)
    return make_error(ErrorCode::invalid_message,
                      "expected redis://[[user]:password@]host[:port][/db] (host may be [IPv6]), got '" + shown + "'");
  std::string_view rest = url.substr(scheme.size());
  RedisAddress address;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    // redis://:password@host (the default user) or redis://user:password@host (an ACL user).
    if (auto colon = credentials.find(':'); colon != std::string_view::npos) {
      address.user = std::string(credentials.substr(0, colon));
      credentials = credentials.substr(colon + 1);
    }
    address.password = std::string(credentials);
    rest = rest.substr(at + 1);
  }
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string_view port;
  bool port_given = false;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return make_error(ErrorCode::invalid_message, "unclosed '[' in '" + shown + "'");
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return make_error(ErrorCode::invalid_message, "expected ':' after ']' in '" + shown + "'");
      port = rest.substr(close + 2);
      port_given = true;
    }
    rest = rest.substr(1, close - 1);
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    port_given = true;
  }
  if (rest.empty()) return make_error(ErrorCode::invalid_message, "no host in '" + shown + "'");
  address.host = std::string(rest);
  auto number = [&](std::string_view s, long max, long& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size() && out >= 0 && out <= max;
  };
  long value = 0;
  if (port_given) {
    if (!number(port, 65535, value) || value == 0)
      return make_error(ErrorCode::invalid_message, "bad port '" + std::string(port) + "' in '" + shown + "'");
    address.port = static_cast<std::uint16_t>(value);
  }
  if (!path.empty()) {
    if (!number(path, 1 << 20, value))
      return make_error(ErrorCode::invalid_message, "bad database '" + std::string(path) + "' in '" + shown + "'");
    address.db = static_cast<int>(value);
  }
  return address;
}


RedisLink::RedisLink(asio::io_context& io, Options options, StateHandler on_state, PushHandler on_push)
    : io_(io),
      options_(std::move(options)),
      on_state_(std::move(on_state)),
      on_push_(std::move(on_push)),
      socket_(io),
      resolver_(io),
      retry_timer_(io),
      watchdog_timer_(io),
      read_buffer_(64 * 1024) {}

void RedisLink::start() {
  if (state_ != State::stopped) return;
  state_ = State::connecting;
  connect();
  watchdog();
}

void RedisLink::stop() {
  const bool was_up = state_ == State::up;
  state_ = State::stopped;
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  retry_timer_.cancel();
  watchdog_timer_.cancel();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& p : pending) p.callback(link_down(options_.name));
  if (was_up && on_state_) on_state_(false);
}

void RedisLink::connect() {
  const std::uint64_t generation = ++generation_;
  state_ = State::connecting;
  last_traffic_ = std::chrono::steady_clock::now();
  resolver_.async_resolve(
      options_.address.host, std::to_string(options_.address.port),
      [this, self = shared_from_this(), generation](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (generation != generation_) return;
        if (ec) return fail("cannot resolve " + options_.address.host + ": " + ec.message());
        asio::async_connect(socket_, results, [this, self, generation](boost::system::error_code ec, const tcp::endpoint&) {
          if (generation != generation_) return;
          if (ec) return fail("cannot connect: " + ec.message());
          on_connected();
        });
      });
}

void RedisLink::on_connected() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  reader_ = std::shared_ptr<void>(redisReaderCreate(), [](void* r) { redisReaderFree(static_cast<redisReader*>(r)); });
  outgoing_.clear();
  writing_.clear();
  write_in_flight_ = false;
  last_traffic_ = std::chrono::steady_clock::now();
  // Up once the set-up commands succeeded: a wrong password or database is a failed
  // connection (with backoff), not a link that is up and refuses everything.
  state_ = State::handshake;
  auto must_succeed = [this, self = shared_from_this(), generation = generation_](Result<RedisValue> r) {
    if (generation != generation_) return;
    if (!r) fail(r.error().message);
  };
  if (!options_.address.user.empty()) enqueue({"AUTH", options_.address.user, options_.address.password}, must_succeed);
  else if (!options_.address.password.empty()) enqueue({"AUTH", options_.address.password}, must_succeed);
  if (options_.address.db != 0 && !on_push_) enqueue({"SELECT", std::to_string(options_.address.db)}, must_succeed);
  enqueue({"CLIENT", "SETNAME", options_.name}, [this, self = shared_from_this(), generation = generation_](Result<RedisValue> r) {
    if (generation != generation_ || state_ != State::handshake) return;
    if (!r) return fail(r.error().message);
    state_ = State::up;
    if (backoff_ > std::chrono::milliseconds(50)) spdlog::info("redis {}: connected again", options_.name);
    backoff_ = std::chrono::milliseconds(50);
    if (on_state_) on_state_(true);
  });
  read();
}

void RedisLink::command(const std::vector<std::string>& args, RedisCallback callback) {
  if (state_ != State::up) {
    asio::post(io_, [callback = std::move(callback), name = options_.name] { callback(link_down(name)); });
    return;
  }
  enqueue(args, std::move(callback));
}

void RedisLink::enqueue(const std::vector<std::string>& args, RedisCallback callback) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  const int n = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (n < 0) {
    asio::post(io_, [callback = std::move(callback)] {
      callback(make_error(ErrorCode::server_error, "cannot format a redis command"));
    });
    return;
  }
  outgoing_.append(formatted, static_cast<std::size_t>(n));
  redisFreeCommand(formatted);
  pending_.push_back(Pending{std::move(callback), std::chrono::steady_clock::now()});
  write();
}

void RedisLink::write() {
  if (write_in_flight_ || outgoing_.empty() || (state_ != State::up && state_ != State::handshake)) return;
  // Everything queued since the last write leaves in one go: pipelining for free.
  writing_.swap(outgoing_);
  outgoing_.clear();
  write_in_flight_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [this, self = shared_from_this(), generation = generation_](boost::system::error_code ec, std::size_t) {
                      if (generation != generation_) return;
                      write_in_flight_ = false;
                      if (ec) return fail("write: " + ec.message());
                      writing_.clear();
                      write();
                    });
}

void RedisLink::read() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      [this, self = shared_from_this(), generation = generation_](boost::system::error_code ec, std::size_t n) {
        if (generation != generation_) return;
        if (ec) return fail(ec == asio::error::eof ? std::string("connection closed by the server") : "read: " + ec.message());
        last_traffic_ = std::chrono::steady_clock::now();
        auto* reader = static_cast<redisReader*>(reader_.get());
        if (redisReaderFeed(reader, read_buffer_.data(), n) != REDIS_OK) return fail("protocol error");
        for (;;) {
          void* raw = nullptr;
          if (redisReaderGetReply(reader, &raw) != REDIS_OK) return fail("protocol error");
          if (!raw) break;
          RedisValue reply = copy_reply(static_cast<redisReply*>(raw));
          freeReplyObject(raw);
          dispatch(std::move(reply));
          if (generation != generation_) return;  // a callback stopped or failed the link
        }
        read();
      });
}

void RedisLink::dispatch(RedisValue reply) {
  if (on_push_ && reply.type == RedisValue::Type::array && reply.elements.size() == 3 &&
      reply.elements[0].str == "message") {
    on_push_(reply);
    return;
  }
  if (pending_.empty()) return fail("a reply nobody asked for");
  RedisCallback callback = std::move(pending_.front().callback);
  pending_.pop_front();
  if (reply.type == RedisValue::Type::error) {
    // Redis saying "not now" (loading its data after a restart, a script running too long, a
    // replica during a failover) is a passing unavailability, retryable like a dropped link.
    static constexpr std::string_view passing[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY"};
    const std::string_view text = reply.str;
    const bool transient = std::any_of(std::begin(passing), std::end(passing), [&](std::string_view p) {
      return text.substr(0, p.size()) == p;
    });
    return callback(make_error(transient ? ErrorCode::unavailable : ErrorCode::server_error, "redis: " + reply.str));
  }
  callback(std::move(reply));
}

void RedisLink::fail(const std::string& why) {
  if (state_ == State::stopped || state_ == State::waiting) return;
  const bool was_up = state_ == State::up;
  if (was_up || backoff_ <= std::chrono::milliseconds(50))
    spdlog::warn("redis {} ({}:{}): {}", options_.name, options_.address.host, options_.address.port, why);
  state_ = State::waiting;
  ++generation_;
  boost::system::error_code ignored;
  socket_.close(ignored);
  auto pending = std::move(pending_);
  pending_.clear();
  outgoing_.clear();
  for (auto& p : pending) p.callback(link_down(options_.name));
  if (was_up && on_state_) on_state_(false);
  schedule_reconnect();
}

void RedisLink::schedule_reconnect() {
  if (state_ == State::stopped) return;
  // Full jitter: nodes that lost the same Redis do not all come back in the same millisecond.
  static thread_local std::minstd_rand random{std::random_device{}()};
  const auto delay = std::chrono::milliseconds(1 + random() % static_cast<unsigned>(backoff_.count()));
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(2000));
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this, self = shared_from_this()](boost::system::error_code ec) {
    if (ec || state_ != State::waiting) return;
    socket_ = tcp::socket(io_);
    connect();
  });
}

void RedisLink::watchdog() {
  // A Redis that stops answering (stopped process, network partition) keeps the socket open:
  // time out the oldest command, and ping a quiet link so a dead peer shows.
  watchdog_timer_.expires_after(options_.timeout / 4);
  watchdog_timer_.async_wait([this, self = shared_from_this()](boost::system::error_code ec) {
    if (ec || state_ == State::stopped) return;
    const auto now = std::chrono::steady_clock::now();
    if (state_ == State::up || state_ == State::handshake) {
      if (!pending_.empty() && now - pending_.front().sent > options_.timeout) {
        fail("no reply within " + std::to_string(options_.timeout.count()) + " ms");
      } else if (state_ == State::up && pending_.empty() && now - last_traffic_ > options_.timeout / 2) {
        last_traffic_ = now;
        enqueue({"PING"}, [](Result<RedisValue>) {});
      }
    } else if (state_ == State::connecting && now - last_traffic_ > options_.timeout * 2) {
      // A connect that hangs (packets dropped) is abandoned and retried.
      fail("connect timed out");
    }
    watchdog();
  });
}

}  // namespace sb::broker
