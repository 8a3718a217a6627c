#pragma once
// Per-namespace options. Every channel belongs to one namespace: `chat:room-1` to `chat`, a name
// without a colon to the default one. A channel whose namespace is not configured is refused
// (UNKNOWN_CHANNEL), so a typo does not silently create a new kind of channel.
#include <map>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "core/history.hpp"

namespace sb::core {

// Who may subscribe (docs/security.md). Personal channels `user#<id>` are their user's only, in
// any namespace.
enum class Access {
  open,       // any connected client ("public" in the config)
  protected_, // the token's `channels` claim must match
  private_,   // a subscription token for that channel and user must come with the subscribe
};

struct NamespaceOptions {
  std::string name;  // "" for the default namespace
  // Whether WebSocket clients may publish (the backend always can, over HTTP).
  bool client_publish = false;
  // Whether subscribed clients may send `typing` and `event` even without client_publish (a chat
  // whose messages go through the backend, but whose typing indicators and reactions do not).
  // Off: events follow client_publish, as publishing does.
  bool client_events = false;
  // Messages kept per channel for recovery and paging; size 0 keeps none.
  HistoryPolicy history;
  // Whether the server keeps the list of who is subscribed (presence, presence_stats).
  bool presence = false;
  // Whether subscribers are told when someone joins or leaves (needs presence).
  bool join_leave = false;
  Access access = Access::open;
  // Whether an upgrade URL's `?channel=` may subscribe a connection here at connect time (for
  // clients that only listen). Off by default: a URL ends up in logs and browser history.
  bool url_subscribe = false;
  // Whether clients' `event` frames (webhook_events) and typing indicators (webhook_typing) on
  // the namespace's channels also go to the app's backend as webhooks ([webhooks]). Off by
  // default: they are chatty, and most apps only want them between clients.
  bool webhook_events = false;
  bool webhook_typing = false;
  // Whether the app's backend decides each subscribe / sees each client publish first (the
  // session layer's proxies, docs/backend.md#proxies); with publish_proxy_only, a client publish
  // goes to the backend only and is not broadcast. Plain flags here: the no-proxy publish path
  // pays one test.
  bool subscribe_proxy = false;
  bool publish_proxy = false;
  bool publish_proxy_only = false;
};

class Namespaces {
 public:
  // Starts with the default namespace only, with client_publish as given.
  explicit Namespaces(NamespaceOptions default_namespace = {});
  void add(NamespaceOptions options);  // replaces one of the same name
  // The one check every way in makes of a channel name a peer sent: a valid name in a configured
  // namespace (else UNKNOWN_CHANNEL, for either); its namespace's options.
  Result<const NamespaceOptions*> resolve(std::string_view channel) const;
  // The options for a channel already resolved (or a name the server made), or UNKNOWN_CHANNEL.
  Result<const NamespaceOptions*> find(std::string_view channel) const;
  const std::map<std::string, NamespaceOptions, std::less<>>& all() const noexcept { return by_name_; }

 private:
  std::map<std::string, NamespaceOptions, std::less<>> by_name_;
};

}  // namespace sb::core
