#include "transport/http_types.hpp"

#include <cctype>

namespace sb::transport {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

// Calls `found(value)` for each `name=value` of the query, in order, until it returns false.
template <class Found>
void for_each_query_value(std::string_view query, std::string_view name, Found found) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) != name) continue;
    if (!found(eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1)))) return;
  }
}

}  // namespace

bool HttpRequest::query_param(std::string_view name, std::string& value) const {
  bool seen = false;
  for_each_query_value(query(), name, [&](std::string v) {
    value = std::move(v);
    seen = true;
    return false;  // the first one
  });
  return seen;
}

std::vector<std::string> HttpRequest::query_params(std::string_view name) const {
  std::vector<std::string> values;
  for_each_query_value(query(), name, [&](std::string v) {
    values.push_back(std::move(v));
    return true;
  });
  return values;
}

}  // namespace sb::transport
