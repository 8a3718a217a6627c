// session::Client over a real loopback connection: the frames a client sends, the frames it gets
// back, and what reaches the hub and the other clients.
#include "session/client.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "session_fixture.hpp"

namespace sb::session::test {
namespace {

namespace json = boost::json;

using ClientTest = SessionFixture;

// The error frame's code and message, checked together: the code is the contract, the message
// says which rule refused.
void expect_error(const json::object& frame, std::string_view id, std::string_view code,
                  std::string_view message_part) {
  EXPECT_EQ(frame.at("type"), "error") << json::serialize(frame);
  if (!id.empty()) {
    EXPECT_EQ(json::serialize(frame.at("id")), id);
  }
  EXPECT_EQ(frame.at("code"), json::string_view(code.data(), code.size())) << json::serialize(frame);
  const auto message = frame.contains("message") ? std::string(frame.at("message").as_string()) : std::string{};
  EXPECT_NE(message.find(message_part), std::string::npos) << message;
}

std::uint64_t offset_of(const json::object& frame) { return frame.at("offset").to_number<std::uint64_t>(); }

TEST_F(ClientTest, GreetsWithItsIdAndIsFoundInTheRegistryUntilItCloses) {
  std::string id;
  {
    auto peer = connect_anonymous();
    ASSERT_TRUE(hello.contains("client"));
    id = std::string(hello.at("client").as_string());
    EXPECT_EQ(id.size(), 15u);
    EXPECT_EQ(hello.at("version"), 1);
    EXPECT_EQ(hello.at("ping_interval"), 25);
    EXPECT_FALSE(hello.contains("user"));  // anonymous, not connected yet
    EXPECT_EQ(registry.size(), 1u);
  }
  ASSERT_TRUE(eventually([&] { return all_closed(); }));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.with_client(id, [](Connected&) { ADD_FAILURE() << "a closed client was reached"; }), 0u);
}

TEST_F(ClientTest, SubscribesPublishesAndGetsItsOwnMessage) {
  auto peer = connect_anonymous();
  auto subscribed = ask(*peer, R"({"type":"subscribe","id":1,"channel":"chat"})");
  EXPECT_EQ(subscribed["type"], "subscribed");
  EXPECT_EQ(subscribed["id"], 1);
  EXPECT_EQ(subscribed["channel"], "chat");
  EXPECT_EQ(subscribed["offset"], 0);
  ASSERT_TRUE(subscribed["epoch"].is_string());
  EXPECT_FALSE(subscribed.contains("recovered"));  // no `since`

  peer->send_text(R"({"type":"publish","id":"p1","channel":"chat","data":{"text":"hi"}})");
  json::object published, message;
  for (int i = 0; i < 2; ++i) {
    auto frame = next(*peer);
    (frame["type"] == "published" ? published : message) = frame;
  }
  EXPECT_EQ(published["id"], "p1");
  EXPECT_EQ(published["channel"], "chat");
  EXPECT_EQ(published["offset"], 1);
  EXPECT_EQ(published["epoch"], subscribed["epoch"]);
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["channel"], "chat");
  EXPECT_EQ(message["offset"], 1);
  EXPECT_EQ(json::serialize(message["data"]), R"({"text":"hi"})");
}

TEST_F(ClientTest, APublishWithoutIdIsDeliveredButNotAnswered) {
  auto publisher = connect_anonymous();
  auto subscriber = connect_anonymous();
  ASSERT_EQ(ask(*subscriber, R"({"type":"subscribe","id":1,"channel":"chat"})")["type"], "subscribed");
  publisher->send_text(R"({"type":"publish","channel":"chat","data":[1,2]})");
  auto message = next(*subscriber);
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(json::serialize(message["data"]), "[1,2]");
  expect_nothing_before_pong(*publisher);
}

