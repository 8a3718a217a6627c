#include "transport/tls.hpp"

#include <openssl/err.h>

#include <stdexcept>

namespace sb::transport {

namespace {
std::string last_error() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

TlsContext::TlsContext(const std::string& certificate_file, const std::string& key_file) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw std::runtime_error("TLS: " + last_error());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // Writes may be partial and retried from a buffer that moved: the connection's own queue.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx_, certificate_file.c_str()) != 1) {
    std::string why = last_error();
    SSL_CTX_free(ctx_);
    throw std::runtime_error("TLS certificate '" + certificate_file + "': " + why);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx_) != 1) {
    std::string why = last_error();
    SSL_CTX_free(ctx_);
    throw std::runtime_error("TLS key '" + key_file + "': " + why);
  }
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::new_session(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl) SSL_set_fd(ssl, fd);
  return ssl;
}

TlsWant tls_want(SSL* ssl, int result) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_NONE: return TlsWant::nothing;
    case SSL_ERROR_WANT_READ: return TlsWant::read;
    case SSL_ERROR_WANT_WRITE: return TlsWant::write;
    case SSL_ERROR_ZERO_RETURN: return TlsWant::closed;
    default:
      ERR_clear_error();
      return TlsWant::error;
  }
}

}  // namespace sb::transport
