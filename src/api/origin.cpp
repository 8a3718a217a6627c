#include "api/origin.hpp"

#include <cctype>

namespace sb::api {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "https://Host:8080/" -> "host:8080"
std::string authority_of(std::string_view origin) {
  auto scheme = origin.find("://");
  std::string_view rest = scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
  return lower(rest.substr(0, rest.find('/')));
}

std::string hostname_of(const std::string& authority) {
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

bool entry_matches(std::string_view entry, const std::string& origin) {
  const std::string e = lower(entry);
  const auto star = e.find("://*.");
  if (star == std::string::npos) return e == origin;
  // "https://*.example.com" matches "https://a.example.com" and "https://a.b.example.com", not
  // "https://example.com" nor "https://evil-example.com".
  const std::string scheme = e.substr(0, star + 3);
  const std::string suffix = e.substr(star + 4);  // ".example.com"
  return origin.size() > scheme.size() + suffix.size() && origin.compare(0, scheme.size(), scheme) == 0 &&
         origin.compare(origin.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
  if (origin.empty()) return true;
  std::string normalized = lower(origin);
  while (!normalized.empty() && normalized.back() == '/') normalized.pop_back();
  const std::string authority = authority_of(normalized);
  if (!host.empty() && authority == lower(host)) return true;
  for (const auto& entry : allowed)
    if (entry_matches(entry, normalized)) return true;
  if (allowed.empty()) {
    const std::string name = hostname_of(authority);
    if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
  }
  return false;
}

}  // namespace sb::api
