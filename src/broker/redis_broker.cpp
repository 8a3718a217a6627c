#include "broker/redis_broker.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <future>
#include <optional>

#include "broker/redis_fields.hpp"
#include "broker/redis_scripts.hpp"
#include "common/clock.hpp"
#include "common/random.hpp"

namespace sb::broker {

namespace asio = boost::asio;
using Type = RedisValue::Type;

namespace {

std::string sha1_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

Error bad_reply(std::string_view what) {
  return make_error(ErrorCode::server_error, "unexpected reply from redis to " + std::string(what));
}

Result<core::StreamPosition> position_of(const RedisValue& v) {
  if (v.type != Type::array || v.elements.size() != 2) return bad_reply("a position");
  const auto& offset = v.elements[0];
  return core::StreamPosition{static_cast<std::uint64_t>(offset.type == Type::integer ? offset.integer : to_i64(offset.str)),
                              v.elements[1].str};
}

}  // namespace

RedisBroker::RedisBroker(RedisBrokerOptions options)
    : options_(std::move(options)), topic_prefix_(options_.prefix + ".c."), heartbeat_timer_(io_) {
  if (options_.redis.empty()) throw std::invalid_argument("the Redis broker needs at least one Redis");
  if (options_.node_id.empty()) options_.node_id = random_hex(6);
  for (std::size_t i = 0; i < options_.redis.size(); ++i) {
    Instance instance;
    const std::string where = "#" + std::to_string(i);
    instance.commands = std::make_shared<RedisLink>(
        io_, RedisLink::Options{options_.redis[i], "switchboard-" + options_.node_id + "-commands" + where, options_.timeout},
        [this, i](bool up) { on_commands_state(i, up); });
    instance.pubsub = std::make_shared<RedisLink>(
        io_, RedisLink::Options{options_.redis[i], "switchboard-" + options_.node_id + "-pubsub" + where, options_.timeout},
        [this, i](bool up) { on_pubsub_state(i, up); },
        [this, i](RedisValue& message) { on_message(i, message); });
    instances_.push_back(std::move(instance));
  }
}

RedisBroker::~RedisBroker() { stop(); }

void RedisBroker::start() {
  asio::post(io_, [this] {
    for (auto& instance : instances_) {
      instance.commands->start();
      instance.pubsub->start();
    }
    beat();
  });
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  resync_thread_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock lock(resync_mutex_);
        resync_wanted_.wait(lock, [this] { return resync_requested_ || stopping_; });
        if (stopping_) return;
        resync_requested_ = false;
      }
      if (listener_) listener_->on_reconnected();
    }
  });
}

