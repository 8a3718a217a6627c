#pragma once
// Client JSON as the server keeps it: checked once, then passed on as the exact bytes the client
// sent. A value the server relays (a publication's `data`, an event's `data`, presence `info`,
// a stream's `meta`) is never parsed into a tree and written again, so no digit of a number is
// lost and no string is re-escaped; whitespace inside a value is kept, around it dropped
// (docs/protocol.md).
//
// The check is Boost.JSON's strict grammar (RFC 8259, UTF-8 checked, no comments, no trailing
// commas, at most 32 levels of nesting) plus one rule of ours: every number must be finite as a
// double. `1e999999` is grammatical JSON, but any peer that reads it into a double gets
// infinity, and writing that back (`Infinity`) is not JSON.
//
// Why Boost.JSON's parser and not simdjson: simdjson's DOM refuses integers beyond 64 bits, and
// its On-Demand API checks only what it visits; measured in docs/benchmarks.md.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace sb::protocol {

// The members of a top-level JSON object, each value as a slice of the text it was parsed from
// (no whitespace around it). The text must outlive the object.
class JsonObject {
 public:
  // Checks `text` and splits it. INVALID_MESSAGE when it is not JSON ("<malformed>: <what
  // Boost.JSON says>") or not an object (`not_object`). A non-finite number is not an error
  // here but `finite()` false: a caller can still read fields that are fine (the request's
  // `id`, to answer it) before refusing the text.
  static Result<JsonObject> parse(std::string_view text, std::string_view malformed = "malformed JSON",
                                  std::string_view not_object = "a JSON object was expected");

  // The raw value of `key` (the last one when the object repeats it, as Boost.JSON keeps it),
  // or nullopt.
  std::optional<std::string_view> find(std::string_view key) const;
  bool finite() const { return finite_; }

 private:
  struct Member {
    std::string_view key;  // raw, between the quotes
    std::string_view value;
  };
  std::vector<Member> members_;
  bool finite_ = true;
};

// Checks that `text` is one JSON value with finite numbers (the rules above).
Status check_json(std::string_view text, std::string_view malformed = "malformed JSON");

// The refusal of a text that held a non-finite number.
Error non_finite_error();

// Readers of one raw value taken from a JsonObject (so already checked to be JSON).
namespace raw {
inline bool is_string(std::string_view v) { return !v.empty() && v.front() == '"'; }
inline bool is_object(std::string_view v) { return !v.empty() && v.front() == '{'; }
inline bool is_array(std::string_view v) { return !v.empty() && v.front() == '['; }
// The string's text, escapes resolved. `v` must be a string (is_string).
std::string string_value(std::string_view v);
// An integer written without fraction or exponent that fits, else nullopt.
std::optional<std::uint64_t> uint_value(std::string_view v);
std::optional<std::int64_t> int_value(std::string_view v);
std::optional<bool> bool_value(std::string_view v);
}  // namespace raw

}  // namespace sb::protocol
