#include "session/origin.hpp"

#include <boost/asio/ip/address.hpp>

#include <cctype>

namespace sb::session {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> lowered(std::vector<std::string> list) {
  for (auto& s : list) s = lower(s);
  return list;
}

// "https://Host:8080/" -> "host:8080"
std::string authority_of(std::string_view origin) {
  auto scheme = origin.find("://");
  std::string_view rest = scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
  return lower(rest.substr(0, rest.find('/')));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool origin_entry_matches(const std::string& entry, const std::string& origin) {
  const auto star = entry.find("://*.");
  if (star == std::string::npos) return entry == origin;
  // "https://*.example.com" matches "https://a.example.com" and "https://a.b.example.com", not
  // "https://example.com" nor "https://evil-example.com".
  const std::string_view scheme = std::string_view(entry).substr(0, star + 3);
  const std::string_view suffix = std::string_view(entry).substr(star + 4);  // ".example.com"
  return origin.size() > scheme.size() + suffix.size() && origin.compare(0, scheme.size(), scheme) == 0 &&
         ends_with(origin, suffix);
}

bool host_entry_matches(const std::string& entry, const std::string& name) {
  // "*.example.com" matches "a.example.com", not "example.com" nor "evil-example.com".
  if (entry.size() > 2 && entry[0] == '*' && entry[1] == '.')
    return name.size() > entry.size() - 1 && ends_with(name, std::string_view(entry).substr(1));
  return entry == name;
}

// An IP literal cannot be rebound, and 127.0.0.0/8 and ::1 are this machine.
bool loopback_name(const std::string& name) {
  if (name == "localhost" || name == "[::1]") return true;
  if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address_v4(name, ec);
  return !ec && address.is_loopback();
}

}  // namespace

std::string hostname_of(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    return close == std::string_view::npos ? std::string() : lower(authority.substr(0, close + 1));
  }
  return lower(authority.substr(0, authority.find(':')));
}

OriginPolicy::OriginPolicy(std::vector<std::string> allowed_origins, std::vector<std::string> allowed_hosts)
    : origins_(lowered(std::move(allowed_origins))), hosts_(lowered(std::move(allowed_hosts))) {
  for (auto& o : origins_)
    while (!o.empty() && o.back() == '/') o.pop_back();
}

bool OriginPolicy::host_allowed(std::string_view host) const {
  const std::string name = hostname_of(host);
  if (name.empty()) return false;
  if (loopback_name(name)) return true;
  for (const auto& entry : hosts_)
    if (host_entry_matches(entry, name)) return true;
  return false;
}

bool OriginPolicy::origin_allowed(std::string_view origin, std::string_view host) const {
  if (origin.empty()) return true;
  std::string normalized = lower(origin);
  while (!normalized.empty() && normalized.back() == '/') normalized.pop_back();
  const std::string authority = authority_of(normalized);
  // The same host only counts under a name a rebinding page cannot take.
  if (!host.empty() && authority == lower(host) && host_allowed(host)) return true;
  for (const auto& entry : origins_)
    if (origin_entry_matches(entry, normalized)) return true;
  if (origins_.empty()) {
    const std::string name = hostname_of(authority);
    if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
  }
  return false;
}

}  // namespace sb::session
