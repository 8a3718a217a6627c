#pragma once
// The web pages the server ships (the dashboard and the demo): built files under a web root,
// served at /dashboard/ and /demo/ with their content type. Nothing outside the root is served,
// symlinks included, and no answer names a filesystem path. Read from disk on each request: they
// are small, and a rebuild shows up without a restart.
#include <filesystem>
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
  // The file a URL path (relative to the root) names: a regular file under the root once every
  // symlink is followed, or a directory's index.html (then "/index.html" is added to `relative`,
  // which gives the content type); nullopt otherwise.
  std::optional<std::filesystem::path> resolve(std::string& relative) const;

  std::string root_;
};

std::string content_type_for(std::string_view path);

}  // namespace sb::api
