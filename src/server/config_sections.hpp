#pragma once
// What config.cpp and config_backend.cpp share: the readers of one TOML value (each checks the
// value's type and throws ConfigError naming the key), and the sections that config_backend.cpp
// reads and checks. Internal to the server layer.
#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "server/config.hpp"

namespace sb::server {

namespace config_values {
std::int64_t positive_integer(const toml::node& node, const std::string& key);
std::int64_t non_negative_integer(const toml::node& node, const std::string& key);
std::string string_value(const toml::node& node, const std::string& key);
bool bool_value(const toml::node& node, const std::string& key);
// A section's value must be a table: `[history]`, not `history = 1`.
const toml::table& section(const toml::node& node, const std::string& key);
// Replaces `out` with the strings of an array; `expected` is the error when it is not an array.
void assign_strings(std::vector<std::string>& out, const toml::node& node, const std::string& key,
                    const char* expected);
}  // namespace config_values

// [webhooks] and [proxy]: the app's backend (config_backend.cpp).
void apply_webhooks(Config& c, const toml::table& t);
void apply_proxy(Config& c, const toml::table& t);
// An http:// or https:// URL, or empty (nothing configured).
void validate_url(const std::string& url, const std::string& key);
void validate_webhooks(const Config& c);
void validate_proxy(const Config& c);

}  // namespace sb::server
