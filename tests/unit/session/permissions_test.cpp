#include "session/permissions.hpp"

#include <gtest/gtest.h>


namespace sb::session {
namespace {

const std::string secret = "unit-test-secret-0123456789-0123456789";
constexpr std::int64_t now = 1'800'000'000;

Identity verified(std::string user, std::vector<std::string> channels = {}, std::vector<std::string> publish = {}) {
  Identity id;
  id.verified = true;
  id.user = user;
  auto claims = std::make_shared<auth::Claims>();
  claims->sub = std::move(user);
  claims->channels = std::move(channels);
  claims->publish = std::move(publish);
  id.claims = claims;
  return id;
}

core::NamespaceOptions ns(core::Access access, bool client_publish = true) {
  core::NamespaceOptions o;
  o.name = "n";
  o.access = access;
  o.client_publish = client_publish;
  return o;
}

TEST(Permissions, PersonalChannelOwners) {
  EXPECT_EQ(personal_channel_owner("user#42"), "42");
  EXPECT_EQ(personal_channel_owner("chat:user#42"), "42");
  EXPECT_FALSE(personal_channel_owner("chat:room"));
  EXPECT_FALSE(personal_channel_owner("users#42"));
}

TEST(Permissions, SubscribeRules) {
  const auth::JwtVerifier verifier({auth::key_from_secret(secret)}, std::chrono::seconds(0));
  Identity anonymous;
  anonymous.user = "42";  // claimed, not verified
  EXPECT_TRUE(check_subscribe(ns(core::Access::open), "n:x", anonymous, {}, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::open), "n:user#42", anonymous, {}, &verifier, now).ok());
  EXPECT_TRUE(check_subscribe(ns(core::Access::open), "n:user#42", verified("42"), {}, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::protected_), "n:x", anonymous, {}, &verifier, now).ok());
  EXPECT_TRUE(check_subscribe(ns(core::Access::protected_), "n:x", verified("u", {"n:*"}), {}, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::protected_), "n:x", verified("u", {"m:*"}), {}, &verifier, now).ok());
  const std::string good = auth::sign_hs("HS256", secret, R"({"sub":"u","channel":"n:x"})");
  const std::string other_user = auth::sign_hs("HS256", secret, R"({"sub":"v","channel":"n:x"})");
  EXPECT_TRUE(check_subscribe(ns(core::Access::private_), "n:x", verified("u"), good, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::private_), "n:x", verified("u"), other_user, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::private_), "n:x", verified("u"), {}, &verifier, now).ok());
  EXPECT_FALSE(check_subscribe(ns(core::Access::private_), "n:x", verified("u"), good, nullptr, now).ok());
}

TEST(Permissions, PublishRules) {
  Identity anonymous;
  EXPECT_TRUE(check_publish(ns(core::Access::open), "n:x", anonymous).ok());
  EXPECT_FALSE(check_publish(ns(core::Access::open, false), "n:x", anonymous).ok());
  EXPECT_FALSE(check_publish(ns(core::Access::protected_), "n:x", verified("u", {"n:*"})).ok());
  EXPECT_TRUE(check_publish(ns(core::Access::protected_), "n:x", verified("u", {}, {"n:x"})).ok());
  auto denied = check_publish(ns(core::Access::protected_), "n:x", anonymous);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::permission_denied);
}

TEST(Permissions, EventsFollowPublishingUnlessTheNamespaceAllowsClientEvents) {
  Identity anonymous;
  // Default: events need what publishing needs.
  EXPECT_TRUE(check_event(ns(core::Access::open), "n:x", anonymous).ok());
  EXPECT_FALSE(check_event(ns(core::Access::open, false), "n:x", anonymous).ok());
  EXPECT_FALSE(check_event(ns(core::Access::protected_), "n:x", verified("u", {"n:*"})).ok());
  // client_events: subscribed clients may send them without the right to publish.
  auto events_only = ns(core::Access::protected_, false);
  events_only.client_events = true;
  EXPECT_TRUE(check_event(events_only, "n:x", verified("u", {"n:*"})).ok());
  EXPECT_FALSE(check_publish(events_only, "n:x", verified("u", {"n:*"})).ok());
}

}  // namespace
}  // namespace sb::session
