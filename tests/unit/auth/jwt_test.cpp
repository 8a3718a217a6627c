#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <fstream>

namespace sb::auth {
namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";
constexpr std::int64_t now = 1'800'000'000;

std::shared_ptr<EVP_PKEY> rsa_key() { return std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(2048), EvpKeyDeleter{}); }
std::shared_ptr<EVP_PKEY> ec_key(const char* curve) {
  return std::shared_ptr<EVP_PKEY>(EVP_EC_gen(curve), EvpKeyDeleter{});
}

// The public half of a key pair, as the server would load it.
JwtKey public_of(EVP_PKEY* pair, std::string kid = {}) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pair);
  EVP_PKEY* pub = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return JwtKey{std::move(kid), {}, std::shared_ptr<EVP_PKEY>(pub, EvpKeyDeleter{})};
}

std::string pem_of(EVP_PKEY* pair) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pair);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

TEST(Jwt, VerifiesEveryHmacAlgorithmAndReadsTheClaims) {
  JwtVerifier v({key_from_secret(secret)}, std::chrono::seconds(0));
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    auto token = sign_hs(alg, secret,
                         R"({"sub":"u42","info":{"name":"Ann"},"channels":["chat:*"],"publish":["chat:1"],"exp":)" +
                             std::to_string(now + 60) + "}");
    auto claims = v.verify(token, now);
    ASSERT_TRUE(claims.ok()) << alg << ": " << claims.error().message;
    EXPECT_EQ(claims->sub, "u42");
    EXPECT_EQ(claims->info, R"({"name":"Ann"})");
    EXPECT_EQ(claims->channels, std::vector<std::string>{"chat:*"});
    EXPECT_EQ(claims->publish, std::vector<std::string>{"chat:1"});
    EXPECT_EQ(claims->exp, now + 60);
  }
}

TEST(Jwt, ReadsTheSubsClaimAsAListOfChannels) {
  JwtVerifier v({key_from_secret(secret)}, std::chrono::seconds(0));
  auto claims = v.verify(sign_hs("HS256", secret, R"({"sub":"u1","subs":["dash:a","team:b"]})"), now);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->subs, (std::vector<std::string>{"dash:a", "team:b"}));
  EXPECT_TRUE(v.verify(sign_hs("HS256", secret, R"({"sub":"u1"})"), now)->subs.empty());
  // Centrifugo's object form is not ours: refused, not silently ignored.
  auto object = v.verify(sign_hs("HS256", secret, R"({"sub":"u1","subs":{"dash:a":{}}})"), now);
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.error().message, "claim 'subs' must be an array of strings");
}

// The info claim is written again into presence answers: Infinity there would not be JSON.
TEST(Jwt, RefusesAnInfoClaimWithANumberOutOfRange) {
  JwtVerifier v({key_from_secret(secret)}, std::chrono::seconds(0));
  for (const char* info : {R"({"score":1e999})", R"({"a":[1,{"b":-1e400}]})"}) {
    auto token = sign_hs("HS256", secret, std::string(R"({"sub":"u42","info":)") + info + "}");
    auto claims = v.verify(token, now);
    ASSERT_FALSE(claims.ok()) << info;
    EXPECT_NE(claims.error().message.find("out of range"), std::string::npos) << claims.error().message;
  }
  auto fine = v.verify(sign_hs("HS256", secret, R"({"sub":"u42","info":{"score":1.5e300}})"), now);
  ASSERT_TRUE(fine.ok()) << fine.error().message;
}

TEST(Jwt, VerifiesRsaAndEcSignatures) {
  auto rsa = rsa_key();
  auto p256 = ec_key("P-256");
  auto p384 = ec_key("P-384");
  JwtVerifier v({public_of(rsa.get()), public_of(p256.get()), public_of(p384.get())}, std::chrono::seconds(0));
  for (const char* alg : {"RS256", "RS384", "RS512"})
    EXPECT_TRUE(v.verify(sign_with_key(alg, rsa.get(), R"({"sub":"r"})"), now).ok()) << alg;
  EXPECT_TRUE(v.verify(sign_with_key("ES256", p256.get(), R"({"sub":"e"})"), now).ok());
  EXPECT_TRUE(v.verify(sign_with_key("ES384", p384.get(), R"({"sub":"e"})"), now).ok());
  // A curve that does not go with the algorithm is refused.
  EXPECT_FALSE(v.verify(sign_with_key("ES384", p256.get(), R"({"sub":"e"})"), now).ok());
}

