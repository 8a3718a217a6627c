#pragma once
// The Redis broker: several Switchboard nodes share channels, offsets, history and presence
// through one or more Redis servers (docs/scaling.md). Channels are spread over the Redis servers
// by a stable hash of their name; the node registry and the control channel live on the first.
// redis_broker.cpp is the core::Broker (publications, watches, history, presence);
// redis_nodes.cpp the core::Cluster (registry, heartbeat, dead nodes, questions to every node).
//
// Threads. One thread of its own runs an io_context with, per Redis, one command link (pipelined)
// and one pub/sub link. Calls from other threads are posted to it; the blocking ones wait for the
// reply at most `timeout`.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/redis_link.hpp"
#include "core/broker.hpp"
#include "core/cluster.hpp"

namespace sb::broker {

struct RedisBrokerOptions {
  std::vector<RedisAddress> redis;  // at least one; channels are sharded over all of them
  std::string prefix = "sb";        // of every key and pub/sub channel: clusters can share a Redis
  std::string node_id;              // unique per process
  std::chrono::milliseconds timeout{1000};       // a blocking call, or a link without replies
  std::chrono::milliseconds heartbeat{1000};     // how often the node says it is alive
  std::chrono::milliseconds node_timeout{5000};  // silent this long: dead, its members removed
  std::chrono::seconds meta_ttl{30 * 24 * 3600}; // a channel's epoch and offset outlive its last publication this long
  std::string node_info = "{}";                  // JSON object the node publishes about itself
};

class RedisBroker final : public core::Broker, public core::Cluster {
 public:
  explicit RedisBroker(RedisBrokerOptions options);
  ~RedisBroker() override;

  // Connects and starts the heartbeat. Returns without waiting for Redis: a node starts even if
  // Redis is down, and publishes fail until it is back.
  void start();
  // Says goodbye (leaves the registry), sends what is queued, and joins the thread.
  void stop();
  bool connected() const noexcept { return links_up_.load() == 2 * instances_.size(); }

  // Members removed because their node died: the node that noticed calls this once per member.
  using MemberLost = std::function<void(const std::string& channel, const core::Member& member)>;
  void set_member_lost(MemberLost handler);
  // Figures the heartbeat publishes in the node's info (JSON object text), refreshed each beat.
  void set_node_info(std::function<std::string()> info);

  // core::Broker
  void set_listener(core::BrokerListener* listener) override;
  void publish(std::string_view channel, std::string_view data, std::string_view from, std::string_view tags,
               std::int64_t ts,
               const core::HistoryPolicy& policy, const boost::asio::any_io_executor& where, PublishDone done) override;
  void relay(std::string_view channel, const SharedBytes& frame, std::string_view stream,
             std::uint64_t sequence) override;
  void watch(std::string_view channel, const core::HistoryPolicy& policy, WatchDone done) override;
  void unwatch(std::string_view channel) override;
  void send_sync_marker(std::string_view channel, const core::StreamPosition& position) override;
  Result<std::vector<core::StreamPosition>> positions(std::span<const std::string> channels) override;
  Result<core::HistoryPage> read(std::string_view channel, const core::HistoryPolicy& policy,
                                 const core::HistoryQuery& query) override;
  Status presence_add(std::string_view channel, const core::Member& member) override;
  void presence_remove(std::string_view channel, std::string_view client) override;
  Result<std::vector<core::Member>> presence(std::string_view channel) override;

  // core::Cluster
  const std::string& node_id() const noexcept override { return options_.node_id; }
  Result<std::vector<core::NodeStatus>> nodes() override;
  Result<std::vector<core::NodeAnswer>> ask(core::ClusterQuestion question, std::string_view argument,
                                            std::size_t* expected) override;
  void set_answerer(Answerer answerer) override;

 private:
  struct Instance {
    std::shared_ptr<RedisLink> commands;
    std::shared_ptr<RedisLink> pubsub;
    bool pubsub_was_up = false;
    // The pub/sub link is back but the command link is not: channels are subscribed again only
    // once both are, or a node would receive messages after a gap it cannot yet read.
    bool resubscribe_pending = false;
    // Presence removals Redis could not take while it was unreachable, sent when it is back.
    std::vector<std::pair<std::string, std::string>> removals;
  };
  struct QuestionAnswers;

  std::size_t shard_of(std::string_view channel) const noexcept;
  std::string key(std::string_view channel, char kind) const;
  std::string topic(std::string_view channel) const { return topic_prefix_ + std::string(channel); }
  // Broker thread: EVALSHA, falling back to EVAL when Redis does not know the script (restart).
  void eval(std::size_t instance, std::string_view script, std::vector<std::string> keys,
            std::vector<std::string> args, RedisCallback callback);
  // Any thread but the broker's: one command, waiting for its reply.
  Result<RedisValue> call(std::size_t instance, std::vector<std::string> args);
  Result<RedisValue> call_eval(std::size_t instance, std::string_view script, std::vector<std::string> keys,
                               std::vector<std::string> args);
  template <typename F>
  Result<RedisValue> blocking(F&& submit);

  // PUBLISH on the channel's topic without a script, fire and forget (relays, sync markers).
  void publish_raw(std::string_view channel, std::string payload);
  void remove_member(std::size_t instance, std::string key, std::string client);
  void on_pubsub_state(std::size_t instance, bool up);
  void on_commands_state(std::size_t instance, bool up);
  void resubscribe(std::size_t instance);
  void on_message(std::size_t instance, RedisValue& message);
  void on_control(std::string_view payload);
  void beat();
  void forget_node(const std::string& node);
  void close_questions();  // answers every question still open with what it has (stopping)

  RedisBrokerOptions options_;
  std::string topic_prefix_;  // of the channels' pub/sub topics: "<prefix>.c."
  boost::asio::io_context io_;
  std::vector<Instance> instances_;
  boost::asio::steady_timer heartbeat_timer_;
  std::thread thread_;
  // Runs the listener's on_reconnected, which blocks on calls the broker thread answers.
  std::thread resync_thread_;
  std::mutex resync_mutex_;
  std::condition_variable resync_wanted_;
  bool resync_requested_ = false;
  std::atomic<std::size_t> links_up_{0};
  std::atomic<bool> stopping_{false};

  // Broker thread only.
  core::BrokerListener* listener_ = nullptr;
  std::unordered_map<std::string, std::uint32_t> watched_;  // channels this node receives: watches not yet undone
  std::unordered_map<const char*, std::string> script_sha_;  // script text's address -> SHA1
  std::unordered_map<std::string, std::shared_ptr<QuestionAnswers>> open_questions_;  // by question id
  std::size_t resubscribing_ = 0;
  bool hears_questions_ = false;  // subscribed to the control topics once: may be listed
  MemberLost member_lost_;
  std::function<std::string()> node_info_;
  Answerer answerer_;
};

}  // namespace sb::broker