TEST_F(ClientTest, SubscribeRefusesBadNamesUnknownNamespacesAndTooManyChannels) {
  services->max_subscriptions = 2;
  auto peer = connect_anonymous();
  expect_error(ask(*peer, R"({"type":"subscribe","id":1,"channel":"a b"})"), "1", "UNKNOWN_CHANNEL",
               "channel name may only hold");
  expect_error(ask(*peer, R"({"type":"subscribe","id":2,"channel":""})"), "2", "UNKNOWN_CHANNEL",
               "channel name is empty");
  expect_error(ask(*peer, R"({"type":"subscribe","id":3,"channel":"nowhere:x"})"), "3", "UNKNOWN_CHANNEL",
               "namespace 'nowhere' is not configured");
  EXPECT_EQ(ask(*peer, R"({"type":"subscribe","id":4,"channel":"one"})")["type"], "subscribed");
  EXPECT_EQ(ask(*peer, R"({"type":"subscribe","id":5,"channel":"two"})")["type"], "subscribed");
  expect_error(ask(*peer, R"({"type":"subscribe","id":6,"channel":"three"})"), "6", "PERMISSION_DENIED",
               "max_subscriptions");
  // A channel it already has is not one more.
  EXPECT_EQ(ask(*peer, R"({"type":"subscribe","id":7,"channel":"two"})")["type"], "subscribed");
  EXPECT_EQ(hub->counters().subscriptions, 2u);
}

TEST_F(ClientTest, AProtectedNamespaceNeedsTheTokensChannelsClaim) {
  UpgradeGate gate(*services, origins, AnonymousAccess::loopback);
  auto request = upgrade_request("/ws?token=" + token_for("ann", R"(,"channels":["team:red"])"));
  auto client = gate.open(request, 0, worker->context());
  ASSERT_TRUE(client.ok());
  auto peer = connect(std::move(*client));
  EXPECT_EQ(hello["user"], "ann");
  EXPECT_EQ(ask(*peer, R"({"type":"subscribe","id":1,"channel":"team:red"})")["type"], "subscribed");
  expect_error(ask(*peer, R"({"type":"subscribe","id":2,"channel":"team:blue"})"), "2", "PERMISSION_DENIED", "");
  // Reading history or presence is reading the channel: the same rule.
  expect_error(ask(*peer, R"({"type":"history","id":3,"channel":"team:blue"})"), "3", "PERMISSION_DENIED", "");
}

TEST_F(ClientTest, UnsubscribeStopsDeliveryAndRefusesAChannelItDoesNotHave) {
  auto peer = connect_anonymous();
  expect_error(ask(*peer, R"({"type":"unsubscribe","id":1,"channel":"chat"})"), "1", "UNKNOWN_CHANNEL",
               "not subscribed to 'chat'");
  ASSERT_EQ(ask(*peer, R"({"type":"subscribe","id":2,"channel":"chat"})")["type"], "subscribed");
  auto unsubscribed = ask(*peer, R"({"type":"unsubscribe","id":3,"channel":"chat"})");
  EXPECT_EQ(unsubscribed["type"], "unsubscribed");
  EXPECT_EQ(unsubscribed["id"], 3);
  EXPECT_EQ(unsubscribed["channel"], "chat");
  EXPECT_EQ(hub->counters().subscriptions, 0u);
  publish("chat", R"("after")");
  expect_nothing_before_pong(*peer);
}

TEST_F(ClientTest, PublishIsRefusedWhereClientsMayNotPublishAndOnBadNames) {
  auto peer = connect_anonymous();
  expect_error(ask(*peer, R"({"type":"publish","id":1,"channel":"news:today","data":1})"), "1",
               "PERMISSION_DENIED", "");
  expect_error(ask(*peer, R"({"type":"publish","id":2,"channel":"nowhere:x","data":1})"), "2", "UNKNOWN_CHANNEL",
               "not configured");
  expect_error(ask(*peer, R"({"type":"publish","id":3,"channel":"chat"})"), "3", "INVALID_MESSAGE",
               "missing field 'data'");
  EXPECT_EQ(hub->counters().publications, 0u);
}

