// Fuzz target: the HTTP request reader (Beast's parser with the session's limits and
// Transfer-Encoding rules) on arbitrary bytes, request after request as a keep-alive connection
// would feed it, in pieces whose sizes the input picks. The same bytes then go through an
// in-memory TLS connection (OpenSSL over a BIO pair, one handshake for the whole run) and are
// fed as the session feeds what SSL_read returns, record boundaries wherever the input puts them.
// Must never crash, buffer beyond its caps, or answer with a status outside its list.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "transport/http_request_reader.hpp"

namespace {

using sb::transport::RequestLimits;
using sb::transport::RequestReader;

// The session's limits (http_session.cpp) and a tiny body limit, to reach the 413 paths.
const RequestLimits session_limits{};
const RequestLimits tiny_limits{.header_limit = 16 * 1024, .max_body = 64, .max_chunk_line = 4 * 1024};

void check(bool ok) {
  if (!ok) std::abort();
}

// Feeds `bytes` to `reader` as `next_piece` dictates, parsing after each piece as the session does.
template <class NextPiece>
void run(RequestReader& reader, const std::string& bytes, bool stream, NextPiece next_piece) {
  std::size_t pos = 0, streamed = 0;
  for (int requests = 0; requests < 64;) {
    switch (reader.parse()) {
      case RequestReader::Step::refused: {
        const int s = reader.refusal().status;
        check(s == 400 || s == 413 || s == 431 || s == 501);
        check(!reader.refusal().message.empty());
        return;
      }
      case RequestReader::Step::head:
        check(!reader.head().method.empty());
        if (stream && reader.has_body()) reader.stream_body_to([&](std::string_view b) { streamed += b.size(); });
        continue;
      case RequestReader::Step::done:
        check(reader.request().body.size() <= session_limits.max_body);
        reader.reset();
        ++requests;
        continue;
      case RequestReader::Step::need_more:
        break;
    }
    if (pos >= bytes.size()) return;
    const std::size_t n = std::min(next_piece(), bytes.size() - pos);
    reader.feed(bytes.data() + pos, n);
    pos += n;
  }
}

struct TlsPair {
  SSL_CTX* server_ctx = nullptr;
  SSL_CTX* client_ctx = nullptr;
  SSL* server = nullptr;
  SSL* client = nullptr;
  bool ready = false;

  TlsPair() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(server_ctx, x);
    SSL_CTX_use_PrivateKey(server_ctx, key);
    // As the server's context (transport/tls.cpp).
    SSL_CTX_set_mode(server_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                     SSL_MODE_RELEASE_BUFFERS);
    client_ctx = SSL_CTX_new(TLS_client_method());
    X509_free(x);
    EVP_PKEY_free(key);
    server = SSL_new(server_ctx);
    client = SSL_new(client_ctx);
    BIO *server_bio = nullptr, *client_bio = nullptr;
    BIO_new_bio_pair(&server_bio, 1 << 20, &client_bio, 1 << 20);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
    for (int i = 0; i < 100 && !ready; ++i) {
      const int c = SSL_do_handshake(client);
      const int s = SSL_do_handshake(server);
      ready = c == 1 && s == 1;
    }
    ERR_clear_error();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the piece sizes and whether bodies are streamed (BodySink).
  const std::uint8_t control = data[0];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool stream = control & 0x80;
  std::size_t step = (control & 0x7f) + 1;

  {
    RequestReader reader(session_limits);
    run(reader, bytes, stream, [&] { return step; });
  }
  {
    RequestReader reader(tiny_limits);
    run(reader, bytes, stream, [&] { return step = step % 13 + 1; });
  }

  // TLS: the client writes the bytes in `step`-sized records; the server reads what arrived.
  static TlsPair tls;
  if (!tls.ready) std::abort();
  RequestReader reader(session_limits);
  std::string plain;
  for (std::size_t pos = 0; pos < bytes.size();) {
    const std::size_t n = std::min(step, bytes.size() - pos);
    if (SSL_write(tls.client, bytes.data() + pos, static_cast<int>(n)) <= 0) std::abort();
    pos += n;
  }
  // SSL_read returns at most one record: the reader gets the pieces the session would get.
  std::vector<std::size_t> reads;
  char buffer[16 * 1024];
  for (;;) {
    const int n = SSL_read(tls.server, buffer, sizeof buffer);
    if (n <= 0) break;
    plain.append(buffer, static_cast<std::size_t>(n));
    reads.push_back(static_cast<std::size_t>(n));
  }
  ERR_clear_error();
  if (plain != bytes) std::abort();  // the TLS pair itself must be transparent
  std::size_t next = 0;
  run(reader, plain, stream, [&] { return next < reads.size() ? reads[next++] : plain.size(); });
  return 0;
}
