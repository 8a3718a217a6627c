#pragma once
// One HTTP/1.1 connection before (or instead of) a WebSocket upgrade, plain or TLS: the one
// place that speaks HTTP on the server side. It reads in a loop into a RequestReader (Beast's
// parser with our framing rules), answers plain requests through the HttpHandler, streams a
// body to a BodySink when the BodyStreamHandler asks for it, and on a valid upgrade writes the
// 101 and hands the socket (and its TLS session) to WsConnection.
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "transport/server.hpp"

namespace sb::transport {

class TlsContext;

// Starts a session on `socket` (on the worker's thread). With `tls`, the TLS handshake comes
// first. `slot` is the connection's place in the HttpConnectionGate, given back when it closes or
// upgrades; when `refuse` is set, the session answers 503 at once and closes (the caps).
void start_http_session(Worker& worker, boost::asio::ip::tcp::socket socket, const TlsContext* tls,
                        const HttpHandlers& handlers, HttpConnectionGate::Slot slot, bool refuse);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string websocket_accept_key(std::string_view client_key);

}  // namespace sb::transport
