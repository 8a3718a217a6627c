#include "auth/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sb::auth {

namespace json = boost::json;

namespace {

// Boost.JSON reads 1e999 as an infinite double. The parser's depth limit bounds the recursion.
bool numbers_are_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& item : v.get_array())
        if (!numbers_are_finite(item)) return false;
      return true;
    case json::kind::object:
      for (const auto& member : v.get_object())
        if (!numbers_are_finite(member.value())) return false;
      return true;
    default:
      return true;
  }
}

Error auth_error(std::string message) { return make_error(ErrorCode::auth_failed, std::move(message)); }

const EVP_MD* digest_for(std::string_view alg) {
  if (alg.size() != 5) return nullptr;
  std::string_view bits = alg.substr(2);
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  return nullptr;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string ec_group(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return {};
  return std::string(name, len);
}

// ES256 needs P-256, ES384 P-384: the curve is part of the algorithm.
std::size_t es_component_size(std::string_view alg, EVP_PKEY* key) {
  const std::string group = ec_group(key);
  if (alg == "ES256" && group == "prime256v1") return 32;
  if (alg == "ES384" && group == "secp384r1") return 48;
  return 0;
}

bool verify_with_key(std::string_view alg, const JwtKey& key, std::string_view signed_part,
                     const std::string& signature) {
  const EVP_MD* md = digest_for(alg);
  if (!md) return false;
  if (alg.substr(0, 2) == "HS") {
    if (key.secret.empty()) return false;
    std::string expected = hmac(md, key.secret, signed_part);
    return expected.size() == signature.size() &&
           CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
  }
  if (!key.public_key) return false;
  EVP_PKEY* pkey = key.public_key.get();
  std::string der;
  if (alg.substr(0, 2) == "RS") {
    if (alg == "RS256" || alg == "RS384" || alg == "RS512") {
      if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) return false;
    } else {
      return false;
    }
    der = signature;
  } else if (alg.substr(0, 2) == "ES") {
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
    const std::size_t n = es_component_size(alg, pkey);
    if (n == 0 || signature.size() != 2 * n) return false;
    // JWS carries R || S; OpenSSL verifies DER.
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data() + n), static_cast<int>(n), nullptr);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
  } else {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<std::vector<std::string>> string_array(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v) return out;
  if (!v->is_array()) return auth_error("claim '" + std::string(key) + "' must be an array of strings");
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) return auth_error("claim '" + std::string(key) + "' must be an array of strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<std::int64_t> time_claim(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::int64_t{0};
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return auth_error("claim '" + std::string(key) + "' must be a number");
}

std::shared_ptr<EVP_PKEY> wrap(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EvpKeyDeleter{}); }

std::string decode_b64_member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  std::string out;
  if (!v || !v->is_string() || !base64url_decode(v->get_string(), out))
    throw std::runtime_error("JWK member '" + std::string(key) + "' is missing or not base64url");
  return out;
}

std::shared_ptr<EVP_PKEY> key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = ctx && params && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) throw std::runtime_error(std::string("invalid ") + type + " JWK");
  return wrap(pkey);
}

}  // namespace

std::string base64url_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

bool base64url_decode(std::string_view in, std::string& out) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!(std::isalnum(static_cast<unsigned char>(c)))) return false;  // padding and junk refused
  }
  const std::size_t pad = (4 - s.size() % 4) % 4;
  if (pad == 3) return false;
  s.append(pad, '=');
  out.assign(s.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                          static_cast<int>(s.size()));
  if (n < 0) return false;
  out.resize(static_cast<std::size_t>(n) - pad);
  return true;
}

