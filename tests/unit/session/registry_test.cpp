// session::ClientRegistry with clients of two workers (each an io_context, run here or on a thread
// of its own): lookups by id and by user, and actions run on the owning worker only.
#include "session/registry.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/hub.hpp"
#include "core/local_broker.hpp"
#include "core/namespaces.hpp"
#include "protocol/native/encoder.hpp"
#include "session/client.hpp"

namespace sb::session {
namespace {

Identity user(std::string name) {
  Identity identity;
  identity.user = std::move(name);
  return identity;
}

class RegistryTest : public ::testing::Test {
 protected:
  boost::asio::io_context worker_a, worker_b;
  protocol::native::NativeEncoder encoder;
  core::LocalBroker broker;
  core::Hub hub{{&worker_a, &worker_b}, encoder, broker};
  core::Namespaces namespaces;
  ClientRegistry registry;
  ClientServices services{hub, namespaces, registry};

  // A client of worker `shard`, as on_open registers it (by id, and by user when it has one).
  std::unique_ptr<Client> add(std::size_t shard, Identity identity = {}) {
    auto& io = shard == 0 ? worker_a : worker_b;
    auto client = std::make_unique<Client>(services, shard, io, identity, true, "127.0.0.1");
    registry.add(*client);
    if (!identity.user.empty()) registry.set_user(*client, identity.user);
    return client;
  }
  // Runs what was posted to `io` so far, on this thread.
  static std::size_t run(boost::asio::io_context& io) {
    io.restart();
    return io.poll();
  }
};

TEST_F(RegistryTest, FindsClientsByIdUntilTheyAreRemoved) {
  auto a = add(0);
  auto b = add(1);
  EXPECT_EQ(registry.size(), 2u);
  EXPECT_NE(a->id(), b->id());
  std::vector<std::string> reached;
  EXPECT_EQ(registry.with_client(a->id(), [&](Connected& c) { reached.push_back(c.id()); }), 1u);
  EXPECT_EQ(registry.with_client("no-such-client", [&](Connected& c) { reached.push_back(c.id()); }), 0u);
  run(worker_a);
  EXPECT_EQ(reached, std::vector<std::string>{a->id()});
  registry.remove(*a);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.with_client(a->id(), [&](Connected&) { ADD_FAILURE() << "removed"; }), 0u);
}

TEST_F(RegistryTest, AnActionRunsOnTheOwningWorkerOnly) {
  auto b = add(1);
  int runs = 0;
  registry.with_client(b->id(), [&](Connected& c) {
    ++runs;
    EXPECT_EQ(&c, b.get());
  });
  EXPECT_EQ(run(worker_a), 0u);  // not posted to the other worker
  EXPECT_EQ(runs, 0);           // nor run in the caller
  EXPECT_EQ(run(worker_b), 1u);
  EXPECT_EQ(runs, 1);
}

TEST_F(RegistryTest, ADisconnectRunsOnTheThreadThatRunsTheClientsWorker) {
  auto b = add(1);
  auto guard = boost::asio::make_work_guard(worker_b);
  std::thread thread([&] { worker_b.run(); });
  std::promise<std::thread::id> ran_on;
  registry.with_client(b->id(), [&](Connected& c) {
    c.disconnect(4000, "bye");  // no connection: nothing to close, but it must be safe here
    ran_on.set_value(std::this_thread::get_id());
  });
  EXPECT_EQ(ran_on.get_future().get(), thread.get_id());
  guard.reset();
  thread.join();
}

TEST_F(RegistryTest, AClientRemovedBeforeThePostRunsIsNotReached) {
  auto a = add(0);
  EXPECT_EQ(registry.with_client(a->id(), [&](Connected&) { ADD_FAILURE() << "reached after removal"; }), 1u);
  registry.remove(*a);  // on its own thread, before the posted action runs
  a.reset();
  run(worker_a);
}

TEST_F(RegistryTest, FindsEveryConnectionOfAUserOnEveryWorker) {
  auto a = add(0, user("ann"));
  auto b = add(1, user("ann"));
  auto c = add(1, user("bob"));
  std::vector<std::string> reached;
  EXPECT_EQ(registry.with_user("ann", [&](Connected& client) { reached.push_back(client.id()); }), 2u);
  EXPECT_EQ(registry.with_user("nobody", [&](Connected&) {}), 0u);
  run(worker_a);
  run(worker_b);
  std::sort(reached.begin(), reached.end());
  std::vector<std::string> expected{a->id(), b->id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(reached, expected);
  // Removing a connection removes it from its user; the last one removes the user.
  registry.remove(*a);
  EXPECT_EQ(registry.with_user("ann", [](Connected&) {}), 1u);
  registry.remove(*b);
  EXPECT_EQ(registry.with_user("ann", [](Connected&) {}), 0u);
  run(worker_a);
  run(worker_b);
}

TEST_F(RegistryTest, ANewUserReplacesTheOldOne) {
  // An anonymous client's `connect` naming another user: the registry moves it before the
  // client adopts the new name.
  auto a = add(0, user("ann"));
  registry.set_user(*a, "bob");
  EXPECT_EQ(registry.with_user("ann", [](Connected&) {}), 0u);
  EXPECT_EQ(registry.with_user("bob", [](Connected&) {}), 1u);
  run(worker_a);
}

}  // namespace
}  // namespace sb::session
