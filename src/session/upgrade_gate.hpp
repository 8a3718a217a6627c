#pragma once
// Whether a WebSocket upgrade becomes a session, decided before the 101 is written: a refused
// upgrade is an HTTP error answer and never becomes a connection. In order:
//  1. the Origin must be allowed (session/origin.hpp), else 403 PERMISSION_DENIED;
//  2. a token on the upgrade (`?token=` or `Authorization: Bearer`) must verify, else 401
//     AUTH_FAILED (none at all is fine: the client may send one in `connect`, or act anonymously);
//  3. the connection must fit max_connections (503 UNAVAILABLE) and max_connections_per_ip
//     (429 RATE_LIMIT), counted by the clients' Admission.
// The same gate opens SSE and NDJSON streams (open_stream), which also take the token from the
// `switchboard_token` cookie (an EventSource cannot set headers), and must be able to act at once:
// without a valid token or anonymous access they are refused with 401.
// Anonymous access ([auth] anonymous) is decided here too: "loopback" trusts a peer on this
// machine only under a Host a DNS-rebinding page cannot take.
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>

#include "common/error.hpp"
#include "session/client.hpp"
#include "session/origin.hpp"
#include "session/permissions.hpp"
#include "session/sse_client.hpp"
#include "transport/http_types.hpp"

namespace sb::session {

// Who may act without a token ([auth] anonymous).
enum class AnonymousAccess { never, loopback, always };

class UpgradeGate {
 public:
  // `services.verifier` checks tokens (null: every token is refused); `services.admission`
  // counts connections (null: no cap). All three outlive the gate and every client it opens.
  UpgradeGate(ClientServices& services, const OriginPolicy& origins, AnonymousAccess anonymous)
      : services_(services), origins_(origins), anonymous_(anonymous) {}

  // On the worker thread that read `request` (`shard`, `io`: where the client will live). The new
  // client, its address counted by the admission until it is destroyed; or the refusal, whose
  // code gives the HTTP status (error_code_http_status) and whose message is the answer's.
  Result<std::unique_ptr<Client>> open(const transport::HttpRequest& request, std::size_t shard,
                                       boost::asio::io_context& io) const;
  // A GET /sse or /stream (docs/sse.md): the same checks, then SseClient::start on the URL's
  // channels (and Last-Event-ID); the refusal is the HTTP answer, before any byte of the stream.
  Result<std::unique_ptr<SseClient>> open_stream(const transport::HttpRequest& request, std::size_t shard,
                                                 boost::asio::io_context& io, StreamFormat format) const;

 private:
  // The identity a token on the upgrade proves; unverified when there is none.
  Result<Identity> identity_of(const transport::HttpRequest& request, bool cookie = false) const;
  bool anonymous_allowed(const transport::HttpRequest& request) const;
  Status admit(const std::string& address) const;

  ClientServices& services_;
  const OriginPolicy& origins_;
  AnonymousAccess anonymous_;
};

}  // namespace sb::session
