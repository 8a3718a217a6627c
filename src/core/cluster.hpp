#pragma once
// What one node can learn from the others: which nodes are alive, and an answer from each to a
// question (the HTTP API asks for stats, channel lists and disconnects by user). The transport of
// questions and answers is the broker's business (src/broker/); what they mean is the API's.
#include <cstdint>
#include <functional>
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

struct NodeAnswer {
  std::string node;
  std::string answer;
};

class Cluster {
 public:
  using Answerer = std::function<std::string(std::string_view question, std::string_view argument)>;

  virtual ~Cluster() = default;
  virtual const std::string& node_id() const noexcept = 0;
  // Live nodes (heartbeat within the node timeout), this one included. Blocking.
  virtual Result<std::vector<NodeStatus>> nodes() = 0;
  // Asks every live node, this one included; blocks until all answered or the timeout passed
  // (the answers that came are returned; `expected` says how many nodes were asked).
  virtual Result<std::vector<NodeAnswer>> ask(std::string_view question, std::string_view argument,
                                              std::size_t* expected = nullptr) = 0;
  // How this node answers; runs on the broker's thread and must not block.
  virtual void set_answerer(Answerer answerer) = 0;
};

}  // namespace sb::core
