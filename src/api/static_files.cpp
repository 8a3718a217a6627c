#include "api/static_files.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "api/http_api.hpp"

namespace sb::api {

std::string content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".woff2")) return "font/woff2";
  return "application/octet-stream";
}

std::optional<std::filesystem::path> StaticFiles::resolve(std::string& relative) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::canonical(root_, ec);
  if (ec) return std::nullopt;
  // canonical() follows every symlink: what it names must still be under the root.
  fs::path file = fs::canonical(root / relative, ec);
  if (ec) return std::nullopt;
  // A directory answers its index.html, or nothing.
  if (fs::is_directory(file, ec)) {
    relative += "/index.html";
    file = fs::canonical(file / "index.html", ec);
    if (ec) return std::nullopt;
  }
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  const auto [root_end, _] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end()) return std::nullopt;
  return file;
}

std::optional<transport::HttpResponse> StaticFiles::serve(const transport::HttpRequest& request) const {
  const std::string_view path = request.path();
  std::string_view app;
  for (std::string_view prefix : {"/dashboard", "/demo"}) {
    if (path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/'))
      app = prefix;
  }
  if (app.empty()) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = error_response(make_error(ErrorCode::invalid_message, "method not allowed; use GET"));
    r.status = 405;
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path.size() == app.size()) {  // /dashboard -> /dashboard/ so relative asset paths resolve
    return transport::HttpResponse{301, "text/plain", "", {{"Location", std::string(app) + "/"}}};
  }
  std::string relative(path.substr(1));
  if (relative.back() == '/') relative += "index.html";
  // Only plain names: no way out of the web root by the URL. (A symlink is checked below.)
  if (relative.find("..") != std::string::npos || relative.find("//") != std::string::npos ||
      relative.find('\\') != std::string::npos || relative.find('\0') != std::string::npos)
    return error_response(make_error(ErrorCode::not_found, "no such file"));
  // Answers name the URL, never a filesystem path: the web root is the operator's business.
  const std::string asked = relative;
  auto file = resolve(relative);
  if (!file) {
    if (relative == std::string(app.substr(1)) + "/index.html")
      return error_response(make_error(ErrorCode::not_found, "the web pages are not built: run `make web` (or set web_root)"));
    return error_response(make_error(ErrorCode::not_found, "no such file: /" + asked));
  }
  std::ifstream in(*file, std::ios::binary);
  if (!in) return error_response(make_error(ErrorCode::not_found, "no such file: /" + asked));
  std::ostringstream body;
  body << in.rdbuf();
  transport::HttpResponse r{200, content_type_for(relative), body.str(), {}};
  r.headers.emplace_back("Cache-Control", "no-cache");
  // The pages talk to this server only.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'");
  return r;
}

}  // namespace sb::api
