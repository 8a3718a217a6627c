// TLS on the listening port: wss:// and https:// with a certificate made for the test.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "support/self_signed.hpp"
#include "support/test_server.hpp"

namespace sb::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;


TEST(Tls, WssAndHttpsOnTheSamePort) {
  SelfSigned certificate;
  TestServer server([&](server::Config& c) {
    c.tls_cert = certificate.cert;
    c.tls_key = certificate.key;
  });
  boost::asio::io_context io;
  ssl::context client_tls(ssl::context::tls_client);
  client_tls.set_verify_mode(ssl::verify_none);  // self-signed; the test checks the transport, not the PKI
  const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), server.port());

  // A subscriber over wss://
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, client_tls);
  beast::get_lowest_layer(ws).connect(endpoint);
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/ws");
  beast::flat_buffer buffer;
  ws.read(buffer);
  auto connected = json::parse(beast::buffers_to_string(buffer.data()));
  EXPECT_EQ(connected.at("type"), "connected");
  buffer.consume(buffer.size());
  ws.write(boost::asio::buffer(std::string(R"({"type":"subscribe","id":1,"channel":"secure"})")));
  ws.read(buffer);
  EXPECT_EQ(json::parse(beast::buffers_to_string(buffer.data())).at("type"), "subscribed");
  buffer.consume(buffer.size());

  // A publish over https:// with a payload big enough for several TLS records.
  const std::string big(40000, 'z');
  {
    beast::ssl_stream<beast::tcp_stream> https(io, client_tls);
    beast::get_lowest_layer(https).connect(endpoint);
    https.handshake(ssl::stream_base::client);
    http::request<http::string_body> req(http::verb::post, "/api/publish", 11);
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/json");
    req.body() = R"({"channel":"secure","data":")" + big + "\"}";
    req.prepare_payload();
    http::write(https, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(https, b, res);
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(json::parse(res.body()).at("offset"), 1);
  }
  ws.read(buffer);
  auto message = json::parse(beast::buffers_to_string(buffer.data()));
  EXPECT_EQ(message.at("type"), "message");
  EXPECT_EQ(message.at("data").as_string().size(), big.size());
  // Many frames in a row go through the TLS write path intact and in order.
  buffer.consume(buffer.size());
  for (int i = 0; i < 200; ++i)
    ws.write(boost::asio::buffer(R"({"type":"publish","channel":"secure","data":)" + std::to_string(i) + "}"));
  for (int i = 0; i < 200; ++i) {
    ws.read(buffer);
    auto m = json::parse(beast::buffers_to_string(buffer.data()));
    buffer.consume(buffer.size());
    ASSERT_EQ(m.at("data"), i);
  }
  // The server drops TCP right after answering the close (RFC 6455 7.1.1), so the client's own
  // TLS/TCP teardown may find the socket gone: only the close handshake matters here.
  beast::error_code ec;
  ws.close(beast::websocket::close_code::normal, ec);
  EXPECT_FALSE(ws.is_open());
}

TEST(Tls, PlainHttpOnATlsPortGetsNoAnswerAndTheServerLives) {
  SelfSigned certificate;
  TestServer server([&](server::Config& c) {
    c.tls_cert = certificate.cert;
    c.tls_key = certificate.key;
    c.limits.handshake_timeout = std::chrono::seconds(1);
  });
  boost::asio::io_context io;
  tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  boost::asio::write(s, boost::asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  char c;
  beast::error_code ec;
  s.read_some(boost::asio::buffer(&c, 1), ec);  // a TLS alert or a close, never an HTTP answer
  EXPECT_TRUE(ec || c != 'H');
}

TEST(Tls, AMissingOrMismatchedCertificateIsAConfigError) {
  SelfSigned a, b;
  server::Config config;
  config.listen = "127.0.0.1:0";
  config.data_dir = ::testing::TempDir() + "tls-config";
  config.tls_cert = "/nonexistent.pem";
  config.tls_key = a.key;
  EXPECT_THROW(server::App{config}, server::ConfigError);
  config.tls_cert = a.cert;
  config.tls_key = b.key;  // another key
  EXPECT_THROW(server::App{config}, server::ConfigError);
  config.tls_key.clear();
  EXPECT_THROW(server::validate(config), server::ConfigError);
}

}  // namespace
}  // namespace sb::test
