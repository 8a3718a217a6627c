#pragma once
// One HTTP/1.1 connection before (or instead of) a WebSocket upgrade. The only file that speaks
// Beast's HTTP: it parses requests with Beast's parser, answers plain requests through the
// HttpHandler, and on a valid upgrade writes the 101 and hands the raw socket to WsConnection.
#include <boost/asio/ip/tcp.hpp>

#include <memory>

#include "transport/server.hpp"

namespace sb::transport {

void start_http_session(Worker& worker, boost::asio::ip::tcp::socket socket, const UpgradeHandler& on_upgrade,
                        const HttpHandler& on_http, const BodyStreamHandler& on_body);

// The same on a TLS port: the TLS handshake first, then HTTP and the upgrade inside it.
class TlsContext;
void start_tls_session(Worker& worker, boost::asio::ip::tcp::socket socket, const TlsContext& tls,
                       const UpgradeHandler& on_upgrade, const HttpHandler& on_http);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string websocket_accept_key(std::string_view client_key);

}  // namespace sb::transport
