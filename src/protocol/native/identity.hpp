#pragma once
// Publisher identity (docs/protocol.md, "Publisher identity"): the `from` object the server puts
// on the frames a connection caused (`message` from a client publish, `event`, `typing`), and the
// check of one a backend names over HTTP. Built once per publication and carried as bytes, like
// `data`: the hub, the stores and the Redis broker never look inside.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "core/publication.hpp"

namespace sb::protocol::native {

// Largest `from` a backend may give (its JSON text as sent): a name and a small profile, not a
// document. Above it the request is refused with INVALID_MESSAGE.
inline constexpr std::size_t max_from_bytes = 4096;

// {"user":...,"client":...,"info":{...}} for a connection; `info` only when the member has one,
// and "verified":false when the user is only what an anonymous connection declared (no token).
std::string from_json(const core::Member& sender, bool verified);

// A backend's `from` (`raw`: the value as sent, already checked to be JSON): an object of at most
// max_from_bytes whose `user` and `client`, when present, are strings and `info` an object.
// Returns it rewritten in the server's form ({"user","client","info"} in that order, other members
// dropped), so a receiver cannot tell it from a stamped one except by what the backend chose to
// say; INVALID_MESSAGE naming the field otherwise.
Result<std::string> check_from(std::string_view raw);

}  // namespace sb::protocol::native
