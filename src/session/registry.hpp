#pragma once
// Every connected client, by id and by user, so the HTTP API can reach a client it did not
// accept. Stripes of mutexes like the hub's table: connects and disconnects on different threads
// rarely meet. Not on the publish path.
#include <boost/asio/io_context.hpp>

#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sb::session {

// What the registry finds: a WebSocket Client or a streamed SseClient, closed from the server side
// (POST /api/disconnect). Every call on the connection's own thread.
class Connected {
 public:
  virtual ~Connected() = default;
  virtual const std::string& id() const noexcept = 0;
  virtual const std::string& user() const noexcept = 0;
  virtual boost::asio::io_context& context() const noexcept = 0;
  virtual void disconnect(std::uint16_t code, std::string_view reason) = 0;
};

class ClientRegistry {
 public:
  // On the client's worker thread.
  void add(Connected& client);
  void remove(Connected& client);
  void set_user(Connected& client, std::string_view user);

  // Any thread. Runs `action` on the client's own thread, if it is still connected by then.
  // Returns how many clients were found.
  std::size_t with_client(std::string_view client_id, std::function<void(Connected&)> action);
  std::size_t with_user(std::string_view user, std::function<void(Connected&)> action);
  std::size_t size() const;

 private:
  struct Entry {
    Connected* client;
    boost::asio::io_context* context;
  };
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> by_id;
  };
  struct Users {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::unordered_set<std::string>> clients_by_user;
  };
  static constexpr std::size_t stripe_count = 32;
  Stripe& stripe_for(std::string_view id) const;

  mutable std::array<Stripe, stripe_count> stripes_;
  Users users_;
};

}  // namespace sb::session
