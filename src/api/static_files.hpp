#pragma once
// The web pages the server ships (the dashboard and the demo): built files under a web root,
// served at /dashboard/ and /demo/ with their content type. Read from disk on each request: they
// are small, and a rebuild shows up without a restart.
#include <optional>
#include <string>

#include "transport/http_types.hpp"

namespace sb::api {

class StaticFiles {
 public:
  // `root` holds dashboard/ and demo/ (each with an index.html).
  explicit StaticFiles(std::string root) : root_(std::move(root)) {}
  // The answer for a GET under one of the served prefixes, or nullopt when the path is not ours.
  std::optional<transport::HttpResponse> serve(const transport::HttpRequest& request) const;

 private:
  std::string root_;
};

std::string content_type_for(std::string_view path);

}  // namespace sb::api
