#pragma once
// One connection to a Redis server, on one io_context: commands pipelined in order, replies
// matched to their callbacks in the same order, pub/sub messages handed to a push handler.
//
// Why not hiredis's own async context: its pub/sub bookkeeping keeps one callback per channel
// and drops it when an UNSUBSCRIBE reply comes back, even if a SUBSCRIBE to the same channel was
// sent meanwhile; the hub subscribes and unsubscribes channels as their last subscriber comes
// and goes, so that race is routine here. We keep hiredis for what it does well (the RESP parser
// and command formatting) and drive the socket with Asio ourselves.
//
// Failure. When the connection drops, stalls (no reply within `timeout`) or cannot be made, every
// pending callback gets UNAVAILABLE, new commands fail at once (no queueing behind a dead link),
// and the link reconnects with exponential backoff. `on_state` tells the owner when it goes up or
// down, so it can re-subscribe what it had.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/redis_address.hpp"
#include "common/error.hpp"

namespace sb::broker {

// A reply, copied out of hiredis's tree.
struct RedisValue {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisValue> elements;
};

using RedisCallback = std::function<void(Result<RedisValue>)>;

class RedisLink : public std::enable_shared_from_this<RedisLink> {
 public:
  struct Options {
    RedisAddress address;
    std::string name;  // for logs and CLIENT SETNAME
    std::chrono::milliseconds timeout{1000};
  };
  using StateHandler = std::function<void(bool up)>;
  using PushHandler = std::function<void(RedisValue& message)>;

  // `on_push` set: this is a pub/sub link; "message" arrays go there, everything else to the
  // callbacks. All of it, and every method, on `io`'s thread.
  RedisLink(boost::asio::io_context& io, Options options, StateHandler on_state, PushHandler on_push = nullptr);

  void start();
  void stop();
  bool up() const noexcept { return state_ == State::up; }
  // Sends at once if up, else answers UNAVAILABLE (through `io`, never re-entrantly).
  void command(const std::vector<std::string>& args, RedisCallback callback);

 private:
  enum class State { stopped, connecting, handshake, up, waiting };
  struct Pending {
    RedisCallback callback;
    std::chrono::steady_clock::time_point sent;
  };

  void connect();
  void on_connected();
  void read();
  void write();
  void dispatch(RedisValue reply);
  void fail(const std::string& why);
  void schedule_reconnect();
  void watchdog();
  void enqueue(const std::vector<std::string>& args, RedisCallback callback);

  boost::asio::io_context& io_;
  Options options_;
  StateHandler on_state_;
  PushHandler on_push_;
  State state_ = State::stopped;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer watchdog_timer_;
  std::chrono::milliseconds backoff_{50};
  std::uint64_t generation_ = 0;  // bumped per connection: handlers of an old one do nothing
  std::deque<Pending> pending_;
  std::string outgoing_;  // formatted commands not yet handed to the socket
  std::string writing_;   // being written
  bool write_in_flight_ = false;
  std::vector<char> read_buffer_;
  std::shared_ptr<void> reader_;  // hiredis redisReader
  std::chrono::steady_clock::time_point last_traffic_;
};

}  // namespace sb::broker
