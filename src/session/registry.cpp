#include "session/registry.hpp"

#include <boost/asio/post.hpp>


namespace sb::session {

ClientRegistry::Stripe& ClientRegistry::stripe_for(std::string_view id) const {
  return stripes_[std::hash<std::string_view>{}(id) % stripe_count];
}

void ClientRegistry::add(Connected& client) {
  Stripe& s = stripe_for(client.id());
  std::lock_guard lock(s.mutex);
  s.by_id.emplace(client.id(), Entry{&client, &client.context()});
}

void ClientRegistry::remove(Connected& client) {
  {
    Stripe& s = stripe_for(client.id());
    std::lock_guard lock(s.mutex);
    s.by_id.erase(client.id());
  }
  if (!client.user().empty()) {
    std::lock_guard lock(users_.mutex);
    auto it = users_.clients_by_user.find(client.user());
    if (it != users_.clients_by_user.end()) {
      it->second.erase(client.id());
      if (it->second.empty()) users_.clients_by_user.erase(it);
    }
  }
}

void ClientRegistry::set_user(Connected& client, std::string_view user) {
  std::lock_guard lock(users_.mutex);
  if (!client.user().empty()) {
    auto it = users_.clients_by_user.find(client.user());
    if (it != users_.clients_by_user.end()) {
      it->second.erase(client.id());
      if (it->second.empty()) users_.clients_by_user.erase(it);
    }
  }
  if (!user.empty()) users_.clients_by_user[std::string(user)].insert(client.id());
}

std::size_t ClientRegistry::with_client(std::string_view client_id, std::function<void(Connected&)> action) {
  boost::asio::io_context* context = nullptr;
  {
    Stripe& s = stripe_for(client_id);
    std::lock_guard lock(s.mutex);
    auto it = s.by_id.find(std::string(client_id));
    if (it == s.by_id.end()) return 0;
    context = it->second.context;
  }
  // Look the client up again on its own thread: it may have gone in between, and only there is
  // it safe to touch (it is removed from the registry on that thread before it is destroyed).
  boost::asio::post(*context, [this, id = std::string(client_id), action = std::move(action)] {
    Connected* client = nullptr;
    {
      Stripe& s = stripe_for(id);
      std::lock_guard lock(s.mutex);
      auto it = s.by_id.find(id);
      if (it != s.by_id.end()) client = it->second.client;
    }
    if (client) action(*client);
  });
  return 1;
}

std::size_t ClientRegistry::with_user(std::string_view user, std::function<void(Connected&)> action) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(users_.mutex);
    auto it = users_.clients_by_user.find(std::string(user));
    if (it == users_.clients_by_user.end()) return 0;
    ids.assign(it->second.begin(), it->second.end());
  }
  std::size_t n = 0;
  for (const auto& id : ids) n += with_client(id, action);
  return n;
}

std::size_t ClientRegistry::size() const {
  std::size_t n = 0;
  for (auto& s : stripes_) {
    std::lock_guard lock(s.mutex);
    n += s.by_id.size();
  }
  return n;
}

}  // namespace sb::session
