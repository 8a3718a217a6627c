#include "protocol/json_text.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>

namespace sb::protocol {

namespace json = boost::json;

namespace {

// A handler that builds nothing: Boost.JSON's parser checks the grammar and UTF-8, this notes
// whether a number was not finite. Parsing goes on after one, so the caller can still read the
// rest (the request's id) and say which request it refuses.
struct Checker {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool finite = true;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (!std::isfinite(d)) finite = false;
    return true;
  }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

Error invalid(std::string message) { return make_error(ErrorCode::invalid_message, std::move(message)); }

// Checks the grammar; returns whether every number was finite.
Result<bool> check(std::string_view text, std::string_view malformed) {
  // Default options: strict JSON, the same depth limit (32) as json::parse.
  json::basic_parser<Checker> parser(json::parse_options{});
  json::error_code ec;
  const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && n != text.size()) ec = json::error::extra_data;
  if (ec) return invalid(std::string(malformed) + ": " + ec.message());
  return parser.handler().finite;
}

// The scanner below runs only over text check() accepted, so it needs no error paths: every
// string is closed, every bracket matched. The bounds tests are there all the same, so that a
// mistake here reads a short value rather than past the end.
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && is_space(t[i])) ++i;
  return i;
}

// `i` at an opening quote; returns the index after the closing one.
std::size_t skip_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') ++i;
    else if (t[i] == '"') return i + 1;
  }
  return t.size();
}

// `i` at the first byte of a value; returns the index after its last byte.
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return i;
  const char c = t[i];
  if (c == '"') return skip_string(t, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      const char d = t[i];
      if (d == '"') {
        i = skip_string(t, i);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      else if ((d == '}' || d == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  // A number or a literal: it ends where a separator or white space starts.
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && !is_space(t[i])) ++i;
  return i;
}

bool key_equals(std::string_view raw_key, std::string_view key) {
  if (raw_key.find('\\') == std::string_view::npos) return raw_key == key;
  // Written with escapes ("\u0064ata"): compare what it means.
  return raw::string_value(std::string_view(raw_key.data() - 1, raw_key.size() + 2)) == key;
}

}  // namespace

Error non_finite_error() {
  return invalid("a number is out of range: JSON numbers must be finite (at most about 1.8e308 in magnitude)");
}

Status check_json(std::string_view text, std::string_view malformed) {
  auto finite = check(text, malformed);
  if (!finite) return finite.error();
  if (!*finite) return non_finite_error();
  return Ok{};
}

Result<JsonObject> JsonObject::parse(std::string_view text, std::string_view malformed,
                                     std::string_view not_object) {
  auto finite = check(text, malformed);
  if (!finite) return finite.error();
  JsonObject object;
  object.finite_ = *finite;
  std::size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return invalid(std::string(not_object));
  i = skip_space(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    const std::size_t key_end = skip_string(text, i);
    const std::string_view key = text.substr(i + 1, key_end - i - 2);
    const std::size_t value_start = skip_space(text, skip_space(text, key_end) + 1);  // past ':'
    const std::size_t value_end = skip_value(text, value_start);
    object.members_.push_back(Member{key, text.substr(value_start, value_end - value_start)});
    i = skip_space(text, value_end);
    if (i < text.size() && text[i] == ',') i = skip_space(text, i + 1);
  }
  return object;
}

std::optional<std::string_view> JsonObject::find(std::string_view key) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it)
    if (key_equals(it->key, key)) return it->value;
  return std::nullopt;
}

namespace raw {

std::string string_value(std::string_view v) {
  if (v.size() < 2) return {};
  const std::string_view inner = v.substr(1, v.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return std::string(inner);
  json::error_code ec;
  json::value parsed = json::parse(json::string_view(v.data(), v.size()), ec);
  if (ec || !parsed.is_string()) return {};
  return std::string(parsed.get_string());
}

template <class T>
static std::optional<T> integer(std::string_view v) {
  T n{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> uint_value(std::string_view v) { return integer<std::uint64_t>(v); }
std::optional<std::int64_t> int_value(std::string_view v) { return integer<std::int64_t>(v); }

std::optional<bool> bool_value(std::string_view v) {
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

}  // namespace raw

}  // namespace sb::protocol
