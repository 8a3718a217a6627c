// What a web page in the developer's browser can make a keyless dev server do, over real sockets:
// requests a page may send without a CORS preflight (text/plain, form data), a foreign Origin,
// and DNS rebinding (a page under its own name that resolves to 127.0.0.1, so that Origin and
// Host agree). And the web pages' files: nothing outside web_root, no filesystem path in answers.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "support/ws_client.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace json = boost::json;
using client::http_request;
using client::WsClient;

struct RawAnswer {
  int status = 0;
  std::string head;
  std::string body;
};

// One request written byte for byte (only what the test says: no Content-Type added), on a
// connection the server closes after answering.
RawAnswer raw_http(std::uint16_t port, const std::string& method, const std::string& target, const std::string& host,
                   const std::string& extra_headers = {}, const std::string& body = {}) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" +
                        extra_headers;
  if (!body.empty() || method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  boost::asio::write(s, boost::asio::buffer(request));
  boost::asio::streambuf in;
  boost::system::error_code ec;
  boost::asio::read(s, in, ec);
  std::string text(boost::asio::buffers_begin(in.data()), boost::asio::buffers_end(in.data()));
  RawAnswer a;
  const auto end = text.find("\r\n\r\n");
  if (text.size() < 12 || end == std::string::npos) return a;
  a.status = std::stoi(text.substr(9, 3));
  a.head = text.substr(0, end + 4);
  a.body = text.substr(end + 4);
  return a;
}

std::string error_code_of(const std::string& body) {
  return std::string(json::parse(body).at("error").at("code").as_string());
}

