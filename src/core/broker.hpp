#pragma once
// What the hub needs to run across several nodes (docs/scaling.md). Without a broker the hub is
// the whole truth on one node; with one, the broker assigns offsets, keeps history and presence,
// and carries every publication to every node that has subscribers, and the hub fans out what
// reaches its node. Implementation: src/broker/ (Redis).
//
// Threads. publish(), relay(), watch() and unwatch() never block and may be called under the
// hub's locks. position(), read() and the presence calls block the calling thread for one round
// trip at most (bounded by the broker's timeout) and must not be called from the broker's own
// thread. Listener calls come from the broker's thread, in the order the broker received them.
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "core/history.hpp"
#include "core/publication.hpp"

namespace sb::core {

class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  // A publication of a watched channel, from whichever node published it, in offset order.
  virtual void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset,
                              std::int64_t ts, std::string_view data) = 0;
  // A relayed frame (join, leave, typing, event, stream) from another node.
  virtual void on_relay(std::string_view channel, SharedBytes frame, std::string_view stream,
                        std::uint64_t sequence) = 0;
  // The broker lost its connection and has it back, with every watched channel subscribed again:
  // what was published meanwhile did not reach this node. Called on a thread that may block.
  virtual void on_reconnected() = 0;
  // A marker this node sent with mark(): every publication of the channel up to `position` that
  // was going to reach this node has reached it.
  virtual void on_marker(std::string_view channel, const StreamPosition& position) = 0;
};

class Broker {
 public:
  using PublishDone = std::function<void(Result<StreamPosition>)>;
  using WatchDone = std::function<void(Status)>;

  virtual ~Broker() = default;
  virtual void set_listener(BrokerListener* listener) = 0;

  // Assigns the channel's next offset, appends to its history when the policy keeps some, and
  // sends it to every node watching the channel, as one atomic step. `done` gets the position
  // (or UNAVAILABLE at once when the broker is unreachable) on the broker's thread.
  virtual void publish(std::string_view channel, std::string_view data, std::int64_t ts, const HistoryPolicy& policy,
                       PublishDone done) = 0;
  // Sends an encoded frame to the other nodes watching the channel (this node delivers its own).
  virtual void relay(std::string_view channel, const SharedBytes& frame, std::string_view stream,
                     std::uint64_t sequence) = 0;
  // Starts or stops receiving a channel's publications on this node. `done` runs once every
  // later publication is sure to arrive. Calls for one channel take effect in call order.
  virtual void watch(std::string_view channel, WatchDone done) = 0;
  virtual void unwatch(std::string_view channel) = 0;
  // Sends a marker through the channel's stream of publications, back to this node only
  // (BrokerListener::on_marker): it arrives after everything published before it.
  virtual void mark(std::string_view channel, const StreamPosition& position) = 0;

  // Where channels stand cluster-wide (a channel never published gets its epoch now). Blocking.
  virtual Result<std::vector<StreamPosition>> positions(std::span<const std::string> channels) = 0;
  // A page of history with the channel's position. Blocking.
  virtual Result<HistoryPage> read(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query) = 0;

  // Presence, cluster-wide. add/members block; remove does not (it is ordered after an add).
  virtual Status presence_add(std::string_view channel, const Member& member) = 0;
  virtual void presence_remove(std::string_view channel, std::string_view client) = 0;
  virtual Result<std::vector<Member>> presence(std::string_view channel) = 0;
};

}  // namespace sb::core