void RedisBroker::stop() {
  if (stopping_.exchange(true) || !thread_.joinable()) return;
  {
    std::lock_guard lock(resync_mutex_);
    resync_wanted_.notify_one();
  }
  // Leave the registry (and whatever presence entries are left) rather than wait to be found
  // dead, then let the links write what is queued before they close.
  std::promise<void> said_goodbye;
  asio::post(io_, [this, &said_goodbye] {
    heartbeat_timer_.cancel();
    auto remaining = std::make_shared<std::size_t>(instances_.size() + 1);
    auto done = [remaining, &said_goodbye](Result<RedisValue>) {
      if (--*remaining == 0) said_goodbye.set_value();
    };
    instances_[0].commands->command({"ZREM", options_.prefix + ":nodes", options_.node_id}, done);
    for (std::size_t i = 0; i < instances_.size(); ++i)
      eval(i, scripts::forget_node, {options_.prefix + ":node:" + options_.node_id + ":ch"},
           {options_.node_id, options_.prefix}, done);
  });
  said_goodbye.get_future().wait_for(options_.timeout);
  asio::post(io_, [this] {
    for (auto& instance : instances_) {
      instance.commands->stop();
      instance.pubsub->stop();
    }
    close_questions();
    io_.stop();
  });
  thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

void RedisBroker::set_listener(core::BrokerListener* listener) {
  // Set before start(), after stop() (the hub detaches itself), or on the broker thread.
  listener_ = listener;
}
void RedisBroker::set_member_lost(MemberLost handler) { member_lost_ = std::move(handler); }
void RedisBroker::set_node_info(std::function<std::string()> info) { node_info_ = std::move(info); }
void RedisBroker::set_answerer(Answerer answerer) { answerer_ = std::move(answerer); }

std::size_t RedisBroker::shard_of(std::string_view channel) const noexcept {
  // FNV-1a: the same channel maps to the same Redis on every node, whatever compiler built it.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : channel) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h % instances_.size());
}

std::string RedisBroker::key(std::string_view channel, char kind) const {
  // The braces make the channel the hash tag: the keys of one channel stay together if the
  // operator later moves to Redis Cluster.
  std::string k = options_.prefix;
  k.append(":{").append(channel).append("}:");
  k.push_back(kind);
  return k;
}

void RedisBroker::eval(std::size_t instance, std::string_view script, std::vector<std::string> keys,
                       std::vector<std::string> args, RedisCallback callback) {
  // The scripts are constants with static storage: their address is their identity, and the
  // text is copied only for the rare EVAL after a Redis restart.
  auto& sha = script_sha_[script.data()];
  if (sha.empty()) sha = sha1_hex(script);
  auto command = std::make_shared<std::vector<std::string>>();
  command->reserve(3 + keys.size() + args.size());
  command->push_back("EVALSHA");
  command->push_back(sha);
  command->push_back(std::to_string(keys.size()));
  for (auto& k : keys) command->push_back(std::move(k));
  for (auto& a : args) command->push_back(std::move(a));
  auto link = instances_[instance].commands;
  link->command(*command, [link, script, command, callback = std::move(callback)](Result<RedisValue> r) mutable {
    if (r || r.error().message.find("NOSCRIPT") == std::string::npos) return callback(std::move(r));
    // Redis restarted (or never saw it): send the text once; it is cached from then on.
    (*command)[0] = "EVAL";
    (*command)[1] = std::string(script);
    link->command(*command, std::move(callback));
  });
}

template <typename F>
Result<RedisValue> RedisBroker::blocking(F&& submit) {
  auto promise = std::make_shared<std::promise<Result<RedisValue>>>();
  auto future = promise->get_future();
  asio::post(io_, [submit = std::forward<F>(submit), promise]() mutable {
    submit([promise](Result<RedisValue> r) { promise->set_value(std::move(r)); });
  });
  // The link fails every pending command after `timeout`; the margin covers the hop between threads.
  if (future.wait_for(options_.timeout * 2) != std::future_status::ready)
    return make_error(ErrorCode::timeout, "redis did not answer in time");
  return future.get();
}

Result<RedisValue> RedisBroker::call(std::size_t instance, std::vector<std::string> args) {
  return blocking([this, instance, args = std::move(args)](RedisCallback cb) mutable {
    instances_[instance].commands->command(std::move(args), std::move(cb));
  });
}

Result<RedisValue> RedisBroker::call_eval(std::size_t instance, std::string_view script, std::vector<std::string> keys,
                                          std::vector<std::string> args) {
  return blocking([this, instance, script, keys = std::move(keys), args = std::move(args)](RedisCallback cb) mutable {
    eval(instance, script, std::move(keys), std::move(args), std::move(cb));
  });
}

// ---- publishing -----------------------------------------------------------------------------

void RedisBroker::publish(std::string_view channel, std::string_view data, std::string_view from,
                          std::string_view tags, std::int64_t ts,
                          const core::HistoryPolicy& policy, const asio::any_io_executor& where, PublishDone done) {
  const std::size_t instance = shard_of(channel);
  std::vector<std::string> keys{key(channel, 'm'), key(channel, 'h')};
  const auto meta_ttl = std::max<std::int64_t>(options_.meta_ttl.count(), policy.ttl.count());
  // Built one by one: an initializer list would copy the payload once more.
  std::vector<std::string> args;
  args.reserve(9);
  args.push_back(random_hex(6));
  args.push_back(std::to_string(ts));
  args.emplace_back(data);
  args.push_back(std::to_string(policy.size));
  args.push_back(std::to_string(policy.ttl.count()));
  args.push_back(std::to_string(meta_ttl));
  args.push_back(topic(channel));
  args.emplace_back(from);
  args.emplace_back(tags);
  asio::post(io_, [this, instance, keys = std::move(keys), args = std::move(args), where,
                   done = std::move(done)]() mutable {
    eval(instance, scripts::publish, std::move(keys), std::move(args),
         [where = std::move(where), done = std::move(done)](Result<RedisValue> r) mutable {
           core::complete_on(where, std::move(done), r ? position_of(*r) : Result<core::StreamPosition>(r.error()));
         });
  });
}

void RedisBroker::relay(std::string_view channel, const SharedBytes& frame, std::string_view stream,
                        std::uint64_t sequence) {
  std::string payload = kind_relay + options_.node_id + "\n" + std::string(stream) + "\n" + std::to_string(sequence) + "\n";
  payload.append(*frame);
  // Fire and forget: relayed frames (typing, join, stream deltas) are not stored either.
  publish_raw(channel, std::move(payload));
}

// ---- receiving --------------------------------------------------------------------------------

void RedisBroker::watch(std::string_view channel, const core::HistoryPolicy&, WatchDone done) {
  asio::post(io_, [this, channel = std::string(channel), done = std::move(done)]() mutable {
    ++watched_[channel];
    const std::size_t instance = shard_of(channel);
    // Subscribed again even when it is already: its reply says every later publication arrives.
    instances_[instance].pubsub->command(
        {"SUBSCRIBE", topic(channel)}, [this, channel, done = std::move(done)](Result<RedisValue> r) {
          if (r) return done(Ok{});
          // A failed watch leaves nothing to undo (Broker::watch).
          if (auto it = watched_.find(channel); it != watched_.end() && --it->second == 0) watched_.erase(it);
          done(r.error());
        });
  });
}

void RedisBroker::unwatch(std::string_view channel) {
  asio::post(io_, [this, channel = std::string(channel)] {
    // Watches are counted (Broker::watch): the hub may unwatch a channel's old state after a new
    // subscriber watched it again.
    auto it = watched_.find(channel);
    if (it == watched_.end() || --it->second != 0) return;
    watched_.erase(it);
    instances_[shard_of(channel)].pubsub->command({"UNSUBSCRIBE", topic(channel)}, [](Result<RedisValue>) {});
  });
}

void RedisBroker::on_commands_state(std::size_t instance, bool up) {
  if (up) ++links_up_;
  else --links_up_;
  if (!up || stopping_) return;
  // Registered as soon as it can be, not one heartbeat later.
  if (instance == 0) beat();
  auto removals = std::move(instances_[instance].removals);
  instances_[instance].removals.clear();
  for (auto& [key, client] : removals) remove_member(instance, std::move(key), std::move(client));
  if (instances_[instance].resubscribe_pending && instances_[instance].pubsub->up()) resubscribe(instance);
}

void RedisBroker::publish_raw(std::string_view channel, std::string payload) {
  std::vector<std::string> command;
  command.reserve(3);
  command.emplace_back("PUBLISH");
  command.push_back(topic(channel));
  command.push_back(std::move(payload));
  asio::post(io_, [this, instance = shard_of(channel), command = std::move(command)] {
    instances_[instance].commands->command(command, [](Result<RedisValue>) {});
  });
}

void RedisBroker::send_sync_marker(std::string_view channel, const core::StreamPosition& position) {
  std::string payload = kind_sync_marker + options_.node_id + "\n" + position.epoch + "\n" + std::to_string(position.offset);
  publish_raw(channel, std::move(payload));
}

void RedisBroker::on_pubsub_state(std::size_t instance, bool up) {
  if (up) ++links_up_;
  else --links_up_;
  if (!up || stopping_) return;
  if (instance == 0) {
    auto& link = instances_[0].pubsub;
    link->command({"SUBSCRIBE", options_.prefix + ".ctl"}, [](Result<RedisValue>) {});
    // Listed in the registry only once it can hear the questions other nodes ask: the first
    // heartbeat waits for this.
    link->command({"SUBSCRIBE", options_.prefix + ".ctl." + options_.node_id}, [this](Result<RedisValue> r) {
      if (!r || hears_questions_) return;
      hears_questions_ = true;
      beat();
    });
  }
  if (instances_[instance].commands->up()) resubscribe(instance);
  else instances_[instance].resubscribe_pending = true;
}

void RedisBroker::resubscribe(std::size_t instance) {
  instances_[instance].resubscribe_pending = false;
  const bool again = instances_[instance].pubsub_was_up;
  instances_[instance].pubsub_was_up = true;
  auto& link = instances_[instance].pubsub;
  std::size_t count = 0;
  for (const auto& [channel, watches] : watched_) {
    if (shard_of(channel) != instance) continue;
    ++count;
    ++resubscribing_;
    link->command({"SUBSCRIBE", topic(channel)}, [this](Result<RedisValue>) {
      // Once every channel is subscribed again, the hub learns what it missed meanwhile.
      if (--resubscribing_ == 0) {
        std::lock_guard lock(resync_mutex_);
        resync_requested_ = true;
        resync_wanted_.notify_one();
      }
    });
  }
  if (again) spdlog::info("redis #{}: subscribed again to {} channels", instance, count);
}

void RedisBroker::on_message(std::size_t, RedisValue& message) {
  const std::string& name = message.elements[1].str;
  std::string_view payload = message.elements[2].str;
  if (name.compare(0, topic_prefix_.size(), topic_prefix_) != 0) return on_control(payload);
  if (!listener_ || payload.empty()) return;
  std::string_view channel = std::string_view(name).substr(topic_prefix_.size());
  const char kind = payload[0];
  payload.remove_prefix(1);
  if (kind == kind_publication) {
    std::string_view f[4];  // epoch, offset, ts, data
    if (!split_fields(payload, 4, f)) return;
    listener_->on_publication(channel, f[0], to_u64(f[1]), to_i64(f[2]), f[3], {}, {});
  } else if (kind == kind_publication_from) {
    std::string_view f[5];  // epoch, offset, ts, length of from, from + data
    if (!split_fields(payload, 5, f)) return;
    const std::uint64_t from_size = to_u64(f[3]);
    if (from_size > f[4].size()) return;
    listener_->on_publication(channel, f[0], to_u64(f[1]), to_i64(f[2]), f[4].substr(from_size),
                              f[4].substr(0, from_size), {});
  } else if (kind == kind_publication_tags) {
    std::string_view f[6];  // epoch, offset, ts, length of from, length of tags, from + tags + data
    if (!split_fields(payload, 6, f)) return;
    const std::uint64_t from_size = to_u64(f[3]);
    const std::uint64_t tags_size = to_u64(f[4]);
    if (from_size > f[5].size() || tags_size > f[5].size() - from_size) return;
    listener_->on_publication(channel, f[0], to_u64(f[1]), to_i64(f[2]), f[5].substr(from_size + tags_size),
                              f[5].substr(0, from_size), f[5].substr(from_size, tags_size));
  } else if (kind == kind_sync_marker) {
    std::string_view f[3];  // node, epoch, offset
    if (!split_fields(payload, 3, f) || f[0] != options_.node_id) return;  // another node's
    listener_->on_sync_marker(channel, core::StreamPosition{to_u64(f[2]), std::string(f[1])});
  } else if (kind == kind_relay) {
    std::string_view f[4];  // node, stream, sequence, frame
    if (!split_fields(payload, 4, f) || f[0] == options_.node_id) return;  // ours went out locally
    listener_->on_relay(channel, make_shared_bytes(std::string(f[3])), f[1], to_u64(f[2]));
  }
}

// ---- history and positions -------------------------------------------------------------------

Result<std::vector<core::StreamPosition>> RedisBroker::positions(std::span<const std::string> channels) {
  if (channels.empty()) return std::vector<core::StreamPosition>{};
  // All of them pipelined: one round trip however many channels. The batch is shared with the
  // callbacks, which may outlive this call when it times out.
  struct Batch {
    std::vector<std::string> channels;
    std::vector<core::StreamPosition> out;
    std::size_t remaining = 0;
    std::optional<Error> error;
  };
  auto batch = std::make_shared<Batch>();
  batch->channels.assign(channels.begin(), channels.end());
  batch->out.resize(channels.size());
  batch->remaining = channels.size();
  auto result = blocking([this, batch](RedisCallback cb) {
    auto finish = std::make_shared<RedisCallback>(std::move(cb));
    for (std::size_t i = 0; i < batch->channels.size(); ++i) {
      const auto& c = batch->channels[i];
      eval(shard_of(c), scripts::position, {key(c, 'm'), key(c, 'h')},
           {random_hex(6), std::to_string(options_.meta_ttl.count()), "1"}, [batch, finish, i](Result<RedisValue> r) {
             if (r) {
               auto p = position_of(*r);
               if (p) batch->out[i] = std::move(*p);
               else batch->error = p.error();
             } else {
               batch->error = r.error();
             }
             if (--batch->remaining > 0) return;
             if (batch->error) (*finish)(*batch->error);
             else (*finish)(RedisValue{});
           });
    }
  });
  if (!result) return result.error();
  return std::move(batch->out);
}

Result<core::HistoryPage> RedisBroker::read(std::string_view channel, const core::HistoryPolicy& policy,
                                            const core::HistoryQuery& query) {
  const std::size_t instance = shard_of(channel);
  // Reading creates nothing: asking about any number of channels costs Redis no memory.
  auto position = call_eval(instance, scripts::position, {key(channel, 'm'), key(channel, 'h')},
                            {random_hex(6), std::to_string(options_.meta_ttl.count()), "0"});
  if (!position) return position.error();
  auto where = position_of(*position);
  if (!where) return where.error();
  core::HistoryPage page;
  page.position = std::move(*where);
  if (!policy.enabled() || page.position.offset == 0) return page;

  const std::string low = query.after > 0 ? std::to_string(query.after + 1) + "-0" : "-";
  const std::string high = query.before > 0 ? (query.before <= 1 ? std::string("0-0") : std::to_string(query.before - 1) + "-0") : "+";
  if (query.before == 1) return page;
  std::vector<std::string> range = query.newest_first
      ? std::vector<std::string>{"XREVRANGE", key(channel, 'h'), high, low, "COUNT", std::to_string(query.limit)}
      : std::vector<std::string>{"XRANGE", key(channel, 'h'), low, high, "COUNT", std::to_string(query.limit)};
  auto entries = call(instance, std::move(range));
  if (!entries) return entries.error();
  auto first = call(instance, {"XRANGE", key(channel, 'h'), "-", "+", "COUNT", "1"});
  if (!first) return first.error();

  // Redis keeps a message up to TTL after the last publication; what is older than TTL is past
  // retention here as it is on one node.
  const std::int64_t cutoff = policy.ttl.count() > 0 ? unix_millis() - policy.ttl.count() * 1000 : 0;
  auto offset_of = [](const std::string& id) { return to_u64(std::string_view(id).substr(0, id.find('-'))); };
  if (first->type == Type::array && !first->elements.empty()) page.first_offset = offset_of(first->elements[0].elements[0].str);
  if (entries->type != Type::array) return bad_reply("XRANGE");
  for (const auto& e : entries->elements) {
    if (e.type != Type::array || e.elements.size() != 2) continue;
    // t, d and, when the publisher is named, f; g when it has tags.
    const auto& fields = e.elements[1].elements;
    if (fields.size() < 4 || fields.size() % 2 != 0) continue;
    core::StoredMessage m;
    m.offset = offset_of(e.elements[0].str);
    m.ts = to_i64(fields[1].str);
    m.data = fields[3].str;
    for (std::size_t i = 4; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "f") m.from = fields[i + 1].str;
      else if (fields[i].str == "g") m.tags = fields[i + 1].str;
    }
    if (m.ts < cutoff) continue;
    page.messages.push_back(std::move(m));
  }
  return page;
}

