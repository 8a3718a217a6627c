#pragma once
// The broker: where a channel's publications get their position and come back from. Every
// publication goes Hub::publish → Broker::publish → BrokerListener::on_publication (the hub's one
// fan-out), on one node as in a cluster, so the hub never asks "is there a broker?".
//   - core::LocalBroker (one node): assigns offsets and epochs, stores history through the
//     HistoryWriter, keeps presence; it calls the listener on the publishing thread (no history)
//     or on the history writer's thread (once the message is stored).
//   - broker::RedisBroker (several nodes, docs/scaling.md): Redis assigns offsets, keeps history
//     and presence, and carries every publication to every node watching its channel (this one
//     too); the listener is called from the broker's thread.
//
// Threads. publish(), relay(), watch() and unwatch() never block on the network. The hub calls
// the broker with none of its own locks held: a broker may hold its own locks while it calls the
// listener (lock order: broker → hub stripe). positions(), read() and the presence calls may
// block the calling thread for one round trip at most (bounded by the broker's timeout) and must
// not be called from the broker's own thread or from inside a listener call.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/dispatch.hpp>

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

using PublishDone = std::function<void(Result<StreamPosition>)>;

// Hands a publish's result to `done` on `where`: at once when the caller already runs there,
// else posted to it; without an executor, at once on the completing thread. Brokers complete
// every publish through this.
inline void complete_on(const boost::asio::any_io_executor& where, PublishDone done, Result<StreamPosition> result) {
  if (!where) return done(std::move(result));
  boost::asio::dispatch(where, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  // A publication of a watched channel, from whichever node published it, in offset order per
  // channel. May be called under the broker's own locks: must not call back into the broker.
  // `from` is the publisher's identity as given to publish() (Publication::from), or empty;
  // `tags` likewise (Publication::tags).
  virtual void on_publication(std::string_view channel, std::string_view epoch, std::uint64_t offset,
                              std::int64_t ts, std::string_view data, std::string_view from,
                              std::string_view tags) = 0;
  // A relayed frame (join, leave, typing, event, stream) from another node.
  virtual void on_relay(std::string_view channel, SharedBytes frame, std::string_view stream,
                        std::uint64_t sequence) = 0;
  // Cluster: the broker lost its connection and has it back, with every watched channel
  // subscribed again: what was published meanwhile did not reach this node. Called on a thread
  // that may block. A LocalBroker never calls it.
  virtual void on_reconnected() = 0;
  // Cluster: the marker this node sent with send_sync_marker() came back through the channel:
  // every publication up to `position` that was going to reach this node has reached it.
  virtual void on_sync_marker(std::string_view channel, const StreamPosition& position) = 0;
};

class Broker {
 public:
  using PublishDone = core::PublishDone;
  using WatchDone = std::function<void(Status)>;

  virtual ~Broker() = default;
  // Before any other call. set_listener(nullptr) says the listener is going away: when it
  // returns, no listener call runs or will come (a LocalBroker first stores what is queued).
  virtual void set_listener(BrokerListener* listener) = 0;

  // Assigns the channel's next offset, appends to its history when the policy keeps some, and
  // hands it to the listener of every node watching the channel, as one atomic step. `done` gets
  // the position (or the error: then nothing was delivered) on `where` (complete_on). `from`
  // (Publication::from, possibly empty) and `tags` (Publication::tags) are stored with the
  // message and handed back with it.
  virtual void publish(std::string_view channel, std::string_view data, std::string_view from,
                       std::string_view tags, std::int64_t ts,
                       const HistoryPolicy& policy, const boost::asio::any_io_executor& where, PublishDone done) = 0;
  // Sends an encoded frame to the other nodes watching the channel (this node delivers its own).
  virtual void relay(std::string_view channel, const SharedBytes& frame, std::string_view stream,
                     std::uint64_t sequence) = 0;
  // Starts receiving a channel's publications on this node. `done` runs (possibly before watch
  // returns) once every later publication is sure to arrive; `policy` is the channel's history,
  // for a broker that keeps positions itself. Watches are counted: a watch that reports success
  // is balanced by one unwatch(), one that fails leaves nothing to undo, so the two may be called
  // from different threads in either order.
  virtual void watch(std::string_view channel, const HistoryPolicy& policy, WatchDone done) = 0;
  virtual void unwatch(std::string_view channel) = 0;
  // Cluster: sends a marker through the channel's stream of publications, back to this node only
  // (BrokerListener::on_sync_marker): it arrives after everything published before it.
  virtual void send_sync_marker(std::string_view channel, const StreamPosition& position) = 0;

  // Where channels stand (a channel never published gets its epoch now). May block.
  virtual Result<std::vector<StreamPosition>> positions(std::span<const std::string> channels) = 0;
  // A page of history with the channel's position. May block.
  virtual Result<HistoryPage> read(std::string_view channel, const HistoryPolicy& policy, const HistoryQuery& query) = 0;

  // Presence, node- or cluster-wide. add/members may block; remove does not (it is ordered
  // after an add).
  virtual Status presence_add(std::string_view channel, const Member& member) = 0;
  virtual void presence_remove(std::string_view channel, std::string_view client) = 0;
  virtual Result<std::vector<Member>> presence(std::string_view channel) = 0;
};

}  // namespace sb::core
