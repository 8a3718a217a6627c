#pragma once
// Tags and filters on the wire (docs/filters.md): a publication's `tags` object and a
// subscription's `filter` expression, read from the client's (or the HTTP API's) JSON into
// core's forms (core/tags.hpp, core/filter.hpp), and tags written back as JSON on `message`
// frames and in history.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "core/filter.hpp"

namespace sb::protocol::native {

// Largest `filter` (its JSON text as sent), checked before it is parsed.
inline constexpr std::size_t max_filter_bytes = 2048;

// `raw`: the `tags` value as sent (already checked to be JSON). An object of string values
// within core/tags.hpp's caps, in core's encoding; INVALID_MESSAGE naming the problem otherwise.
Result<std::string> parse_tags(std::string_view raw);

// `raw`: the `filter` value as sent (already checked to be JSON). Compiled (core::Filter), or
// INVALID_FILTER naming the problem. The syntax, one operator per object:
//   {"eq":["key","value"]}  {"neq":["key","value"]}  {"in":["key",["v1","v2"]]}
//   {"nin":["key",["v1","v2"]]}  {"exists":"key"}  {"and":[f,...]}  {"or":[f,...]}  {"not":f}
Result<std::shared_ptr<const core::Filter>> parse_filter(std::string_view raw, const core::FilterLimits& limits = {});

// Appends `,"tags":{...}` for encoded tags; nothing when there are none.
void append_tags_json(std::string& out, std::string_view tags);

}  // namespace sb::protocol::native