// ---- presence ---------------------------------------------------------------------------------

Status RedisBroker::presence_add(std::string_view channel, const core::Member& member) {
  const std::size_t instance = shard_of(channel);
  // The registry is on the first Redis; with several, the member's Redis gets the node's entry
  // too, harmlessly (nodes are listed from the first only).
  auto added = call_eval(instance, scripts::presence_add,
                         {options_.prefix + ":nodes", options_.prefix + ":node:" + options_.node_id + ":ch", key(channel, 'u')},
                         {options_.node_id, std::string(channel), member.client,
                          options_.node_id + "\n" + member.user + "\n" + member.info});
  if (!added) return added.error();
  return Ok{};
}

void RedisBroker::presence_remove(std::string_view channel, std::string_view client) {
  asio::post(io_, [this, instance = shard_of(channel), k = key(channel, 'u'), client = std::string(client)]() mutable {
    remove_member(instance, std::move(k), std::move(client));
  });
}

void RedisBroker::remove_member(std::size_t instance, std::string key, std::string client) {
  instances_[instance].commands->command({"HDEL", key, client}, [this, instance, key, client](Result<RedisValue> r) {
    // Redis unreachable: the member is removed once it is back, or it would stay listed.
    if (!r && r.error().code == ErrorCode::unavailable && !stopping_)
      instances_[instance].removals.emplace_back(key, client);
  });
}

Result<std::vector<core::Member>> RedisBroker::presence(std::string_view channel) {
  auto all = call(shard_of(channel), {"HGETALL", key(channel, 'u')});
  if (!all) return all.error();
  std::vector<core::Member> members;
  for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2)
    members.push_back(member_of(all->elements[i].str, all->elements[i + 1].str));
  return members;
}

}  // namespace sb::broker
