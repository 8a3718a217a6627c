#include "session/client.hpp"

#include <algorithm>

#include "common/random.hpp"
#include "core/channel_name.hpp"
#include "session/registry.hpp"

namespace sb::session {

namespace native = protocol::native;
using native::CommandType;

Client::Client(SessionContext& context, std::size_t shard, boost::asio::io_context& io)
    : context_(context), io_(io), shard_(shard), id_(random_hex(8)) {}

Client::~Client() = default;

void Client::on_open(transport::WsConnection& connection) {
  connection_ = &connection;
  context_.registry.add(*this);
  send_frame(native::encode_connected(id_, {}, user_, context_.ping_interval_seconds));
}

void Client::on_message(std::string_view payload) {
  std::string id;
  auto command = native::decode(payload, id);
  if (!command) return send_error(id, command.error());
  handle(*command);
}

void Client::handle(native::Command& command) {
  switch (command.type) {
    case CommandType::connect: return on_connect(command);
    case CommandType::subscribe: return on_subscribe(command);
    case CommandType::unsubscribe: return on_unsubscribe(command);
    case CommandType::publish: return on_publish(command);
    case CommandType::ping: return send_frame(native::encode_pong(command.id));
  }
}

void Client::on_connect(native::Command& command) {
  if (!command.user.empty() && command.user != user_) {
    context_.registry.set_user(*this, command.user);
    user_ = std::move(command.user);
  }
  info_ = std::move(command.info);
  send_frame(native::encode_connected(id_, command.id, user_, context_.ping_interval_seconds));
}

void Client::on_subscribe(const native::Command& command) {
  if (auto valid = core::validate_channel_name(command.channel); !valid) return send_error(command.id, valid.error());
  if (auto ns = context_.namespaces.find(command.channel); !ns) return send_error(command.id, ns.error());
  const bool known = std::find(channels_.begin(), channels_.end(), command.channel) != channels_.end();
  if (!known && channels_.size() >= context_.max_subscriptions)
    return send_error(command.id, make_error(ErrorCode::permission_denied,
                                             "too many subscriptions on this connection (max_subscriptions)"));
  bool added = false;
  core::StreamPosition position = context_.hub.subscribe(shard_, command.channel, *this, added);
  if (added) channels_.push_back(command.channel);
  send_frame(native::encode_subscribed(command.id, command.channel, position));
}

void Client::on_unsubscribe(const native::Command& command) {
  auto it = std::find(channels_.begin(), channels_.end(), command.channel);
  if (it == channels_.end())
    return send_error(command.id, make_error(ErrorCode::unknown_channel, "not subscribed to '" + command.channel + "'"));
  context_.hub.unsubscribe(shard_, command.channel, *this);
  channels_.erase(it);
  send_frame(native::encode_unsubscribed(command.id, command.channel));
}

void Client::on_publish(const native::Command& command) {
  if (auto valid = core::validate_channel_name(command.channel); !valid) return send_error(command.id, valid.error());
  auto ns = context_.namespaces.find(command.channel);
  if (!ns) return send_error(command.id, ns.error());
  if (!(*ns)->client_publish)
    return send_error(command.id, make_error(ErrorCode::permission_denied,
                                             "clients may not publish in this namespace (client_publish = false)"));
  core::StreamPosition position = context_.hub.publish(command.channel, command.data);
  // Publishing without an id is fire-and-forget: no reply, the cheapest path for a client.
  if (!command.id.empty()) send_frame(native::encode_published(command.id, command.channel, position));
}

void Client::on_close() {
  for (const auto& channel : channels_) context_.hub.unsubscribe(shard_, channel, *this);
  channels_.clear();
  context_.registry.remove(*this);
  connection_ = nullptr;
}

void Client::deliver(const SharedBytes& frame) {
  if (connection_) connection_->send(frame);
}

void Client::disconnect(std::uint16_t code, std::string_view reason) {
  if (connection_) connection_->close(code, reason);
}

void Client::send_frame(std::string frame) {
  if (connection_) connection_->send(make_shared_bytes(std::move(frame)));
}

void Client::send_error(std::string_view id, const Error& error) { send_frame(native::encode_error(id, error)); }

}  // namespace sb::session
