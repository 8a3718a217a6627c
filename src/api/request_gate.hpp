#pragma once
// The checks every HTTP API request (/api/*, /metrics) passes before its handler runs: who may
// call (API key, or loopback without one) and whether a web page could have sent it.
//
// Without an API key the API trusts this machine. A page in the developer's browser runs on this
// machine too, so loopback trust is kept to what such a page cannot forge (see session/origin.hpp):
//  - an Origin that is present must be allowed (403);
//  - loopback trust needs a Host that is a loopback name or an allowed host (403);
//  - a request body must be declared JSON (415): a page may send text/plain, form data or no
//    type without asking, but application/json needs a CORS preflight, which the API never grants.
#include <optional>
#include <string>

#include "api/api_keys.hpp"
#include "session/origin.hpp"
#include "transport/http_types.hpp"

namespace sb::api {

class RequestGate {
 public:
  RequestGate(const ApiKeys& keys, const session::OriginPolicy& origins) : keys_(keys), origins_(origins) {}

  // The refusal for `request`, or nullopt when it may go on; `key_name` (if given) gets the name
  // of the API key it used. Only the head is read: also called before a streamed body arrives.
  std::optional<transport::HttpResponse> refuse(const transport::HttpRequest& request,
                                                std::string* key_name = nullptr) const;

 private:
  const ApiKeys& keys_;
  const session::OriginPolicy& origins_;
};

// Whether a Content-Type header is `type` ("application/json; charset=utf-8" is application/json).
bool media_type_is(std::string_view content_type, std::string_view type);

}  // namespace sb::api
