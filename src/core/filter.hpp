#pragma once
// A subscriber's filter over a publication's tags (docs/filters.md). The protocol layer parses
// the client's JSON into a FilterExpr; compile() checks its size and turns it into a Filter: a
// flat array of nodes evaluated without allocating, plus a canonical text that is the same for
// any two filters that mean the same thing written alike (the hub shares one evaluation per
// publication among subscribers whose canonical texts are equal).
//
// A message without the tag: `eq` and `in` are false, `neq` and `nin` true (they are the
// negations of `eq` and `in`), `exists` false.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace sb::core {

enum class FilterOp : std::uint8_t { eq, neq, in, nin, exists, all_of, any_of, negate };

// The tree as parsed. eq/neq: `key` and one value; in/nin: `key` and the values; exists: `key`;
// all_of (and), any_of (or): children (at least one); negate (not): one child.
struct FilterExpr {
  FilterOp op = FilterOp::exists;
  std::string key;
  std::vector<std::string> values;
  std::vector<FilterExpr> children;
};

// Bounds on one filter: nesting and size, so that evaluating it per publication stays cheap.
// A node is an operator or one value of a list.
struct FilterLimits {
  std::size_t max_depth = 8;
  std::size_t max_nodes = 64;
};

class Filter {
 public:
  // INVALID_FILTER naming the problem when the tree is too deep, too large, or ill-formed.
  static Result<std::shared_ptr<const Filter>> compile(const FilterExpr& expr, const FilterLimits& limits = {});

  // Whether a publication with these tags (core/tags.hpp's encoding) passes. Any thread.
  bool matches(std::string_view tags) const noexcept;

  // The canonical text: equal for filters that only differ in the order of and/or children or
  // of list values, or repeat a list value.
  const std::string& canonical() const noexcept { return canonical_; }

 private:
  struct Node {
    FilterOp op;
    std::uint32_t size;     // nodes in this subtree, itself included (skips a child)
    std::uint32_t key;      // index into strings_
    std::uint32_t first;    // values: strings_[first, last), sorted
    std::uint32_t last;
  };
  bool eval(std::size_t node, std::string_view tags) const noexcept;
  std::uint32_t add(const FilterExpr& expr);

  std::vector<Node> nodes_;  // preorder
  std::vector<std::string> strings_;
  std::string canonical_;
};

}  // namespace sb::core
