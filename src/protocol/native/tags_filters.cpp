#include "protocol/native/tags_filters.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/tags.hpp"
#include "protocol/native/codec.hpp"

namespace sb::protocol::native {

namespace json = boost::json;

namespace {

Error bad_filter(std::string message) { return make_error(ErrorCode::invalid_filter, std::move(message)); }

Result<json::value> parse_value(std::string_view raw) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(raw.data(), raw.size()), ec);
  if (ec) return make_error(ErrorCode::invalid_message, "malformed JSON");
  return v;
}

const char* syntax_hint() {
  return R"( (one of {"eq":[key,value]}, {"neq":[key,value]}, {"in":[key,[values]]}, {"nin":[key,[values]]},)"
         R"( {"exists":key}, {"and":[filters]}, {"or":[filters]}, {"not":filter}))";
}

// [key, value] or [key, [values]].
Status read_key_values(const json::value& v, bool list, core::FilterExpr& e, std::string_view op) {
  const auto* a = v.if_array();
  if (!a || a->size() != 2 || !(*a)[0].is_string())
    return bad_filter("'" + std::string(op) + "' takes [key, " + (list ? "[values]]" : "value]"));
  e.key = std::string((*a)[0].get_string());
  if (!list) {
    if (!(*a)[1].is_string()) return bad_filter("'" + std::string(op) + "' compares with a string");
    e.values.emplace_back((*a)[1].get_string());
    return Ok{};
  }
  const auto* values = (*a)[1].if_array();
  if (!values) return bad_filter("'" + std::string(op) + "' takes [key, [values]]");
  for (const auto& x : *values) {
    if (!x.is_string()) return bad_filter("'" + std::string(op) + "' values must be strings");
    // Bounded here too: a long list is refused before it is copied whole (core counts nodes).
    if (e.values.size() >= 64) return bad_filter("the filter has more than 64 operators and values");
    e.values.emplace_back(x.get_string());
  }
  return Ok{};
}

Status read_expr(const json::value& v, core::FilterExpr& e, std::size_t depth) {
  // Deeper than any allowed filter: stop before recursing further (core reports the depth).
  if (depth > 9) return bad_filter("the filter is nested deeper than 8 levels");
  const auto* o = v.if_object();
  if (!o || o->size() != 1) return bad_filter(std::string("a filter is an object with one operator") + syntax_hint());
  const auto& [name, arg] = *o->begin();
  const std::string_view op(name.data(), name.size());
  if (op == "eq" || op == "neq") {
    e.op = op == "eq" ? core::FilterOp::eq : core::FilterOp::neq;
    return read_key_values(arg, false, e, op);
  }
  if (op == "in" || op == "nin") {
    e.op = op == "in" ? core::FilterOp::in : core::FilterOp::nin;
    return read_key_values(arg, true, e, op);
  }
  if (op == "exists") {
    e.op = core::FilterOp::exists;
    if (!arg.is_string()) return bad_filter("'exists' takes a tag name");
    e.key = std::string(arg.get_string());
    return Ok{};
  }
  if (op == "not") {
    e.op = core::FilterOp::negate;
    e.children.emplace_back();
    return read_expr(arg, e.children.back(), depth + 1);
  }
  if (op == "and" || op == "or") {
    e.op = op == "and" ? core::FilterOp::all_of : core::FilterOp::any_of;
    const auto* list = arg.if_array();
    if (!list) return bad_filter("'" + std::string(op) + "' takes an array of filters");
    if (list->size() > 64) return bad_filter("the filter has more than 64 operators and values");
    for (const auto& child : *list) {
      e.children.emplace_back();
      if (auto ok = read_expr(child, e.children.back(), depth + 1); !ok) return ok;
    }
    return Ok{};
  }
  return bad_filter("unknown filter operator '" + std::string(op) + "'" + syntax_hint());
}

}  // namespace

Result<std::string> parse_tags(std::string_view raw) {
  auto invalid = [](std::string m) { return make_error(ErrorCode::invalid_message, std::move(m)); };
  // Twice the encoded cap: room for quotes, colons and escapes, and no more is parsed.
  if (raw.size() > 2 * core::max_tags_bytes) return invalid("'tags' may take at most 2048 bytes");
  auto v = parse_value(raw);
  if (!v) return v.error();
  const auto* o = v->if_object();
  if (!o) return invalid("'tags' must be an object of strings");
  core::TagList tags;
  for (const auto& [key, value] : *o) {
    if (!value.is_string()) return invalid("tag '" + std::string(key) + "' must be a string");
    tags.emplace_back(std::string(key), std::string(value.get_string()));
  }
  return core::encode_tags(std::move(tags));
}

Result<std::shared_ptr<const core::Filter>> parse_filter(std::string_view raw, const core::FilterLimits& limits) {
  if (raw.size() > max_filter_bytes) return bad_filter("the filter may take at most 2048 bytes");
  auto v = parse_value(raw);
  if (!v) return bad_filter("the filter is not JSON");
  core::FilterExpr expr;
  if (auto ok = read_expr(*v, expr, 1); !ok) return ok.error();
  return core::Filter::compile(expr, limits);
}

void append_tags_json(std::string& out, std::string_view tags) {
  if (tags.empty()) return;
  out.append(R"(,"tags":{)");
  bool first = true;
  core::for_each_tag(tags, [&](std::string_view key, std::string_view value) {
    if (!first) out.push_back(',');
    first = false;
    out.append(json_quote(key)).push_back(':');
    out.append(json_quote(value));
  });
  out.push_back('}');
}

}  // namespace sb::protocol::native
