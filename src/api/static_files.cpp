#include "api/static_files.hpp"

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
  // Only plain names: no way out of the web root.
  if (relative.find("..") != std::string::npos || relative.find("//") != std::string::npos ||
      relative.find('\\') != std::string::npos)
    return error_response(make_error(ErrorCode::not_found, "no such file"));
  std::ifstream in(root_ + "/" + relative, std::ios::binary);
  if (!in) {
    if (relative.size() > 10 && relative.substr(relative.size() - 10) == "index.html")
      return error_response(make_error(
          ErrorCode::not_found, "the web pages are not built: run `make web` (web_root is '" + root_ + "')"));
    return error_response(make_error(ErrorCode::not_found, "no such file: /" + relative));
  }
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
