// The Redis broker's side of the cluster (core::Cluster): the node registry and its heartbeat,
// dead nodes' presence members, and questions asked of every node.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <future>

#include "broker/redis_broker.hpp"
#include "broker/redis_fields.hpp"
#include "broker/redis_scripts.hpp"
#include "common/random.hpp"

namespace sb::broker {

namespace asio = boost::asio;
using Type = RedisValue::Type;

// The answers to a question asked of every node, gathered on the broker thread until each
// live node answered or the time is up.
struct RedisBroker::QuestionAnswers {
  std::size_t expected = 0;
  std::vector<core::NodeAnswer> answers;
  std::promise<std::vector<core::NodeAnswer>> done;
  bool finished = false;
  std::unique_ptr<asio::steady_timer> timer;
  void finish() {
    if (finished) return;
    finished = true;
    done.set_value(std::move(answers));
  }
};

void RedisBroker::beat() {
  if (stopping_ || !hears_questions_) return;  // subscribing to the control topics calls again
  heartbeat_timer_.cancel();
  const std::string info = node_info_ ? node_info_() : options_.node_info;
  eval(0, scripts::heartbeat, {options_.prefix + ":nodes", options_.prefix + ":node:" + options_.node_id},
       {options_.node_id, info, std::to_string(options_.node_timeout.count())}, [this](Result<RedisValue> r) {
         if (!r || r->type != Type::array) return;
         for (const auto& dead : r->elements) forget_node(dead.str);
       });
  heartbeat_timer_.expires_after(options_.heartbeat);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) beat();
  });
}

void RedisBroker::forget_node(const std::string& node) {
  spdlog::warn("cluster: node {} stopped sending heartbeats; removing its presence members", node);
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    eval(i, scripts::forget_node, {options_.prefix + ":node:" + node + ":ch"}, {node, options_.prefix},
         [this](Result<RedisValue> r) {
           if (!r || r->type != Type::array || !member_lost_) return;
           for (std::size_t j = 0; j + 2 < r->elements.size(); j += 3)
             member_lost_(r->elements[j].str, member_of(r->elements[j + 1].str, r->elements[j + 2].str));
         });
  }
}

Result<std::vector<core::NodeStatus>> RedisBroker::nodes() {
  auto r = call_eval(0, scripts::nodes, {options_.prefix + ":nodes"},
                     {std::to_string(options_.node_timeout.count()), options_.prefix});
  if (!r) return r.error();
  std::vector<core::NodeStatus> out;
  for (std::size_t i = 0; i + 2 < r->elements.size(); i += 3)
    out.push_back(core::NodeStatus{r->elements[i].str, to_i64(r->elements[i + 1].str), r->elements[i + 2].str});
  return out;
}

Result<std::vector<core::NodeAnswer>> RedisBroker::ask(core::ClusterQuestion question, std::string_view argument,
                                                       std::size_t* expected) {
  auto live = nodes();
  if (!live) return live.error();
  auto gather = std::make_shared<QuestionAnswers>();
  gather->expected = live->size();
  if (expected) *expected = live->size();
  auto future = gather->done.get_future();
  const std::string id = random_hex(8);
  std::string payload = kind_question + id + "\n" + options_.node_id + "\n" + std::string(core::wire_name(question)) + "\n" +
                        std::string(argument);
  asio::post(io_, [this, id, gather, payload = std::move(payload)]() mutable {
    if (stopping_) return gather->finish();
    open_questions_[id] = gather;
    gather->timer = std::make_unique<asio::steady_timer>(io_, options_.timeout);
    gather->timer->async_wait([this, id](boost::system::error_code ec) {
      if (ec) return;
      if (auto it = open_questions_.find(id); it != open_questions_.end()) {
        it->second->finish();
        open_questions_.erase(it);
      }
    });
    instances_[0].commands->command({"PUBLISH", options_.prefix + ".ctl", std::move(payload)},
                                    [this, id](Result<RedisValue> r) {
                                      if (r) return;
                                      if (auto it = open_questions_.find(id); it != open_questions_.end()) {
                                        it->second->finish();
                                        open_questions_.erase(it);
                                      }
                                    });
  });
  if (future.wait_for(options_.timeout * 3) != std::future_status::ready)
    return make_error(ErrorCode::timeout, "the cluster did not answer in time");
  return future.get();
}

void RedisBroker::on_control(std::string_view payload) {
  if (payload.empty()) return;
  const char kind = payload[0];
  payload.remove_prefix(1);
  if (kind == kind_question) {
    std::string_view f[4];  // id, origin, question, argument
    if (!split_fields(payload, 4, f)) return;
    const auto question = core::cluster_question_named(f[2]);
    std::string answer = !answerer_ ? std::string("{}")
                         : question ? answerer_(*question, f[3])
                                    : std::string(core::unknown_question_answer);
    std::string reply = kind_answer + std::string(f[0]) + "\n" + options_.node_id + "\n" + answer;
    instances_[0].commands->command({"PUBLISH", options_.prefix + ".ctl." + std::string(f[1]), std::move(reply)},
                                    [](Result<RedisValue>) {});
  } else if (kind == kind_answer) {
    std::string_view f[3];  // id, node, answer
    if (!split_fields(payload, 3, f)) return;
    auto it = open_questions_.find(std::string(f[0]));
    if (it == open_questions_.end()) return;  // too late
    it->second->answers.push_back(core::NodeAnswer{std::string(f[1]), std::string(f[2])});
    if (it->second->answers.size() >= it->second->expected) {
      it->second->timer->cancel();
      it->second->finish();
      open_questions_.erase(it);
    }
  }
}

void RedisBroker::close_questions() {
  for (auto& [id, question] : open_questions_) question->finish();
  open_questions_.clear();
}

}  // namespace sb::broker
