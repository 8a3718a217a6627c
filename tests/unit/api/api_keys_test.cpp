#include "api/api_keys.hpp"

#include <gtest/gtest.h>

namespace sb::api {
namespace {

TEST(ApiKeys, WithoutKeysOnlyLoopbackIsLetIn) {
  ApiKeys keys({});
  EXPECT_TRUE(keys.check("", true).ok());
  auto remote = keys.check("Bearer anything", false);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.error().code, ErrorCode::auth_failed);
}

TEST(ApiKeys, AnyConfiguredKeyIsAcceptedForRotation) {
  ApiKeys keys({"old-key", "new-key"});
  EXPECT_TRUE(keys.check("Bearer old-key", false).ok());
  EXPECT_TRUE(keys.check("Bearer new-key", true).ok());
}

TEST(ApiKeys, NamedKeysSayWhichOneWasUsed) {
  ApiKeys keys({"old-key-0123456789", "new-key-0123456789"}, {"2025", "2026"});
  std::string name;
  ASSERT_TRUE(keys.check("Bearer new-key-0123456789", false, &name).ok());
  EXPECT_EQ(name, "2026");
  ASSERT_TRUE(keys.check("Bearer old-key-0123456789", false, &name).ok());
  EXPECT_EQ(name, "2025");
  ApiKeys unnamed({"a-key-0123456789ab"});
  ASSERT_TRUE(unnamed.check("bearer a-key-0123456789ab", false, &name).ok());
  EXPECT_EQ(name, "key1");
}

TEST(ApiKeys, WrongMissingOrMalformedCredentialsAreRefusedEvenOnLoopback) {
  ApiKeys keys({"secret"});
  for (const char* header : {"", "Bearer", "Bearer ", "Bearer secre", "Bearer secret2", "Basic secret", "secret"}) {
    auto r = keys.check(header, true);
    ASSERT_FALSE(r.ok()) << header;
    EXPECT_EQ(r.error().code, ErrorCode::auth_failed);
  }
}

}  // namespace
}  // namespace sb::api
