#pragma once
// A self-signed P-256 certificate for CN=localhost, written as PEM files for a test's TLS server.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sb::test {

inline void write_self_signed(const std::string& cert, const std::string& key) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, pkey, EVP_sha256());
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

// The files live as long as the object, under the test's temporary directory.
struct SelfSigned {
  std::string cert, key;
  SelfSigned() {
    static int counter = 0;
    const std::string base = ::testing::TempDir() + "tls-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    cert = base + "-cert.pem";
    key = base + "-key.pem";
    write_self_signed(cert, key);
  }
  ~SelfSigned() {
    std::remove(cert.c_str());
    std::remove(key.c_str());
  }
};

}  // namespace sb::test