TEST_F(ClientTest, HistoryPagesWhatTheChannelKept) {
  auto peer = connect_anonymous();
  for (int i = 1; i <= 3; ++i) publish("hist:a", std::to_string(i * 10));
  auto page = ask(*peer, R"({"type":"history","id":"h","channel":"hist:a","limit":2})");
  EXPECT_EQ(page["type"], "history") << json::serialize(page);
  EXPECT_EQ(page["id"], "h");
  EXPECT_EQ(page["channel"], "hist:a");
  EXPECT_EQ(page["offset"], 3);
  EXPECT_EQ(page["first_offset"], 1);
  EXPECT_EQ(json::serialize(page["messages"].at(0).at("data")), "10");
  EXPECT_EQ(json::serialize(page["messages"].at(1).at("data")), "20");
  EXPECT_EQ(page["messages"].as_array().size(), 2u);
  EXPECT_EQ(page["next"], 2);
  auto rest = ask(*peer, R"({"type":"history","id":"h2","channel":"hist:a","since":2})");
  ASSERT_EQ(rest["messages"].as_array().size(), 1u);
  EXPECT_EQ(rest["messages"].at(0).at("offset"), 3);
  EXPECT_FALSE(rest.contains("next"));

  expect_error(ask(*peer, R"({"type":"history","id":4,"channel":"hist:a","since":9007199254740992})"), "4",
               "INVALID_MESSAGE", "at most 9007199254740991");
  expect_error(ask(*peer, R"({"type":"history","id":5,"channel":"nowhere:a"})"), "5", "UNKNOWN_CHANNEL", "");
}

TEST_F(ClientTest, ASubscribeWithSinceGetsWhatItMissedThenLiveMessagesOnce) {
  const auto first = publish("hist:b", R"("one")");
  publish("hist:b", R"("two")");
  publish("hist:b", R"("three")");
  auto peer = connect_anonymous();
  peer->send_text(R"({"type":"subscribe","id":1,"channel":"hist:b","since":{"offset":1,"epoch":")" + first.epoch +
                  R"("}})");
  auto subscribed = next(*peer);
  EXPECT_EQ(subscribed["type"], "subscribed");
  EXPECT_EQ(subscribed["recovered"], true);
  EXPECT_EQ(subscribed["offset"], 3);
  auto two = next(*peer);
  auto three = next(*peer);
  EXPECT_EQ(two["type"], "message");
  EXPECT_EQ(offset_of(two), 2u);
  EXPECT_EQ(two["data"], "two");
  EXPECT_EQ(offset_of(three), 3u);
  publish("hist:b", R"("four")");
  auto four = next(*peer);
  EXPECT_EQ(offset_of(four), 4u);
  EXPECT_EQ(four["data"], "four");
  expect_nothing_before_pong(*peer);
}

TEST_F(ClientTest, ASubscribeFromAnotherEpochIsNotRecovered) {
  publish("hist:c", R"("one")");
  auto peer = connect_anonymous();
  auto subscribed = ask(*peer, R"({"type":"subscribe","id":1,"channel":"hist:c","since":{"offset":0,"epoch":"x"}})");
  EXPECT_EQ(subscribed["type"], "subscribed");
  EXPECT_EQ(subscribed["recovered"], false);
  EXPECT_EQ(subscribed["offset"], 1);
  expect_nothing_before_pong(*peer);  // nothing replayed
}

TEST_F(ClientTest, PresenceListsMembersAndJoinAndLeaveReachTheOthers) {
  auto ann = connect_anonymous();
  auto bob = connect_anonymous();
  ASSERT_EQ(ask(*ann, R"({"type":"connect","id":0,"user":"ann"})")["user"], "ann");
  ASSERT_EQ(ask(*bob, R"({"type":"connect","id":0,"user":"bob","info":{"color":"red"}})")["user"], "bob");
  ASSERT_EQ(ask(*ann, R"({"type":"subscribe","id":1,"channel":"room:1"})")["type"], "subscribed");
  ASSERT_EQ(ask(*bob, R"({"type":"subscribe","id":1,"channel":"room:1"})")["type"], "subscribed");
  auto join = next(*ann);
  EXPECT_EQ(join["type"], "join");
  EXPECT_EQ(join["channel"], "room:1");
  EXPECT_EQ(join["user"], "bob");
  EXPECT_EQ(json::serialize(join["info"]), R"({"color":"red"})");

  auto presence = ask(*ann, R"({"type":"presence","id":2,"channel":"room:1"})");
  EXPECT_EQ(presence["type"], "presence");
  std::set<std::string> users;
  for (const auto& m : presence["members"].as_array()) users.insert(std::string(m.at("user").as_string()));
  EXPECT_EQ(users, (std::set<std::string>{"ann", "bob"}));
  auto stats = ask(*ann, R"({"type":"presence_stats","id":3,"channel":"room:1"})");
  EXPECT_EQ(stats["type"], "presence_stats");
  EXPECT_EQ(stats["clients"], 2);
  EXPECT_EQ(stats["users"], 2);

  ASSERT_EQ(ask(*bob, R"({"type":"unsubscribe","id":4,"channel":"room:1"})")["type"], "unsubscribed");
  auto leave = next(*ann);
  EXPECT_EQ(leave["type"], "leave");
  EXPECT_EQ(leave["user"], "bob");
  EXPECT_EQ(ask(*ann, R"({"type":"presence_stats","id":5,"channel":"room:1"})")["clients"], 1);
}