TEST(Jwt, RefusesAlgNoneTamperingAndTheHsRsConfusion) {
  auto rsa = rsa_key();
  JwtVerifier v({public_of(rsa.get())}, std::chrono::seconds(0));
  std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(R"({"sub":"x"})") + ".";
  auto r = v.verify(none, now);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::auth_failed);
  // HS256 "signed" with the server's public key as the secret: the classic confusion.
  EXPECT_FALSE(v.verify(sign_hs("HS256", pem_of(rsa.get()), R"({"sub":"x"})"), now).ok());
  // A valid token with its payload swapped.
  std::string good = sign_with_key("RS256", rsa.get(), R"({"sub":"x"})");
  auto first = good.find('.'), second = good.rfind('.');
  std::string forged = good.substr(0, first + 1) + base64url_encode(R"({"sub":"admin"})") + good.substr(second);
  EXPECT_FALSE(v.verify(forged, now).ok());
  // A secret key does not verify RS tokens and vice versa.
  JwtVerifier hs({key_from_secret(secret)}, std::chrono::seconds(0));
  EXPECT_FALSE(hs.verify(good, now).ok());
}

TEST(Jwt, ChecksExpAndNbfWithTheLeeway) {
  JwtVerifier strict({key_from_secret(secret)}, std::chrono::seconds(0));
  JwtVerifier lenient({key_from_secret(secret)}, std::chrono::seconds(30));
  auto expired = sign_hs("HS256", secret, R"({"sub":"x","exp":)" + std::to_string(now - 10) + "}");
  EXPECT_FALSE(strict.verify(expired, now).ok());
  EXPECT_NE(strict.verify(expired, now).error().message.find("expired"), std::string::npos);
  EXPECT_TRUE(lenient.verify(expired, now).ok());
  auto early = sign_hs("HS256", secret, R"({"sub":"x","nbf":)" + std::to_string(now + 10) + "}");
  EXPECT_FALSE(strict.verify(early, now).ok());
  EXPECT_TRUE(lenient.verify(early, now).ok());
}

TEST(Jwt, MalformedTokensGetAuthFailedNotACrash) {
  JwtVerifier v({key_from_secret(secret)}, std::chrono::seconds(0));
  for (const std::string& t : {std::string(""), std::string("a"), std::string("a.b"), std::string("a.b.c.d"),
                               std::string("!!!.???.***"), base64url_encode("not json") + ".e30.",
                               base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode("[1]") + ".AAAA",
                               std::string(10000, 'a')}) {
    auto r = v.verify(t, now);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.error().code, ErrorCode::auth_failed);
  }
  auto wrong_types = sign_hs("HS256", secret, R"({"sub":5})");
  EXPECT_FALSE(v.verify(wrong_types, now).ok());
  EXPECT_FALSE(v.verify(sign_hs("HS256", secret, R"({"channels":"chat:*"})"), now).ok());
}

TEST(Jwt, JwksKeysAreChosenByKidForRotation) {
  const std::string jwks = R"({"keys":[{"kty":"oct","kid":"old","k":")" + base64url_encode(secret) +
                           R"("},{"kty":"oct","kid":"new","k":")" + base64url_encode(secret + "-new") + R"("}]})";
  JwtVerifier v(keys_from_jwks(jwks), std::chrono::seconds(0));
  EXPECT_TRUE(v.verify(sign_hs("HS256", secret, R"({"sub":"a"})", "old"), now).ok());
  EXPECT_TRUE(v.verify(sign_hs("HS256", secret + "-new", R"({"sub":"a"})", "new"), now).ok());
  EXPECT_FALSE(v.verify(sign_hs("HS256", secret, R"({"sub":"a"})", "new"), now).ok());
  EXPECT_THROW(keys_from_jwks(R"({"keys":[{"kty":"RSA","n":"!!"}]})"), std::runtime_error);
  EXPECT_THROW(keys_from_jwks("[]"), std::runtime_error);
}

TEST(Jwt, LoadsPemFilesAndRefusesShortSecrets) {
  auto ec = ec_key("P-256");
  const std::string path = ::testing::TempDir() + "pub-" + std::to_string(::getpid()) + ".pem";
  std::ofstream(path) << pem_of(ec.get());
  JwtVerifier v({key_from_pem_file(path)}, std::chrono::seconds(0));
  EXPECT_TRUE(v.verify(sign_with_key("ES256", ec.get(), R"({"sub":"a"})"), now).ok());
  EXPECT_THROW(key_from_pem_file("/nonexistent.pem"), std::runtime_error);
  EXPECT_THROW(key_from_secret("short"), std::runtime_error);
}

TEST(ChannelPatterns, GlobWithStar) {
  EXPECT_TRUE(channel_matches("chat:*", "chat:room-1"));
  EXPECT_TRUE(channel_matches("*", "anything"));
  EXPECT_TRUE(channel_matches("chat:*:typing", "chat:42:typing"));
  EXPECT_FALSE(channel_matches("chat:*", "news:1"));
  EXPECT_FALSE(channel_matches("chat:1", "chat:10"));
  EXPECT_TRUE(channel_matches("user#42", "user#42"));
  EXPECT_TRUE(any_matches({"a", "b*"}, "bee"));
  EXPECT_FALSE(any_matches({}, "x"));
}

}  // namespace
}  // namespace sb::auth
