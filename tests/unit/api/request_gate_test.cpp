#include "api/request_gate.hpp"

#include <gtest/gtest.h>

namespace sb::api {
namespace {

TEST(RequestGate, MediaTypesAreComparedWithoutParametersOrCase) {
  EXPECT_TRUE(media_type_is("application/json", "application/json"));
  EXPECT_TRUE(media_type_is("application/json; charset=utf-8", "application/json"));
  EXPECT_TRUE(media_type_is(" Application/JSON ;charset=UTF-8", "application/json"));
  EXPECT_FALSE(media_type_is("", "application/json"));
  EXPECT_FALSE(media_type_is("text/plain", "application/json"));
  EXPECT_FALSE(media_type_is("application/jsonx", "application/json"));
  EXPECT_FALSE(media_type_is("application/json-patch+json", "application/json"));
  EXPECT_FALSE(media_type_is("text/plain; x=application/json", "application/json"));
}

}  // namespace
}  // namespace sb::api
