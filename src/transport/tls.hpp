#pragma once
// TLS for the listening port (wss:// and https://), with OpenSSL driven directly on the
// non-blocking socket: the session and the WebSocket connection keep their own I/O loops, and
// only the read and write calls change (SSL_read / SSL_write instead of recv / sendmsg).
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace sb::transport {

class TlsContext {
 public:
  // Loads a PEM certificate chain and its private key. Throws std::runtime_error with the
  // reason (unreadable file, key not matching the certificate, ...).
  TlsContext(const std::string& certificate_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side SSL object on `fd`, ready for SSL_accept. The caller owns it.
  SSL* new_session(int fd) const;

 private:
  SSL_CTX* ctx_ = nullptr;
};

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// What an SSL call asks for before it can go on.
enum class TlsWant { nothing, read, write, closed, error };
TlsWant tls_want(SSL* ssl, int result);

}  // namespace sb::transport
