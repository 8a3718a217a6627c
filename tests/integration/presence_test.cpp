// Presence, join and leave, typing indicators and client events, over real sockets.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/ws_client.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

void rooms(server::Config& c) {
  core::NamespaceOptions room{"room", true};
  room.presence = true;
  room.join_leave = true;
  c.namespaces.push_back(room);
  c.typing_timeout = std::chrono::seconds(1);
  c.limits.ping_interval = std::chrono::seconds(1);
  c.limits.ping_timeout = std::chrono::seconds(1);
}

std::unique_ptr<WsClient> connect_as(std::uint16_t port, const std::string& user, const std::string& name) {
  auto c = WsClient::connect("127.0.0.1", port);
  auto r = c->request(json::object{{"type", "connect"}, {"user", user}, {"info", json::object{{"name", name}}}});
  EXPECT_TRUE(r);
  return c;
}

json::array members(WsClient& c, const std::string& channel) {
  auto r = c.request(json::object{{"type", "presence"}, {"channel", channel}});
  EXPECT_TRUE(r);
  return r ? r->at("members").as_array() : json::array{};
}

TEST(Presence, MembersJoinAndLeaveAndEveryoneIsTold) {
  TestServer server(rooms);
  auto ann = connect_as(server.port(), "ann", "Ann");
  auto bob = connect_as(server.port(), "bob", "Bob");
  ann->subscribe("room:1");
  bob->subscribe("room:1");
  auto join = ann->receive_type("join");
  ASSERT_TRUE(join);
  EXPECT_EQ(join->at("channel"), "room:1");
  EXPECT_EQ(join->at("user"), "bob");
  EXPECT_EQ(join->at("info").at("name"), "Bob");
  EXPECT_EQ(join->at("client").as_string(), bob->client_id());

  auto list = members(*ann, "room:1");
  ASSERT_EQ(list.size(), 2u);
  std::set<std::string> users;
  for (auto& m : list) users.insert(std::string(m.at("user").as_string()));
  EXPECT_EQ(users, (std::set<std::string>{"ann", "bob"}));
  auto stats = ann->request(json::object{{"type", "presence_stats"}, {"channel", "room:1"}});
  EXPECT_EQ(stats->at("clients"), 2);
  EXPECT_EQ(stats->at("users"), 2);
  auto http = json::parse(http_request("127.0.0.1", server.port(), "GET", "/api/presence?channel=room:1").body);
  EXPECT_EQ(http.at("members").as_array().size(), 2u);
  auto http_stats =
      json::parse(http_request("127.0.0.1", server.port(), "GET", "/api/presence_stats?channel=room:1").body);
  EXPECT_EQ(http_stats.at("users"), 2);

  ASSERT_TRUE(bob->request(json::object{{"type", "unsubscribe"}, {"channel", "room:1"}}));
  auto leave = ann->receive_type("leave");
  ASSERT_TRUE(leave);
  EXPECT_EQ(leave->at("user"), "bob");
  EXPECT_EQ(members(*ann, "room:1").size(), 1u);
}

TEST(Presence, AClientThatVanishesLeavesWithinThePingTimeout) {
  TestServer server(rooms);
  auto ann = connect_as(server.port(), "ann", "Ann");
  ann->subscribe("room:2");
  {
    RawWs ghost(server.port());
    ghost.upgrade();
    ghost.send_text(R"({"type":"connect","user":"ghost"})");
    ghost.send_text(R"({"type":"subscribe","id":1,"channel":"room:2"})");
    auto join = ann->receive_type("join");
    ASSERT_TRUE(join);
    EXPECT_EQ(join->at("user"), "ghost");
    // The ghost never answers pings and never closes: the socket just goes silent.
    auto leave = ann->receive_type("leave", std::chrono::seconds(6));
    ASSERT_TRUE(leave);
    EXPECT_EQ(leave->at("user"), "ghost");
  }
  EXPECT_EQ(members(*ann, "room:2").size(), 1u);
}

TEST(Presence, IsRefusedWhereTheNamespaceHasItOff) {
  TestServer server(rooms);
  auto c = WsClient::connect("127.0.0.1", server.port());
  auto r = c->request(json::object{{"type", "presence"}, {"channel", "lobby"}});
  EXPECT_EQ(r->at("code"), "PERMISSION_DENIED");
  EXPECT_EQ(http_request("127.0.0.1", server.port(), "GET", "/api/presence?channel=lobby").status, 403);
}

TEST(Typing, IsRelayedToOthersAndEndsByItselfWithoutRenewal) {
  TestServer server(rooms);
  auto ann = connect_as(server.port(), "ann", "Ann");
  auto bob = connect_as(server.port(), "bob", "Bob");
  ann->subscribe("room:t");
  bob->subscribe("room:t");
  auto ack = ann->request(json::object{{"type", "typing"}, {"channel", "room:t"}, {"typing", true}});
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->at("type"), "relayed");
  auto start = bob->receive_type("typing");
  ASSERT_TRUE(start);
  EXPECT_EQ(start->at("user"), "ann");
  EXPECT_EQ(start->at("typing"), true);
  // No renewal: the server ends it after typing_timeout (1 s here).
  auto stop = bob->receive_type("typing", std::chrono::seconds(4));
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->at("typing"), false);
  // The sender never gets its own indicator back.
  ASSERT_TRUE(ann->request(json::object{{"type", "ping"}}));
  while (auto f = ann->receive(std::chrono::milliseconds(0))) EXPECT_NE(f->at("type"), "typing");
}

TEST(Typing, EndsWhenTheTypistGoesAway) {
  TestServer server(rooms);
  auto bob = connect_as(server.port(), "bob", "Bob");
  bob->subscribe("room:g");
  {
    auto ann = connect_as(server.port(), "ann", "Ann");
    ann->subscribe("room:g");
    ann->send_json(json::object{{"type", "typing"}, {"channel", "room:g"}, {"typing", true}});
    auto start = bob->receive_type("typing");
    ASSERT_TRUE(start);
  }
  auto stop = bob->receive_type("typing");
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->at("typing"), false);
  EXPECT_EQ(stop->at("user"), "ann");
}

TEST(Events, AreRelayedToTheOtherSubscribersAndNeverStored) {
  TestServer server([](server::Config& c) {
    rooms(c);
    c.namespaces[0].history.size = 100;
  });
  auto ann = connect_as(server.port(), "ann", "Ann");
  auto bob = connect_as(server.port(), "bob", "Bob");
  ann->subscribe("room:e");
  bob->subscribe("room:e");
  auto ack = ann->request(
      json::object{{"type", "event"}, {"channel", "room:e"}, {"event", "reaction"}, {"data", json::object{{"emoji", "+1"}}}});
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->at("type"), "relayed");
  auto e = bob->receive_type("event");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->at("event"), "reaction");
  EXPECT_EQ(e->at("data").at("emoji"), "+1");
  EXPECT_EQ(e->at("user"), "ann");
  EXPECT_FALSE(e->contains("offset"));
  auto history = json::parse(http_request("127.0.0.1", server.port(), "GET", "/api/history?channel=room:e").body);
  EXPECT_TRUE(history.at("messages").as_array().empty());
  EXPECT_EQ(history.at("offset"), 0);
  // Not subscribed: refused.
  auto outsider = WsClient::connect("127.0.0.1", server.port());
  auto refused = outsider->request(json::object{{"type", "event"}, {"channel", "room:e"}, {"event", "x"}});
  EXPECT_EQ(refused->at("code"), "PERMISSION_DENIED");
}

}  // namespace
}  // namespace sb::test