// The status line of an upgrade sent with this Host and these extra headers.
std::string upgrade_status(RawWs& ws, const std::string& host, const std::string& extra = {}) {
  ws.write("GET /ws HTTP/1.1\r\nHost: " + host +
           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n" + extra + "\r\n");
  boost::asio::streambuf buf;
  boost::system::error_code ec;
  boost::asio::read_until(ws.socket(), buf, "\r\n\r\n", ec);
  std::string head(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
  return head.size() >= 12 ? head.substr(9, 3) : head;
}

// The type of the server's answer to `frame` on a raw connection, skipping the greeting.
std::string answer_type(RawWs& ws, const std::string& frame) {
  ws.send_text(frame);
  for (int i = 0; i < 5; ++i) {
    auto f = ws.read_frame();
    if (!f) return "closed";
    auto v = json::parse(f->payload).as_object();
    if (v.at("type") == "connected") continue;
    if (v.at("type") == "error") return std::string(v.at("code").as_string());
    return std::string(v.at("type").as_string());
  }
  return "nothing";
}

TEST(HostileTrust, APageCannotPublishOrDisconnectWithASimpleRequest) {
  TestServer server;  // no API key: the HTTP API trusts loopback
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  auto victim = WsClient::connect("127.0.0.1", server.port());
  victim->subscribe("room");
  const std::string forged = R"({"channel":"room","data":"forged"})";
  // What an HTML form or a fetch() without preflight can send, and a request with no type at all.
  for (const std::string type : {"Content-Type: text/plain\r\n", "Content-Type: text/plain;charset=UTF-8\r\n",
                                 "Content-Type: application/x-www-form-urlencoded\r\n",
                                 "Content-Type: multipart/form-data; boundary=x\r\n", ""}) {
    auto r = raw_http(server.port(), "POST", "/api/publish", host, type, forged);
    EXPECT_EQ(r.status, 415) << type << r.head;
    EXPECT_EQ(error_code_of(r.body), "INVALID_MESSAGE");
    // The refusal says what to send.
    EXPECT_NE(r.body.find("Content-Type: application/json"), std::string::npos) << r.body;
    auto cut = raw_http(server.port(), "POST", "/api/disconnect", host, type,
                        json::serialize(json::object{{"client", victim->client_id()}}));
    EXPECT_EQ(cut.status, 415) << type << cut.head;
  }
  // Not obeyed: the first message the subscriber gets is the genuine one that follows, and it is
  // still connected.
  auto ok = raw_http(server.port(), "POST", "/api/publish", host, "Content-Type: application/json; charset=utf-8\r\n",
                     R"({"channel":"room","data":"genuine"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto m = victim->receive_type("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("data"), "genuine");
  EXPECT_EQ(raw_http(server.port(), "POST", "/api/publish", host, "Content-Type: Application/JSON\r\n",
                     R"({"channel":"room","data":2})").status,
            200);
  auto pong = victim->request(json::object{{"type", "ping"}});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->at("type"), "pong");
}

TEST(HostileTrust, APipeNeedsATypeAPageCannotSendWithoutAPreflight) {
  TestServer server;
  const std::string host = "localhost:" + std::to_string(server.port());
  auto start = raw_http(server.port(), "POST", "/api/streams", host, "Content-Type: application/json\r\n",
                        R"({"channel":"room"})");
  ASSERT_EQ(start.status, 200) << start.body;
  const std::string id(json::parse(start.body).at("stream").as_string());
  auto plain = raw_http(server.port(), "POST", "/api/streams/" + id + "/pipe", host, "Content-Type: text/plain\r\n", "a\n");
  EXPECT_EQ(plain.status, 415) << plain.head;
  EXPECT_NE(plain.body.find("application/octet-stream"), std::string::npos) << plain.body;
  // The same when the body is streamed (chunked), which is read by another path.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
    boost::asio::write(s, boost::asio::buffer("POST /api/streams/" + id + "/pipe HTTP/1.1\r\nHost: " + host +
                                              "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                                              "2\r\nb\n\r\n0\r\n\r\n"));
    boost::asio::streambuf in;
    boost::asio::read_until(s, in, "\r\n\r\n");
    const std::string head(boost::asio::buffers_begin(in.data()), boost::asio::buffers_end(in.data()));
    EXPECT_EQ(head.substr(9, 3), "415") << head;
  }
  auto binary = raw_http(server.port(), "POST", "/api/streams/" + id + "/pipe?end=false", host,
                         "Content-Type: application/octet-stream\r\n", "a\n");
  EXPECT_EQ(binary.status, 200) << binary.body;
  EXPECT_EQ(json::parse(binary.body).at("seq"), 1);  // the refused lines were not appended
}

TEST(HostileTrust, AForeignOriginIsRefusedAndNeverGrantedCors) {
  TestServer server;
  const std::string port = std::to_string(server.port());
  const std::string host = "127.0.0.1:" + port;
  const std::string json_type = "Content-Type: application/json\r\n";
  const std::string body = R"({"channel":"room","data":1})";
  for (const std::string origin : {"https://evil.example", "null", "http://127.0.0.1.evil.example"}) {
    auto r = raw_http(server.port(), "POST", "/api/publish", host, "Origin: " + origin + "\r\n" + json_type, body);
    EXPECT_EQ(r.status, 403) << origin << r.head;
    EXPECT_EQ(error_code_of(r.body), "PERMISSION_DENIED");
    EXPECT_EQ(raw_http(server.port(), "GET", "/api/stats", host, "Origin: " + origin + "\r\n").status, 403) << origin;
  }
  // The preflight a page needs for application/json is never granted.
  auto preflight = raw_http(server.port(), "OPTIONS", "/api/publish", host,
                            "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n"
                            "Access-Control-Request-Headers: content-type\r\n");
  EXPECT_GE(preflight.status, 400) << preflight.head;
  EXPECT_EQ(preflight.head.find("Access-Control-Allow"), std::string::npos) << preflight.head;
  // The dashboard, served by this server: its own origin.
  EXPECT_EQ(raw_http(server.port(), "POST", "/api/publish", host, "Origin: http://" + host + "\r\n" + json_type, body).status,
            200);
  // A browser's upgrade from a foreign page too.
  RawWs ws(server.port());
  EXPECT_EQ(upgrade_status(ws, host, "Origin: https://evil.example\r\n"), "403");
}

TEST(HostileTrust, AForeignOriginIsRefusedWithAnApiKeyToo) {
  TestServer server([](server::Config& c) {
    c.api_keys = {"key-one-0123456789"};
    c.allowed_origins = {"https://app.example.com"};
  });
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  const std::string key = "Authorization: Bearer key-one-0123456789\r\n";
  EXPECT_EQ(raw_http(server.port(), "GET", "/api/stats", host, key + "Origin: https://evil.example\r\n").status, 403);
  EXPECT_EQ(raw_http(server.port(), "GET", "/api/stats", host, key + "Origin: https://app.example.com\r\n").status, 200);
  // Bodies are JSON with a key as well: one rule for every caller.
  EXPECT_EQ(raw_http(server.port(), "POST", "/api/publish", host, key + "Content-Type: text/plain\r\n",
                     R"({"channel":"room","data":1})")
                .status,
            415);
}

TEST(HostileTrust, ARequestUnderARebindingNameGetsNoLoopbackTrust) {
  TestServer server;  // no API key
  const std::string port = std::to_string(server.port());
  const std::string json_type = "Content-Type: application/json\r\n";
  const std::string body = R"({"channel":"room","data":1})";
  for (const std::string host : std::vector<std::string>{"evil.test:" + port, "evil.test", "a.localhost:" + port, "localhost.evil.test"}) {
    auto r = raw_http(server.port(), "POST", "/api/publish", host, "Origin: http://" + host + "\r\n" + json_type, body);
    EXPECT_EQ(r.status, 403) << host << r.head;
    auto stats = raw_http(server.port(), "GET", "/api/stats", host);  // no Origin: a same-origin GET
    EXPECT_EQ(stats.status, 403) << host;
    EXPECT_NE(stats.body.find("allowed_hosts"), std::string::npos) << stats.body;
    RawWs ws(server.port());
    EXPECT_EQ(upgrade_status(ws, host, "Origin: http://" + host + "\r\n"), "403") << host;
  }
  // Without an Origin (not a browser) the upgrade goes through, but not as a trusted anonymous
  // client: anonymous = "loopback" needs a loopback Host as well.
  {
    RawWs ws(server.port());
    ASSERT_EQ(upgrade_status(ws, "evil.test:" + port), "101");
    EXPECT_EQ(answer_type(ws, R"({"type":"subscribe","channel":"room","id":"1"})"), "AUTH_FAILED");
  }
  // The loopback names and addresses, any port.
  for (const std::string host :
       std::vector<std::string>{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.0.0.2", "[::1]:" + port}) {
    EXPECT_EQ(raw_http(server.port(), "POST", "/api/publish", host, "Origin: http://" + host + "\r\n" + json_type, body)
                  .status,
              200)
        << host;
    RawWs ws(server.port());
    ASSERT_EQ(upgrade_status(ws, host, "Origin: http://" + host + "\r\n"), "101") << host;
    EXPECT_EQ(answer_type(ws, R"({"type":"subscribe","channel":"room","id":"1"})"), "subscribed") << host;
  }
}

TEST(HostileTrust, AllowedHostsLetsANameIn) {
  TestServer server([](server::Config& c) { c.allowed_hosts = {"evil.test", "*.dev.example"}; });
  const std::string port = std::to_string(server.port());
  for (const std::string host : std::vector<std::string>{"evil.test:" + port, "EVIL.test", "a.dev.example:" + port}) {
    auto r = raw_http(server.port(), "POST", "/api/publish", host,
                      "Origin: http://" + host + "\r\nContent-Type: application/json\r\n", R"({"channel":"room","data":1})");
    EXPECT_EQ(r.status, 200) << host << r.body;
    RawWs ws(server.port());
    ASSERT_EQ(upgrade_status(ws, host, "Origin: http://" + host + "\r\n"), "101") << host;
    EXPECT_EQ(answer_type(ws, R"({"type":"subscribe","channel":"room","id":"1"})"), "subscribed") << host;
  }
  EXPECT_EQ(raw_http(server.port(), "GET", "/api/stats", "dev.example:" + port).status, 403);
  EXPECT_EQ(raw_http(server.port(), "GET", "/api/stats", "other.test:" + port).status, 403);
}

class HostileStatic : public ::testing::Test {
 protected:
  // web_root/dashboard with an index, a subdirectory with one and one without, and symlinks out
  // of the root (to a file and to a directory) next to one that stays inside.
  void SetUp() override {
    base_ = ::testing::TempDir() + "hostile-static-" + std::to_string(::getpid());
    root_ = base_ + "/webroot";
    namespace fs = std::filesystem;
    fs::remove_all(base_);
    fs::create_directories(root_ + "/dashboard/assets");
    fs::create_directories(root_ + "/dashboard/sub");
    fs::create_directories(root_ + "/dashboard/empty");
    fs::create_directories(base_ + "/outside");
    std::ofstream(root_ + "/dashboard/index.html") << "<h1>dash</h1>";
    std::ofstream(root_ + "/dashboard/sub/index.html") << "<h1>sub</h1>";
    std::ofstream(root_ + "/dashboard/assets/app.js") << "console.log(1)";
    std::ofstream(base_ + "/outside/secret.txt") << "SECRET";
    std::ofstream(base_ + "/outside/index.html") << "SECRET INDEX";
    fs::create_symlink(base_ + "/outside/secret.txt", root_ + "/dashboard/leak.txt");
    fs::create_symlink("../../outside", root_ + "/dashboard/out");
    fs::create_symlink("assets/app.js", root_ + "/dashboard/alias.js");
    server_ = std::make_unique<TestServer>([this](server::Config& c) { c.web_root = root_; });
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(base_);
  }
  client::HttpResult get(const std::string& target) { return http_request("127.0.0.1", server_->port(), "GET", target); }

  std::string base_, root_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(HostileStatic, ADirectoryAnswersItsIndexOr404) {
  auto sub = get("/dashboard/sub");
  EXPECT_EQ(sub.status, 200);
  EXPECT_EQ(sub.body, "<h1>sub</h1>");
  EXPECT_EQ(sub.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get("/dashboard/sub/").body, "<h1>sub</h1>");
  for (const std::string target : {"/dashboard/empty", "/dashboard/empty/", "/dashboard/assets", "/dashboard/assets/"}) {
    auto r = get(target);
    EXPECT_EQ(r.status, 404) << target << " " << r.body;
    EXPECT_EQ(error_code_of(r.body), "NOT_FOUND");
  }
}

TEST_F(HostileStatic, SymlinksOutOfTheRootAre404) {
  for (const std::string target : {"/dashboard/leak.txt", "/dashboard/out/secret.txt", "/dashboard/out", "/dashboard/out/"}) {
    auto r = get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << target;
  }
  // A symlink that stays inside the root is served.
  auto alias = get("/dashboard/alias.js");
  EXPECT_EQ(alias.status, 200);
  EXPECT_EQ(alias.body, "console.log(1)");
}

TEST_F(HostileStatic, NoAnswerNamesAFilesystemPath) {
  for (const std::string target : {"/demo/", "/demo/index.html", "/dashboard/missing.js", "/dashboard/empty/",
                                   "/dashboard/out/secret.txt", "/dashboard/../x"}) {
    auto r = get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body.find(base_), std::string::npos) << target << " " << r.body;
    EXPECT_EQ(r.body.find("webroot"), std::string::npos) << target << " " << r.body;
  }
  EXPECT_NE(get("/demo/").body.find("not built"), std::string::npos);
}

TEST(HostileStaticRoot, AMissingWebRootIsNotNamedEither) {
  const std::string root = ::testing::TempDir() + "no-such-webroot-" + std::to_string(::getpid());
  TestServer server([&](server::Config& c) { c.web_root = root; });
  auto r = http_request("127.0.0.1", server.port(), "GET", "/dashboard/");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not built"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("no-such-webroot"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace sb::test