TEST_F(ClientTest, PresenceIsRefusedWhereItIsOffOrTheChannelIsUnknown) {
  auto peer = connect_anonymous();
  expect_error(ask(*peer, R"({"type":"presence","id":1,"channel":"chat"})"), "1", "PERMISSION_DENIED",
               "presence is off in this namespace");
  expect_error(ask(*peer, R"({"type":"presence_stats","id":2,"channel":"nowhere:x"})"), "2", "UNKNOWN_CHANNEL",
               "");
}

TEST_F(ClientTest, EventsAndTypingNeedASubscriptionAndReachTheOthersOnly) {
  auto ann = connect_anonymous();
  const json::value ann_id = hello["client"];
  auto bob = connect_anonymous();
  expect_error(ask(*ann, R"({"type":"event","id":1,"channel":"chat","event":"poke"})"), "1", "PERMISSION_DENIED",
               "subscribe to the channel first");
  ASSERT_EQ(ask(*ann, R"({"type":"subscribe","id":2,"channel":"chat"})")["type"], "subscribed");
  ASSERT_EQ(ask(*bob, R"({"type":"subscribe","id":2,"channel":"chat"})")["type"], "subscribed");
  auto relayed = ask(*ann, R"({"type":"event","id":3,"channel":"chat","event":"poke","data":{"n":1}})");
  EXPECT_EQ(relayed["type"], "relayed");
  EXPECT_EQ(relayed["id"], 3);
  auto event = next(*bob);
  EXPECT_EQ(event["type"], "event");
  EXPECT_EQ(event["event"], "poke");
  EXPECT_EQ(json::serialize(event["data"]), R"({"n":1})");
  EXPECT_EQ(event["client"], ann_id);
  ask(*ann, R"({"type":"typing","id":4,"channel":"chat","typing":true})");
  auto typing = next(*bob);
  EXPECT_EQ(typing["type"], "typing");
  EXPECT_EQ(typing["typing"], true);
  expect_nothing_before_pong(*ann);  // the sender gets neither back
}

TEST_F(ClientTest, WithoutAnonymousAccessOnlyConnectAndPingAreAnsweredAndConnectNeedsAToken) {
  UpgradeGate gate(*services, origins, AnonymousAccess::never);
  auto client = gate.open(upgrade_request(), 0, worker->context());
  ASSERT_TRUE(client.ok());
  auto peer = connect(std::move(*client));
  expect_error(ask(*peer, R"({"type":"subscribe","id":1,"channel":"chat"})"), "1", "AUTH_FAILED",
               "send connect with a token first");
  expect_nothing_before_pong(*peer);
  expect_error(ask(*peer, R"({"type":"connect","id":2})"), "2", "AUTH_FAILED", "a token is required");
  EXPECT_EQ(peer->read_until_close(), transport::close_code::auth_failed);
}

TEST_F(ClientTest, AConnectWithAGoodTokenLetsTheClientActAsItsUser) {
  UpgradeGate gate(*services, origins, AnonymousAccess::never);
  auto client = gate.open(upgrade_request(), 0, worker->context());
  ASSERT_TRUE(client.ok());
  auto peer = connect(std::move(*client));
  auto connected = ask(*peer, R"({"type":"connect","id":1,"token":")" + token_for("carol") + R"("})");
  EXPECT_EQ(connected["type"], "connected");
  EXPECT_EQ(connected["user"], "carol");
  EXPECT_EQ(ask(*peer, R"({"type":"subscribe","id":2,"channel":"chat"})")["type"], "subscribed");
  std::size_t found = registry.with_user("carol", [](Connected&) {});
  EXPECT_EQ(found, 1u);
}

TEST_F(ClientTest, ABadTokenInConnectClosesTheConnection) {
  auto peer = connect_anonymous();
  expect_error(ask(*peer, R"({"type":"connect","id":1,"token":"not.a.token"})"), "1", "AUTH_FAILED", "");
  EXPECT_EQ(peer->read_until_close(), transport::close_code::auth_failed);
}

