// POST /api/publish and POST /api/broadcast: a message into one channel, or the same bytes into
// several. The reply waits for each publication's completion (after the history write, or the
// Redis round trip in a cluster). POST /api/event: an ephemeral event, relayed like a client's.
// Each may name who it is from (`from`, checked by protocol/native/identity.hpp); a publication
// may carry `tags` (docs/filters.md).
#include <boost/json/parse.hpp>

#include <mutex>

#include "api/http_api.hpp"
#include "api/json_io.hpp"
#include "protocol/native/codec.hpp"
#include "protocol/native/identity.hpp"
#include "protocol/native/tags_filters.hpp"

namespace sb::api {

namespace json = boost::json;
using transport::HttpRequest;
namespace raw = protocol::raw;

namespace {

json::object position_json(std::string_view channel, const core::StreamPosition& p) {
  return json::object{{"channel", channel}, {"offset", p.offset}, {"epoch", p.epoch}};
}

// One channel's failure inside a broadcast's results (no status, no `retryable`: the answer is 200).
json::object channel_error_json(std::string_view channel, const Error& error) {
  return json::object{{"channel", channel},
                      {"error", json::object{{"code", error_code_name(error.code)}, {"message", error.message}}}};
}

// A broadcast's answer in the making: one result per channel, filled as each publication
// completes (on whichever thread completes it); the last one to complete sends the answer.
struct BroadcastResults {
  std::mutex mutex;
  json::array results;
  std::size_t pending = 0;
  transport::HttpReply reply;
};

// The body's optional `from` in the server's form: empty without one.
Result<std::string> from_of(const protocol::JsonObject& body) {
  auto from = body.find("from");
  if (!from) return std::string();
  return protocol::native::check_from(*from);
}

// The body's optional `tags` in core's encoding: empty without them.
Result<std::string> tags_of(const protocol::JsonObject& body) {
  auto tags = body.find("tags");
  if (!tags) return std::string();
  return protocol::native::parse_tags(*tags);
}

}  // namespace

void HttpApi::publish(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_raw_object(request);
  if (!body) return reply(error_response(body.error()));
  auto channel = body->find("channel");
  if (!channel || !raw::is_string(*channel)) return reply(error_response(invalid("'channel' must be a string")));
  auto data = body->find("data");
  if (!data) return reply(error_response(invalid("missing field 'data'")));
  auto from = from_of(*body);
  if (!from) return reply(error_response(from.error()));
  auto tags = tags_of(*body);
  if (!tags) return reply(error_response(tags.error()));
  std::string name = raw::string_value(*channel);
  auto ns = namespaces_.resolve(name);
  if (!ns) return reply(error_response(ns.error()));
  const auto& policy = (*ns)->history;
  hub_.publish(
      name, *data, policy, request.executor,
      [name, reply = std::move(reply)](Result<core::StreamPosition> result) {
        reply(result ? json_response(position_json(name, *result)) : error_response(result.error()));
      },
      *from, *tags);
}

void HttpApi::broadcast(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_raw_object(request);
  if (!body) return reply(error_response(body.error()));
  auto channels_text = body->find("channels");
  if (!channels_text || !raw::is_array(*channels_text))
    return reply(error_response(invalid("'channels' must be an array of strings")));
  auto data = body->find("data");
  if (!data) return reply(error_response(invalid("missing field 'data'")));
  auto from = from_of(*body);
  if (!from) return reply(error_response(from.error()));
  auto tags = tags_of(*body);
  if (!tags) return reply(error_response(tags.error()));
  // Only the list of names becomes a tree; `data` stays the bytes sent.
  json::error_code ec;
  const json::value channels = json::parse(json::string_view(channels_text->data(), channels_text->size()), ec);
  if (ec) return reply(error_response(invalid("'channels' must be an array of strings")));
  for (const auto& c : channels.get_array())
    if (!c.is_string()) return reply(error_response(invalid("'channels' must be an array of strings")));
  const auto& list = channels.get_array();
  auto results = std::make_shared<BroadcastResults>();
  results->results.resize(list.size());
  results->pending = list.size() + 1;  // +1: held until every publish is started
  results->reply = std::move(reply);
  auto complete = [results](std::size_t i, json::value v) {
    std::lock_guard lock(results->mutex);
    if (i < results->results.size()) results->results[i] = std::move(v);
    if (--results->pending == 0) results->reply(json_response(json::object{{"results", std::move(results->results)}}));
  };
  // The same bytes go into every channel.
  const std::string_view payload = *data;
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string name(list[i].get_string());
    auto ns = namespaces_.resolve(name);
    if (!ns) {
      complete(i, channel_error_json(name, ns.error()));
      continue;
    }
    const auto& policy = (*ns)->history;
    hub_.publish(
        name, payload, policy, request.executor,
        [complete, i, name](Result<core::StreamPosition> result) {
          complete(i, result ? position_json(name, *result) : channel_error_json(name, result.error()));
        },
        *from, *tags);
  }
  complete(list.size(), nullptr);
}

void HttpApi::event(const HttpRequest& request, transport::HttpReply reply) const {
  auto body = parse_raw_object(request);
  if (!body) return reply(error_response(body.error()));
  auto channel = body->find("channel");
  if (!channel || !raw::is_string(*channel)) return reply(error_response(invalid("'channel' must be a string")));
  auto event = body->find("event");
  const std::string name_of_event = event && raw::is_string(*event) ? raw::string_value(*event) : std::string();
  // The same bounds as a client's event (protocol/native/codec.cpp).
  if (name_of_event.empty() || name_of_event.size() > 64)
    return reply(error_response(invalid("'event' must be a string of 1 to 64 characters")));
  auto from = from_of(*body);
  if (!from) return reply(error_response(from.error()));
  std::string name = raw::string_value(*channel);
  auto ns = namespaces_.resolve(name);
  if (!ns) return reply(error_response(ns.error()));
  const std::string_view data = body->find("data").value_or(std::string_view());
  // Not a publication: no offset, not stored; the hub hands it to this node's subscribers and
  // the broker to the other nodes', as it does a client's event.
  hub_.relay(name, make_shared_bytes(protocol::native::encode_event(name, name_of_event, data, nullptr, *from)));
  reply(json_response(json::object{{"channel", name}}));
}

}  // namespace sb::api
