// What the API asks every node (ClusterQuestion through core::Cluster, the broker's business) and
// how this node answers: GET /api/channels and /api/stats with scope=cluster, GET /api/nodes,
// POST /api/disconnect. On one node the same code runs with this node's answer alone.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <map>

#include "api/http_api.hpp"
#include "api/json_io.hpp"
#include "api/metrics.hpp"
#include "common/clock.hpp"
#include "session/client.hpp"
#include "transport/ws_frame.hpp"

namespace sb::api {

namespace json = boost::json;
using core::ClusterQuestion;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

// A node's answer to a disconnect: how many connections it closed.
std::uint64_t count_of(std::string_view answer) {
  std::uint64_t n = 0;
  std::from_chars(answer.data(), answer.data() + answer.size(), n);
  return n;
}

void close_client(session::Connected& c) { c.disconnect(transport::close_code::disconnected, "disconnected by the server"); }

}  // namespace

std::string HttpApi::answer(ClusterQuestion question, std::string_view argument) const {
  switch (question) {
    case ClusterQuestion::stats: return stats_json(read_stats_());
    case ClusterQuestion::channels: return json::serialize(channels_json(hub_, argument));
    case ClusterQuestion::disconnect_user: return std::to_string(registry_.with_user(argument, close_client));
    case ClusterQuestion::disconnect_client: return std::to_string(registry_.with_client(argument, close_client));
  }
  return std::string(core::unknown_question_answer);
}

Result<std::vector<core::NodeAnswer>> HttpApi::ask_all(ClusterQuestion question, std::string_view argument) const {
  if (!cluster_) return std::vector<core::NodeAnswer>{core::NodeAnswer{"", answer(question, argument)}};
  return cluster_->ask(question, argument);
}

HttpResponse HttpApi::cluster_channels(std::string_view prefix) const {
  auto answers = ask_all(ClusterQuestion::channels, prefix);
  if (!answers) return error_response(answers.error());
  // Summed over the nodes, with the nodes that have subscribers.
  std::map<std::string, std::pair<std::uint64_t, json::array>> merged;
  for (const auto& a : *answers) {
    json::error_code ec;
    json::value list = json::parse(a.answer, ec);
    if (ec || !list.is_array()) continue;
    for (const auto& item : list.get_array()) {
      if (!item.is_object()) continue;
      const auto* name = item.get_object().if_contains("channel");
      const auto* count = item.get_object().if_contains("subscribers");
      if (!name || !name->is_string() || !count || !count->is_number()) continue;
      auto& entry = merged[std::string(name->get_string())];
      entry.first += count->to_number<std::uint64_t>();
      entry.second.push_back(json::object{{"node", a.node}, {"subscribers", *count}});
    }
  }
  json::array list;
  for (auto& [name, entry] : merged)
    list.push_back(json::object{{"channel", name}, {"subscribers", entry.first}, {"nodes", std::move(entry.second)}});
  return json_response(json::object{{"scope", "cluster"}, {"nodes_answered", answers->size()}, {"channels", std::move(list)}});
}

HttpResponse HttpApi::cluster_stats() const {
  auto answers = ask_all(ClusterQuestion::stats, "");
  if (!answers) return error_response(answers.error());
  json::object total;
  json::array per_node;
  for (const auto& a : *answers) {
    json::error_code ec;
    json::value figures = json::parse(a.answer, ec);
    if (ec || !figures.is_object()) continue;
    for (const auto& [k, v] : figures.get_object()) {
      if (!v.is_number() || k == "uptime_seconds") continue;  // a sum of uptimes means nothing
      total[k] = (total.contains(k) ? total[k].to_number<std::uint64_t>() : 0) + v.to_number<std::uint64_t>();
    }
    json::object node = figures.get_object();
    node["node"] = a.node;
    per_node.push_back(std::move(node));
  }
  // Summed per node: a channel with subscribers on two nodes counts twice in `channels`.
  total["scope"] = "cluster";
  total["nodes_answered"] = answers->size();
  total["nodes"] = std::move(per_node);
  return json_response(total);
}

void HttpApi::nodes(const HttpRequest&, transport::HttpReply reply) const {
  if (!cluster_) {
    // One node: the same shape as in a cluster, this node alone, nameless and without "listen".
    return reply(json_response(json::object{{"nodes", json::array{json::object{
                                                          {"node", ""},
                                                          {"self", true},
                                                          {"last_seen", unix_millis()},
                                                          {"info", json::parse(node_info_json(read_stats_()))}}}}}));
  }
  auto live = cluster_->nodes();
  if (!live) return reply(error_response(live.error()));
  json::array list;
  for (const auto& n : *live) {
    json::error_code ec;
    json::value info = json::parse(n.info, ec);
    list.push_back(json::object{{"node", n.id},
                                {"self", n.id == cluster_->node_id()},
                                {"last_seen", n.last_seen_ms},
                                {"info", ec ? json::value(json::object{}) : std::move(info)}});
  }
  reply(json_response(json::object{{"nodes", std::move(list)}}));
}

void HttpApi::disconnect(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_object(request);
  if (!body) return reply(error_response(body.error()));
  const json::value* client = body->if_contains("client");
  const json::value* user = body->if_contains("user");
  if ((client == nullptr) == (user == nullptr))
    return reply(error_response(invalid("give exactly one of 'client' or 'user'")));
  const json::value* which = client ? client : user;
  if (!which->is_string())
    return reply(error_response(invalid(client ? "'client' must be a string" : "'user' must be a string")));
  // Every node closes its own connections of that client or user.
  const ClusterQuestion question = client ? ClusterQuestion::disconnect_client : ClusterQuestion::disconnect_user;
  auto answers = ask_all(question, which->get_string());
  if (!answers) {
    // The other nodes cannot be asked (Redis is down): this node's connections still go, and
    // the answer says it is this node's count only.
    return reply(json_response(json::object{{"disconnected", count_of(answer(question, which->get_string()))},
                                            {"scope", "node"},
                                            {"cluster_error", answers.error().message}}));
  }
  // This node answers through Redis like the others; if its own question got lost on the way,
  // its connections are closed here all the same.
  if (cluster_ && std::none_of(answers->begin(), answers->end(),
                               [&](const core::NodeAnswer& a) { return a.node == cluster_->node_id(); }))
    answers->push_back(core::NodeAnswer{cluster_->node_id(), answer(question, which->get_string())});
  std::uint64_t n = 0;
  for (const auto& a : *answers) n += count_of(a.answer);
  reply(json_response(json::object{{"disconnected", n}}));
}

}  // namespace sb::api