bool channel_matches(std::string_view pattern, std::string_view channel) {
  // Iterative glob with backtracking to the last '*'.
  std::size_t p = 0, c = 0, star = std::string_view::npos, mark = 0;
  while (c < channel.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = c;
    } else if (p < pattern.size() && pattern[p] == channel[c]) {
      ++p;
      ++c;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      c = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool any_matches(const std::vector<std::string>& patterns, std::string_view channel) {
  for (const auto& p : patterns)
    if (channel_matches(p, channel)) return true;
  return false;
}

namespace {

// A token's three parts, base64url-decoded, and the part its signature covers.
struct TokenParts {
  std::string header_text;
  std::string payload_text;
  std::string signature;
  std::string_view signed_part;  // header.payload, as sent
};

Result<TokenParts> split_token(std::string_view token) {
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return auth_error("malformed token: expected three base64url parts");
  TokenParts parts;
  if (!base64url_decode(token.substr(0, dot1), parts.header_text) ||
      !base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), parts.payload_text) ||
      !base64url_decode(token.substr(dot2 + 1), parts.signature))
    return auth_error("malformed token: bad base64url");
  parts.signed_part = token.substr(0, dot2);
  return parts;
}

struct TokenHeader {
  std::string alg;
  std::string kid;  // empty: none
};

Result<TokenHeader> read_header(const std::string& header_text) {
  json::error_code ec;
  json::value header = json::parse(header_text, ec);
  if (ec || !header.is_object()) return auth_error("malformed token header");
  const json::value* alg_value = header.get_object().if_contains("alg");
  if (!alg_value || !alg_value->is_string()) return auth_error("token header has no 'alg'");
  TokenHeader h;
  h.alg = std::string(alg_value->get_string());
  static const char* supported[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"};
  bool known = false;
  for (const char* a : supported) known |= h.alg == a;
  if (!known) return auth_error("token algorithm '" + h.alg + "' is not accepted");
  if (const json::value* k = header.get_object().if_contains("kid"); k && k->is_string()) h.kid = k->get_string();
  return h;
}

// True when one of `keys` (the one the kid names, or each one when either side has no kid)
// verifies the signature.
bool signed_by_any(const std::vector<JwtKey>& keys, const TokenHeader& header, const TokenParts& parts) {
  for (const auto& key : keys) {
    if (!header.kid.empty() && !key.kid.empty() && key.kid != header.kid) continue;
    if (verify_with_key(header.alg, key, parts.signed_part, parts.signature)) return true;
  }
  return false;
}

// The claims of a verified token's payload; exp and nbf are read, not yet checked.
Result<Claims> read_claims(const std::string& payload_text) {
  json::error_code ec;
  json::value payload = json::parse(payload_text, ec);
  if (ec || !payload.is_object()) return auth_error("malformed token payload");
  const json::object& o = payload.get_object();
  Claims claims;
  // Every token names its user: an empty user would own `user#` and share presence with all.
  const json::value* sub = o.if_contains("sub");
  if (!sub || !sub->is_string() || sub->get_string().empty()) return auth_error("claim 'sub' (a non-empty string) is required");
  claims.sub = std::string(sub->get_string());
  if (const json::value* info = o.if_contains("info")) {
    if (!info->is_object()) return auth_error("claim 'info' must be an object");
    // Serialized again below: a number beyond a double's range would come out as Infinity,
    // which is not JSON, and every presence answer would carry it.
    if (!numbers_are_finite(*info)) return auth_error("claim 'info' holds a number out of range");
    claims.info = json::serialize(*info);
  }
  if (const json::value* channel = o.if_contains("channel")) {
    if (!channel->is_string()) return auth_error("claim 'channel' must be a string");
    claims.channel = std::string(channel->get_string());
  }
  auto channels = string_array(o, "channels");
  if (!channels) return channels.error();
  claims.channels = std::move(*channels);
  auto publish = string_array(o, "publish");
  if (!publish) return publish.error();
  claims.publish = std::move(*publish);
  auto subs = string_array(o, "subs");
  if (!subs) return subs.error();
  claims.subs = std::move(*subs);
  auto exp = time_claim(o, "exp");
  if (!exp) return exp.error();
  auto nbf = time_claim(o, "nbf");
  if (!nbf) return nbf.error();
  claims.exp = *exp;
  claims.nbf = *nbf;
  return claims;
}

}  // namespace

JwtVerifier::JwtVerifier(std::vector<JwtKey> keys, std::chrono::seconds leeway)
    : keys_(std::move(keys)), leeway_(leeway) {}

Result<Claims> JwtVerifier::verify(std::string_view token, std::int64_t now) const {
  if (keys_.empty()) return auth_error("no key is configured to verify tokens");
  if (token.size() > 8192) return auth_error("token too long");
  auto parts = split_token(token);
  if (!parts) return parts.error();
  auto header = read_header(parts->header_text);
  if (!header) return header.error();
  if (!signed_by_any(keys_, *header, *parts))
    return auth_error("invalid token signature (or no key for its algorithm/kid)");
  auto claims = read_claims(parts->payload_text);
  if (!claims) return claims;
  const std::int64_t leeway = leeway_.count();
  if (claims->exp != 0 && now > claims->exp + leeway) return auth_error("token expired");
  if (claims->nbf != 0 && now + leeway < claims->nbf) return auth_error("token not valid yet (nbf)");
  return claims;
}

JwtKey key_from_secret(std::string secret, std::string kid) {
  if (secret.size() < 32) throw std::runtime_error("an HS* secret must be at least 32 bytes");
  return JwtKey{std::move(kid), std::move(secret), nullptr};
}

JwtKey key_from_pem_file(const std::string& path, std::string kid) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (!bio) throw std::runtime_error("cannot read public key file '" + path + "'");
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!pkey) throw std::runtime_error("'" + path + "' holds no PEM public key");
  const int type = EVP_PKEY_get_base_id(pkey);
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
    EVP_PKEY_free(pkey);
    throw std::runtime_error("'" + path + "': only RSA and EC public keys are supported");
  }
  return JwtKey{std::move(kid), {}, wrap(pkey)};
}

