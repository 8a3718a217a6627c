// session::UpgradeGate: which upgrades become clients, the refusal (code, HTTP status, message)
// of the others, and who may act without a token.
#include "session/upgrade_gate.hpp"

#include <gtest/gtest.h>

#include "session_fixture.hpp"

namespace sb::session::test {
namespace {

using UpgradeGateTest = SessionFixture;

void expect_refused(const Result<std::unique_ptr<Client>>& opened, ErrorCode code, int status,
                    std::string_view message_part) {
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, code) << opened.error().message;
  EXPECT_EQ(error_code_http_status(opened.error().code), status);
  EXPECT_NE(opened.error().message.find(message_part), std::string::npos) << opened.error().message;
}

transport::HttpRequest with_header(transport::HttpRequest request, std::string name, std::string value) {
  for (auto& [n, v] : request.headers)
    if (transport::iequals(n, name)) {
      v = std::move(value);
      return request;
    }
  request.headers.emplace_back(std::move(name), std::move(value));
  return request;
}

TEST_F(UpgradeGateTest, AForeignOriginIsRefusedWith403BeforeAnythingIsCounted) {
  UpgradeGate gate(*services, origins, AnonymousAccess::always);
  auto request = with_header(upgrade_request(), "Origin", "https://evil.example");
  expect_refused(gate.open(request, 0, worker->context()), ErrorCode::permission_denied, 403, "origin not allowed");
  EXPECT_EQ(admission.connections(), 0u);
  EXPECT_EQ(admission.refused(), 0u);  // admission's count is of its own refusals
  // The server's own page, a listed origin, and no Origin at all (not a browser) pass.
  for (const char* origin : {"http://localhost:8080", "https://app.example.com"}) {
    auto opened = gate.open(with_header(upgrade_request(), "Origin", origin), 0, worker->context());
    EXPECT_TRUE(opened.ok()) << origin;
  }
  EXPECT_TRUE(gate.open(upgrade_request(), 0, worker->context()).ok());
  EXPECT_EQ(admission.connections(), 0u);  // each client released its place when destroyed
}

TEST_F(UpgradeGateTest, TheSameHostOriginCountsOnlyUnderAnAllowedHost) {
  UpgradeGate gate(*services, origins, AnonymousAccess::always);
  auto rebinding = with_header(with_header(upgrade_request(), "Host", "evil.test:8080"), "Origin", "http://evil.test:8080");
  expect_refused(gate.open(rebinding, 0, worker->context()), ErrorCode::permission_denied, 403, "origin");
  auto listed = with_header(with_header(upgrade_request(), "Host", "chat.example.com"), "Origin", "https://chat.example.com");
  EXPECT_TRUE(gate.open(listed, 0, worker->context()).ok());
}

TEST_F(UpgradeGateTest, AGoodTokenInTheQueryOrTheHeaderMakesAVerifiedClient) {
  UpgradeGate gate(*services, origins, AnonymousAccess::never);
  auto by_query = gate.open(upgrade_request("/ws?token=" + token_for("ann")), 0, worker->context());
  ASSERT_TRUE(by_query.ok());
  EXPECT_EQ((*by_query)->user(), "ann");
  // The scheme is case-insensitive.
  auto by_header = gate.open(with_header(upgrade_request(), "Authorization", "bearer " + token_for("bob")), 0,
                             worker->context());
  ASSERT_TRUE(by_header.ok());
  EXPECT_EQ((*by_header)->user(), "bob");
  // An empty query token falls back to the header.
  auto fallback = gate.open(with_header(upgrade_request("/ws?token="), "Authorization", "Bearer " + token_for("cy")), 0,
                            worker->context());
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ((*fallback)->user(), "cy");
  // Verified: it may act though anonymous access is off.
  EXPECT_TRUE(acts_without_token(std::move(*by_query)));
}

TEST_F(UpgradeGateTest, ABadTokenIsRefusedWith401AndTakesNoPlace) {
  UpgradeGate gate(*services, origins, AnonymousAccess::always);
  expect_refused(gate.open(upgrade_request("/ws?token=not.a.token"), 0, worker->context()), ErrorCode::auth_failed,
                 401, "");
  const std::string forged = auth::sign_hs("HS256", "another-secret-0123456789-0123456789-xyz", R"({"sub":"x"})");
  expect_refused(gate.open(with_header(upgrade_request(), "Authorization", "Bearer " + forged), 0, worker->context()),
                 ErrorCode::auth_failed, 401, "");
  const std::string expired = auth::sign_hs("HS256", jwt_secret, R"({"sub":"x","exp":1000})");
  expect_refused(gate.open(upgrade_request("/ws?token=" + expired), 0, worker->context()), ErrorCode::auth_failed, 401,
                 "");
  EXPECT_EQ(admission.connections(), 0u);
}

class NoKeyUpgradeGateTest : public SessionFixture {
 protected:
  NoKeyUpgradeGateTest() : SessionFixture(SessionSettings{.with_verifier = false}) {}
};

TEST_F(NoKeyUpgradeGateTest, WithoutAKeyEveryTokenIsRefused) {
  UpgradeGate gate(*services, origins, AnonymousAccess::always);
  expect_refused(gate.open(upgrade_request("/ws?token=" + token_for("ann")), 0, worker->context()),
                 ErrorCode::auth_failed, 401, "tokens are not accepted: no key is configured");
  EXPECT_TRUE(gate.open(upgrade_request(), 0, worker->context()).ok());  // no token: fine
}

TEST_F(UpgradeGateTest, NoTokenIsNoRefusal) {
  UpgradeGate gate(*services, origins, AnonymousAccess::never);
  auto opened = gate.open(upgrade_request(), 0, worker->context());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ((*opened)->user(), "");
  // It may only connect with a token now.
  EXPECT_FALSE(acts_without_token(std::move(*opened)));
}

TEST_F(UpgradeGateTest, LoopbackTrustNeedsAPeerOnThisMachineAndAHostARebindingPageCannotTake) {
  UpgradeGate gate(*services, origins, AnonymousAccess::loopback);
  auto open = [&](transport::HttpRequest request) {
    auto opened = gate.open(request, 0, worker->context());
    EXPECT_TRUE(opened.ok());
    return std::move(*opened);
  };
  EXPECT_TRUE(acts_without_token(open(upgrade_request())));
  EXPECT_TRUE(acts_without_token(open(with_header(upgrade_request(), "Host", "127.0.0.1:8080"))));
  EXPECT_TRUE(acts_without_token(open(with_header(upgrade_request(), "Host", "chat.example.com"))));
  EXPECT_FALSE(acts_without_token(open(with_header(upgrade_request(), "Host", "evil.test:8080"))));
  EXPECT_FALSE(acts_without_token(open(with_header(upgrade_request(), "Host", "a.localhost:8080"))));
  auto remote = upgrade_request();
  remote.remote_is_loopback = false;  // another machine, or relayed by a proxy
  remote.remote_address = "192.0.2.7";
  EXPECT_FALSE(acts_without_token(open(remote)));
}

TEST_F(UpgradeGateTest, AlwaysAndNeverDoNotLookAtTheAddress) {
  auto remote = upgrade_request();
  remote.remote_is_loopback = false;
  remote.remote_address = "192.0.2.7";
  UpgradeGate always(*services, origins, AnonymousAccess::always);
  EXPECT_TRUE(acts_without_token(std::move(*always.open(remote, 0, worker->context()))));
  UpgradeGate never(*services, origins, AnonymousAccess::never);
  EXPECT_FALSE(acts_without_token(std::move(*never.open(upgrade_request(), 0, worker->context()))));
}

class CappedUpgradeGateTest : public SessionFixture {
 protected:
  CappedUpgradeGateTest() : SessionFixture(SessionSettings{.max_connections = 3, .max_connections_per_ip = 2}) {}
};

TEST_F(CappedUpgradeGateTest, AdmissionRefusesPastEitherCapUntilAClientGoes) {
  UpgradeGate gate(*services, origins, AnonymousAccess::always);
  auto from = [](std::string address) {
    auto r = upgrade_request();
    r.remote_address = std::move(address);
    return r;
  };
  auto a1 = gate.open(from("192.0.2.1"), 0, worker->context());
  auto a2 = gate.open(from("192.0.2.1"), 0, worker->context());
  ASSERT_TRUE(a1.ok());
  ASSERT_TRUE(a2.ok());
  expect_refused(gate.open(from("192.0.2.1"), 0, worker->context()), ErrorCode::rate_limit, 429,
                 "too many connections from this address");
  auto b1 = gate.open(from("192.0.2.2"), 0, worker->context());
  ASSERT_TRUE(b1.ok());
  expect_refused(gate.open(from("192.0.2.3"), 0, worker->context()), ErrorCode::unavailable, 503,
                 "server full (max_connections)");
  EXPECT_EQ(admission.connections(), 3u);
  EXPECT_EQ(admission.refused(), 2u);
  // A client that goes gives its place back, whether or not it ever opened.
  a1->reset();
  EXPECT_EQ(admission.connections(), 2u);
  auto a3 = gate.open(from("192.0.2.1"), 0, worker->context());
  EXPECT_TRUE(a3.ok());
  // A bad token is refused before admission: it takes no place and is not counted there.
  auto bad_token = from("192.0.2.4");
  bad_token.target = "/ws?token=bad";
  expect_refused(gate.open(bad_token, 0, worker->context()), ErrorCode::auth_failed, 401, "");
  EXPECT_EQ(admission.connections(), 3u);
  EXPECT_EQ(admission.refused(), 2u);
}

}  // namespace
}  // namespace sb::session::test
