#pragma once
// What one node can learn from the others: which nodes are alive, and an answer from each to a
// question (the HTTP API asks for stats, channel lists and disconnects by user). The transport of
// questions and answers is the broker's business (src/broker/); what they mean is the API's.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace sb::core {

struct NodeStatus {
  std::string id;
  std::int64_t last_seen_ms = 0;  // Unix ms of the node's last heartbeat, by Redis's clock
  std::string info;               // what the node published about itself (JSON object)
};

// What one node may ask the others. The argument and the answer's text are the API's business.
enum class ClusterQuestion {
  stats,              // the node's figures; no argument
  channels,           // its channels with subscribers; argument: a name prefix
  disconnect_user,    // close that user's connections; argument: the user id; answer: how many
  disconnect_client,  // close that connection; argument: the client id; answer: 0 or 1
};

// The question's name between nodes: these strings are the wire format, so nodes of different
// versions still understand each other. Never rename one.
constexpr std::string_view wire_name(ClusterQuestion question) noexcept {
  switch (question) {
    case ClusterQuestion::stats: return "stats";
    case ClusterQuestion::channels: return "channels";
    case ClusterQuestion::disconnect_user: return "disconnect_user";
    case ClusterQuestion::disconnect_client: return "disconnect_client";
  }
  return "";
}

// The question a wire name stands for; nullopt for one this node does not know (asked by a newer
// node), which it answers with `unknown_question_answer`.
constexpr std::optional<ClusterQuestion> cluster_question_named(std::string_view name) noexcept {
  for (auto q : {ClusterQuestion::stats, ClusterQuestion::channels, ClusterQuestion::disconnect_user,
                 ClusterQuestion::disconnect_client})
    if (wire_name(q) == name) return q;
  return std::nullopt;
}
// Read by every asker as "nothing to count or list here".
inline constexpr std::string_view unknown_question_answer = "null";

struct NodeAnswer {
  std::string node;
  std::string answer;
};

class Cluster {
 public:
  using Answerer = std::function<std::string(ClusterQuestion question, std::string_view argument)>;

  virtual ~Cluster() = default;
  virtual const std::string& node_id() const noexcept = 0;
  // Live nodes (heartbeat within the node timeout), this one included. Blocking.
  virtual Result<std::vector<NodeStatus>> nodes() = 0;
  // Asks every live node, this one included; blocks until all answered or the timeout passed
  // (the answers that came are returned; `expected` says how many nodes were asked).
  virtual Result<std::vector<NodeAnswer>> ask(ClusterQuestion question, std::string_view argument,
                                              std::size_t* expected = nullptr) = 0;
  // How this node answers; runs on the broker's thread and must not block.
  virtual void set_answerer(Answerer answerer) = 0;
};

}  // namespace sb::core
