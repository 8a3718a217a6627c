#include "session/origin.hpp"

#include <gtest/gtest.h>

namespace sb::session {
namespace {

TEST(OriginPolicy, LoopbackNamesAndAddressesAreAllowedHostsAtAnyPort) {
  OriginPolicy p({}, {});
  for (const char* host : {"localhost", "LocalHost:8080", "127.0.0.1", "127.0.0.1:1", "127.9.9.9:80", "[::1]", "[::1]:8080"})
    EXPECT_TRUE(p.host_allowed(host)) << host;
  for (const char* host : {"", "evil.test", "evil.test:8080", "a.localhost", "localhost.evil.test", "localhost.",
                           "127.0.0.1.evil.test", "128.0.0.1", "[::2]", "0.0.0.0", "[::ffff:127.0.0.1]"})
    EXPECT_FALSE(p.host_allowed(host)) << host;
}

TEST(OriginPolicy, AllowedHostsAreExactOrWildcardNamesAtAnyPort) {
  OriginPolicy p({}, {"Chat.Example.com", "*.dev.example"});
  EXPECT_TRUE(p.host_allowed("chat.example.com"));
  EXPECT_TRUE(p.host_allowed("CHAT.example.com:8443"));
  EXPECT_TRUE(p.host_allowed("a.dev.example"));
  EXPECT_TRUE(p.host_allowed("a.b.dev.example:1"));
  EXPECT_FALSE(p.host_allowed("dev.example"));
  EXPECT_FALSE(p.host_allowed("evil-dev.example"));
  EXPECT_FALSE(p.host_allowed("chat.example.com.evil.test"));
}

TEST(OriginPolicy, TheSameHostCountsOnlyUnderAnAllowedHost) {
  OriginPolicy p({"https://app.example.com"}, {"chat.example.com"});
  EXPECT_TRUE(p.origin_allowed("", "evil.test"));  // not a browser
  EXPECT_TRUE(p.origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_TRUE(p.origin_allowed("https://chat.example.com", "chat.example.com"));
  // DNS rebinding: the page's origin is its Host, under a name nobody listed.
  EXPECT_FALSE(p.origin_allowed("http://evil.test:8080", "evil.test:8080"));
  EXPECT_FALSE(p.origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080"));  // the list is not empty
  EXPECT_TRUE(p.origin_allowed("https://APP.example.com/", "evil.test"));
  EXPECT_FALSE(p.origin_allowed("null", "127.0.0.1:8080"));
}

TEST(OriginPolicy, LocalPagesAreAllowedWhileNoOriginIsListed) {
  OriginPolicy p({}, {});
  EXPECT_TRUE(p.origin_allowed("http://localhost:3000", "127.0.0.1:8080"));
  EXPECT_TRUE(p.origin_allowed("http://[::1]:3000", "127.0.0.1:8080"));
  EXPECT_FALSE(p.origin_allowed("http://localhost.evil.test", "127.0.0.1:8080"));
  EXPECT_FALSE(p.origin_allowed("https://evil.example", "127.0.0.1:8080"));
}

}  // namespace
}  // namespace sb::session
