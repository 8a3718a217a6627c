#include "core/filter.hpp"

#include <algorithm>

#include "core/tags.hpp"

namespace sb::core {
namespace {

Error invalid(std::string message) { return make_error(ErrorCode::invalid_filter, std::move(message)); }

bool is_list(FilterOp op) { return op == FilterOp::in || op == FilterOp::nin; }
bool is_group(FilterOp op) { return op == FilterOp::all_of || op == FilterOp::any_of; }

const char* op_name(FilterOp op) {
  switch (op) {
    case FilterOp::eq: return "eq";
    case FilterOp::neq: return "neq";
    case FilterOp::in: return "in";
    case FilterOp::nin: return "nin";
    case FilterOp::exists: return "exists";
    case FilterOp::all_of: return "and";
    case FilterOp::any_of: return "or";
    case FilterOp::negate: return "not";
  }
  return "?";
}

void append_string(std::string& out, std::string_view s) {
  out.append(std::to_string(s.size())).push_back(':');
  out.append(s);
}

// Checks shape and size; writes the canonical text of `expr` (children and values sorted).
Status check(const FilterExpr& e, std::size_t depth, const FilterLimits& limits, std::size_t& nodes,
             std::string& canonical) {
  if (depth > limits.max_depth) return invalid("the filter is nested deeper than 8 levels");
  nodes += 1 + (is_list(e.op) ? e.values.size() : 0);
  if (nodes > limits.max_nodes) return invalid("the filter has more than 64 operators and values");
  const bool keyed = !is_group(e.op) && e.op != FilterOp::negate;
  if (keyed && (e.key.empty() || e.key.size() > max_tag_key_bytes))
    return invalid(std::string("'") + op_name(e.op) + "' needs a tag name of 1 to 64 bytes");
  if ((e.op == FilterOp::eq || e.op == FilterOp::neq) && e.values.size() != 1)
    return invalid(std::string("'") + op_name(e.op) + "' compares a tag with one value");
  if (is_list(e.op) && e.values.empty()) return invalid(std::string("'") + op_name(e.op) + "' needs a list of values");
  if (is_group(e.op) && e.children.empty())
    return invalid(std::string("'") + op_name(e.op) + "' needs at least one filter");
  if (e.op == FilterOp::negate && e.children.size() != 1) return invalid("'not' takes one filter");
  canonical.append(op_name(e.op)).push_back('(');
  if (keyed) append_string(canonical, e.key);
  std::vector<std::string_view> values(e.values.begin(), e.values.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (auto v : values) canonical.push_back(','), append_string(canonical, v);
  std::vector<std::string> children;
  for (const auto& child : e.children) {
    std::string text;
    if (auto ok = check(child, depth + 1, limits, nodes, text); !ok) return ok;
    children.push_back(std::move(text));
  }
  if (is_group(e.op)) std::sort(children.begin(), children.end());
  for (const auto& c : children) canonical.push_back(','), canonical.append(c);
  canonical.push_back(')');
  return Ok{};
}

}  // namespace

Result<std::shared_ptr<const Filter>> Filter::compile(const FilterExpr& expr, const FilterLimits& limits) {
  auto filter = std::make_shared<Filter>();
  std::size_t nodes = 0;
  if (auto ok = check(expr, 1, limits, nodes, filter->canonical_); !ok) return ok.error();
  filter->add(expr);
  return std::shared_ptr<const Filter>(std::move(filter));
}

std::uint32_t Filter::add(const FilterExpr& e) {
  const auto index = static_cast<std::uint32_t>(nodes_.size());
  nodes_.push_back(Node{e.op, 1, 0, 0, 0});
  nodes_[index].key = static_cast<std::uint32_t>(strings_.size());
  strings_.push_back(e.key);
  std::vector<std::string> values = e.values;
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  nodes_[index].first = static_cast<std::uint32_t>(strings_.size());
  for (auto& v : values) strings_.push_back(std::move(v));
  nodes_[index].last = static_cast<std::uint32_t>(strings_.size());
  std::uint32_t size = 1;
  for (const auto& child : e.children) size += add(child);
  nodes_[index].size = size;
  return size;
}

bool Filter::matches(std::string_view tags) const noexcept { return eval(0, tags); }

bool Filter::eval(std::size_t i, std::string_view tags) const noexcept {
  const Node& n = nodes_[i];
  switch (n.op) {
    case FilterOp::eq:
    case FilterOp::neq: {
      auto v = find_tag(tags, strings_[n.key]);
      return (v && *v == strings_[n.first]) == (n.op == FilterOp::eq);
    }
    case FilterOp::in:
    case FilterOp::nin: {
      auto v = find_tag(tags, strings_[n.key]);
      auto less = [](const auto& a, const auto& b) { return std::string_view(a) < std::string_view(b); };
      const bool found = v && std::binary_search(strings_.begin() + n.first, strings_.begin() + n.last, *v, less);
      return found == (n.op == FilterOp::in);
    }
    case FilterOp::exists: return find_tag(tags, strings_[n.key]).has_value();
    case FilterOp::negate: return !eval(i + 1, tags);
    case FilterOp::all_of:
    case FilterOp::any_of: {
      const bool want = n.op == FilterOp::any_of;  // the answer that ends the walk early
      for (std::size_t c = i + 1; c < i + n.size; c += nodes_[c].size)
        if (eval(c, tags) == want) return want;
      return !want;
    }
  }
  return false;
}

}  // namespace sb::core
