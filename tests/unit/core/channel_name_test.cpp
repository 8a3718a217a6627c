#include "core/channel_name.hpp"

#include <gtest/gtest.h>

#include "core/namespaces.hpp"

namespace sb::core {
namespace {

TEST(ChannelName, AcceptsTheDocumentedCharset) {
  for (const char* ok : {"a", "chat:room-42", "user#17", "orders.eu/2024=x+y", "a_b@c!d~e,f", "ns:with:colons"})
    EXPECT_TRUE(validate_channel_name(ok).ok()) << ok;
  EXPECT_TRUE(validate_channel_name(std::string(255, 'x')).ok());
}

TEST(ChannelName, RejectsEmptyLongAndOddCharacters) {
  for (const std::string& bad : {std::string(), std::string(256, 'x'), std::string("a b"), std::string("é"), std::string("a\"b"),
                                std::string("a\nb"), std::string(":leading")}) {
    auto r = validate_channel_name(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::unknown_channel);
  }
}

TEST(ChannelName, NamespaceIsWhatPrecedesTheFirstColon) {
  EXPECT_EQ(namespace_of("chat:room:1"), "chat");
  EXPECT_EQ(namespace_of("lobby"), "");
}

TEST(Namespaces, FindsConfiguredNamespacesAndRefusesOthers) {
  Namespaces namespaces(NamespaceOptions{"", true});
  namespaces.add(NamespaceOptions{"news", false});
  auto lobby = namespaces.find("lobby");
  ASSERT_TRUE(lobby.ok());
  EXPECT_TRUE((*lobby)->client_publish);
  auto news = namespaces.find("news:today");
  ASSERT_TRUE(news.ok());
  EXPECT_EQ((*news)->name, "news");
  EXPECT_FALSE((*news)->client_publish);
  auto unknown = namespaces.find("typo:x");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::unknown_channel);
}

}  // namespace
}  // namespace sb::core