std::vector<JwtKey> keys_from_jwks(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !root.is_object() || !root.get_object().contains("keys") || !root.get_object().at("keys").is_array())
    throw std::runtime_error("a JWKS is a JSON object with a 'keys' array");
  std::vector<JwtKey> keys;
  for (const auto& item : root.get_object().at("keys").get_array()) {
    if (!item.is_object()) throw std::runtime_error("a JWK must be an object");
    const json::object& k = item.get_object();
    std::string kid;
    if (const json::value* v = k.if_contains("kid"); v && v->is_string()) kid = v->get_string();
    const json::value* kty = k.if_contains("kty");
    if (!kty || !kty->is_string()) throw std::runtime_error("a JWK needs 'kty'");
    if (kty->get_string() == "oct") {
      keys.push_back(key_from_secret(decode_b64_member(k, "k"), kid));
    } else if (kty->get_string() == "RSA") {
      std::string n = decode_b64_member(k, "n"), e = decode_b64_member(k, "e");
      OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
      BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
      BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
      auto pkey = key_from_params("RSA", bld);
      OSSL_PARAM_BLD_free(bld);
      BN_free(bn_n);
      BN_free(bn_e);
      keys.push_back(JwtKey{kid, {}, pkey});
    } else if (kty->get_string() == "EC") {
      const json::value* crv = k.if_contains("crv");
      std::string group = crv && crv->is_string() && crv->get_string() == "P-256"   ? "prime256v1"
                          : crv && crv->is_string() && crv->get_string() == "P-384" ? "secp384r1"
                                                                                      : "";
      if (group.empty()) throw std::runtime_error("EC JWK: only P-256 and P-384 are supported");
      std::string point = "\x04" + decode_b64_member(k, "x") + decode_b64_member(k, "y");
      OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
      auto pkey = key_from_params("EC", bld);
      OSSL_PARAM_BLD_free(bld);
      keys.push_back(JwtKey{kid, {}, pkey});
    } else {
      throw std::runtime_error("unsupported JWK kty '" + std::string(kty->get_string()) + "'");
    }
  }
  return keys;
}

std::vector<JwtKey> keys_from_jwks_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read JWKS file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return keys_from_jwks(text.str());
}

static std::string header_json(std::string_view alg, std::string_view kid) {
  std::string h = R"({"alg":")" + std::string(alg) + R"(","typ":"JWT")";
  if (!kid.empty()) h += R"(,"kid":")" + std::string(kid) + "\"";
  return h + "}";
}

std::string sign_hs(std::string_view alg, std::string_view secret, std::string_view payload_json, std::string_view kid) {
  std::string signed_part = base64url_encode(header_json(alg, kid)) + "." + base64url_encode(payload_json);
  const EVP_MD* md = digest_for(alg);
  if (!md) throw std::invalid_argument("unknown HS algorithm");
  return signed_part + "." + base64url_encode(hmac(md, secret, signed_part));
}

std::string sign_with_key(std::string_view alg, EVP_PKEY* key, std::string_view payload_json, std::string_view kid) {
  std::string signed_part = base64url_encode(header_json(alg, kid)) + "." + base64url_encode(payload_json);
  const EVP_MD* md = digest_for(alg);
  if (!md) throw std::invalid_argument("unknown algorithm");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg.substr(0, 2) == "ES") {
    const std::size_t n = alg == "ES256" ? 32 : 48;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(2 * n, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(n));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data() + n), static_cast<int>(n));
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return signed_part + "." + base64url_encode(sig);
}

}  // namespace sb::auth