TEST_F(ClientTest, StreamsRunningOnAChannelAreCaughtUpOnSubscribe) {
  auto started = streams->start("chat", R"({"model":"m"})");
  ASSERT_TRUE(started.ok());
  const std::string stream = *started;
  ASSERT_TRUE(streams->append(stream, "Hel").ok());
  auto peer = connect_anonymous();
  ASSERT_EQ(ask(*peer, R"({"type":"subscribe","id":1,"channel":"chat"})")["type"], "subscribed");
  auto start = next(*peer);
  EXPECT_EQ(start["type"], "stream_start");
  EXPECT_EQ(start["stream"], json::string_view(stream));
  EXPECT_EQ(json::serialize(start["meta"]), R"({"model":"m"})");
  auto so_far = next(*peer);
  EXPECT_EQ(so_far["type"], "stream_delta");
  EXPECT_EQ(so_far["seq"], 1);
  EXPECT_EQ(so_far["delta"], "Hel");
  ASSERT_TRUE(streams->append(stream, "lo").ok());
  auto delta = next(*peer);
  EXPECT_EQ(delta["seq"], 2);
  EXPECT_EQ(delta["delta"], "lo");

  expect_error(ask(*peer, R"({"type":"stream_cancel","id":2,"stream":"nope"})"), "2", "NOT_FOUND", "no running stream");
  // The answer comes at once; the end and the finished text reach every subscriber after it.
  auto cancelled = ask(*peer, R"({"type":"stream_cancel","id":3,"stream":")" + stream + R"("})");
  EXPECT_EQ(cancelled["type"], "stream_cancelled");
  EXPECT_EQ(cancelled["stream"], json::string_view(stream));
  auto end = next(*peer);
  EXPECT_EQ(end["type"], "stream_end");
  EXPECT_EQ(end["seq"], 3);
  EXPECT_EQ(end["reason"], "cancelled");
  auto text = next(*peer);
  EXPECT_EQ(text["type"], "message");
  EXPECT_EQ(text["data"].at("text"), "Hello");
  EXPECT_EQ(text["data"].at("reason"), "cancelled");
}

TEST_F(ClientTest, AStreamCancelNeedsPublishRightsOnItsChannel) {
  auto started = streams->start("news:today", {});
  ASSERT_TRUE(started.ok());
  auto peer = connect_anonymous();
  ASSERT_EQ(ask(*peer, R"({"type":"subscribe","id":1,"channel":"news:today"})")["type"], "subscribed");
  ASSERT_EQ(next(*peer)["type"], "stream_start");
  expect_error(ask(*peer, R"({"type":"stream_cancel","id":2,"stream":")" + *started + R"("})"), "2",
               "PERMISSION_DENIED", "");
  EXPECT_EQ(streams->channel_of(*started), "news:today");  // still running
}

TEST_F(ClientTest, TheRegistryRunsADisconnectOnTheClientsOwnThread) {
  auto peer = connect_anonymous();
  const std::string id(hello.at("client").as_string());
  std::promise<std::thread::id> ran_on;
  std::size_t found = registry.with_client(id, [&](Connected& c) {
    ran_on.set_value(std::this_thread::get_id());
    c.disconnect(transport::close_code::disconnected, "bye");
  });
  EXPECT_EQ(found, 1u);
  EXPECT_EQ(peer->read_until_close(), transport::close_code::disconnected);
  EXPECT_EQ(ran_on.get_future().get(), worker_thread_id());
}

class RateLimitedClientTest : public SessionFixture {
 protected:
  RateLimitedClientTest() : SessionFixture(SessionSettings{100, 100, RateLimits{0.001, 3, 0, 0}}) {}
};

TEST_F(RateLimitedClientTest, RequestsBeyondTheBurstAreRefusedWithWhenToRetry) {
  auto peer = connect_anonymous();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask(*peer, R"({"type":"ping","id":1})")["type"], "pong");
  auto refused = ask(*peer, R"({"type":"ping","id":2})");
  expect_error(refused, "2", "RATE_LIMIT", "too many requests");
  EXPECT_GT(refused["retry_after"].to_number<std::int64_t>(), 0);
  EXPECT_EQ(admission.rate_limited(), 1u);
}

}  // namespace
}  // namespace sb::session::test
