// JSON Web Signatures (RFC 7515) and JSON Web Tokens (RFC 7519) in the
// compact serialization, on OpenSSL 3 and libsodium. Usable without gRPC.
//
// API summary
//   JwtKey          one key: an id (kid), its material (an HMAC secret, an
//                   RSA, P-256/P-384/P-521 or Ed25519 key, public or private)
//                   and the algorithms it may be used with. The allow-list is
//                   bound to the key; a token's header never picks it.
//     JwtKey::hmac(kid, secret, algorithms)      HS256/HS384/HS512
//     JwtKey::from_pem(kid, pem, algorithms)     SPKI, PKCS#8 or PKCS#1 PEM
//     JwtKey::from_jwk(json, algorithms)         RFC 7517 JWK
//   JwtKeySet       the keys a verifier trusts, looked up by kid.
//     JwtKeySet::from_jwks(json, algorithms)     {"keys": [JWK, ...]}
//     JwtKeySet::load_file(path, algorithms)     a JWKS file
//   verify_jws(token, keys, options)            -> Result<JwsVerified>
//   verify_jwt(token, keys, options, now)       -> Result<JwtClaims>
//   sign_jws(payload, key, algorithm, options)  -> Result<std::string>
//   sign_jwt(claims_json, key, algorithm, options, now) -> Result<std::string>
//
// Example (a Socket.IO handshake):
//   auto keys = JwtKeySet::load_file("/etc/heavylift/jwt.jwks.json", {});
//   JwtVerifyOptions options;
//   options.audiences = {"chat"};
//   auto claims = verify_jwt(token, keys.value(), options, std::chrono::system_clock::now());
//   if (!claims.ok()) reject(claims.error());  // UNAUTHENTICATED, reason EXPIRED, ...
//   use(claims.value().subject, claims.value().json);  // json contains custom claims
//
// Rules
//   - Algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512
//     and EdDSA (Ed25519 only). "none" is never accepted. An algorithm must be
//     in the key's allow-list and fit the key's type (an RSA public key can
//     never be used as an HMAC secret, whatever the header says).
//   - HMAC secrets are at least as long as the hash output (RFC 7518 3.2):
//     32, 48 or 64 bytes. RSA keys have at least 2048 bits.
//   - A token with a "kid" is checked against that key only; without one,
//     against every key whose allow-list holds the header's algorithm.
//   - Headers with "crit", "b64" or unknown critical extensions are rejected;
//     keys embedded in headers ("jwk", "jku", "x5c", "x5u") are ignored.
//   - JSON in headers and claims must be an object with unique member names.
//
// Errors
//   Every failure of the token itself is UNAUTHENTICATED with field "token"
//   and a reason: MALFORMED, ALGORITHM_NOT_ALLOWED, UNKNOWN_KEY,
//   BAD_SIGNATURE, EXPIRED, NOT_YET_VALID, MISSING_CLAIM, AUDIENCE_MISMATCH,
//   ISSUER_MISMATCH. A token longer than `max_token_bytes` is
//   INVALID_ARGUMENT naming the bound. Bad keys, options and claims given to
//   the loaders and signers are INVALID_ARGUMENT naming the field.
//
// Thread-safety: JwtKey and JwtKeySet are immutable once built and may be
// shared by any number of threads; the functions keep no state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

enum class JwsAlgorithm {
  kHS256, kHS384, kHS512,
  kRS256, kRS384, kRS512,
  kPS256, kPS384, kPS512,
  kES256, kES384, kES512,
  kEdDSA,
};

// Returns the JOSE name ("HS256", ..., "EdDSA").
const char* jws_algorithm_name(JwsAlgorithm algorithm);
// Parses a JOSE name, case-sensitively. "none" and unknown names give nullopt.
std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name);
// Parses a comma-separated list such as "HS256,EdDSA". Returns
// INVALID_ARGUMENT naming `field` for an unknown name.
Result<std::vector<JwsAlgorithm>> parse_jws_algorithm_list(std::string_view list, std::string_view field);

enum class JwtKeyType { kOct, kRsa, kEc, kOkp };

class JwtKey {
 public:
  // An HMAC secret. `algorithms` must be HS* and non-empty; the secret must
  // be at least as long as the largest hash among them.
  static Result<JwtKey> hmac(std::string kid, std::string_view secret, std::vector<JwsAlgorithm> algorithms);
  // A PEM public key (SPKI) or private key (PKCS#8, or PKCS#1 for RSA).
  // `algorithms` must be non-empty and fit the key type.
  static Result<JwtKey> from_pem(std::string kid, std::string_view pem, std::vector<JwsAlgorithm> algorithms);
  // An RFC 7517 JWK ("kty" oct, RSA, EC or OKP/Ed25519). The allow-list is the
  // JWK's "alg" when present (then `algorithms`, if non-empty, must hold it),
  // else `algorithms`, else an error. A JWK with "use" other than "sig", or
  // whose "key_ops" lacks "verify" and "sign", is rejected.
  static Result<JwtKey> from_jwk(std::string_view json, const std::vector<JwsAlgorithm>& algorithms);
  // Generates a key for `algorithm` (HMAC: 32/48/64 random bytes; RSA: 2048
  // bits; EC: the algorithm's curve; EdDSA: Ed25519).
  static Result<JwtKey> generate(std::string kid, JwsAlgorithm algorithm);

  const std::string& kid() const;
  JwtKeyType type() const;
  const std::vector<JwsAlgorithm>& algorithms() const;
  bool allows(JwsAlgorithm algorithm) const;
  // True when the key can sign (an HMAC secret or a private key).
  bool can_sign() const;
  // True when "key_ops" allowed verifying (always true without "key_ops").
  bool can_verify() const;
  // The public part as a JWK (for oct keys, the secret: keep it private).
  std::string public_jwk() const;
  // PEM: SPKI for the public part, PKCS#8 for the private part (empty for
  // public-only and oct keys).
  std::string public_pem() const;
  std::string private_pem() const;

  struct Material;  // defined in jwt.cc

 private:
  explicit JwtKey(std::shared_ptr<const Material> material) : material_(std::move(material)) {}
  std::shared_ptr<const Material> material_;
  friend struct JwtKeyAccess;
};

class JwtKeySet {
 public:
  // Adds `key`. Returns INVALID_ARGUMENT when a key with the same non-empty
  // kid is already present.
  Status add(JwtKey key);
  // Parses {"keys": [...]} (a JWKS), each key through JwtKey::from_jwk with
  // `algorithms` as the allow-list for keys without "alg".
  static Result<JwtKeySet> from_jwks(std::string_view json, const std::vector<JwsAlgorithm>& algorithms);
  // Reads a JWKS file (at most 1 MiB).
  static Result<JwtKeySet> load_file(const std::string& path, const std::vector<JwsAlgorithm>& algorithms);

  // Returns the key with `kid`, or nullptr. The pointer lives as long as the set.
  const JwtKey* find(std::string_view kid) const;
  const std::vector<JwtKey>& keys() const { return keys_; }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<JwtKey> keys_;
};

struct JwsVerifyOptions {
  // Tokens longer than this are refused before any parsing.
  size_t max_token_bytes = 16384;
  // When non-empty, a further allow-list applied on top of each key's.
  std::vector<JwsAlgorithm> algorithms;
};

struct JwsVerified {
  JwsAlgorithm algorithm = JwsAlgorithm::kHS256;
  std::string kid;          // the header's kid (may be empty)
  std::string header_json;  // the decoded protected header
  std::string payload;      // the decoded payload bytes
};

// Checks a compact JWS (header.payload.signature) against `keys`.
Result<JwsVerified> verify_jws(std::string_view token, const JwtKeySet& keys, const JwsVerifyOptions& options);

struct JwtVerifyOptions : JwsVerifyOptions {
  // Accepted audiences: the token's "aud" (a string or an array) must hold
  // one of them. Empty means "aud" is not checked.
  std::vector<std::string> audiences;
  // Expected "iss"; empty means not checked.
  std::string issuer;
  // Expected "sub"; empty means not checked.
  std::string subject;
  // Tolerance for clock differences in exp, nbf and iat checks.
  std::chrono::seconds clock_skew{30};
  // When true, a token without "exp" is rejected (reason MISSING_CLAIM).
  bool require_exp = true;
  // When non-zero, tokens whose "iat" is older than this are rejected as
  // EXPIRED (and "iat" becomes required).
  std::chrono::seconds max_age{0};
};

struct JwtClaims {
  JwsAlgorithm algorithm = JwsAlgorithm::kHS256;
  std::string kid;
  std::string subject;                // "sub", empty when absent
  std::string issuer;                 // "iss"
  std::vector<std::string> audience;  // "aud" as a list
  std::string jwt_id;                 // "jti"
  // NumericDate claims in seconds since the epoch (fractions kept).
  std::optional<double> expires_at;   // "exp"
  std::optional<double> not_before;   // "nbf"
  std::optional<double> issued_at;    // "iat"
  // The whole claims set as sent, for custom claims (rooms, roles, ...).
  std::string json;
};

// Verifies the signature as verify_jws does, then parses the payload as a
// claims set and checks exp (now <= exp + skew), nbf (now >= nbf - skew),
// iat (not after now + skew), aud, iss and sub. Registered claims of the wrong
// JSON type are MALFORMED.
Result<JwtClaims> verify_jwt(std::string_view token, const JwtKeySet& keys, const JwtVerifyOptions& options,
                             std::chrono::system_clock::time_point now);

struct JwsSignOptions {
  // "typ" header; empty leaves it out.
  std::string type = "JWT";
  // Include the key's kid (when it has one) in the header.
  bool include_kid = true;
};

// Signs `payload` with `key` under `algorithm`, which must be in the key's
// allow-list. Returns INVALID_ARGUMENT naming "key" or "algorithm" otherwise.
Result<std::string> sign_jws(std::string_view payload, const JwtKey& key, JwsAlgorithm algorithm,
                             const JwsSignOptions& options);

struct JwtSignOptions : JwsSignOptions {
  // When non-zero, sets "exp" to now + expires_in (unless the claims set it).
  std::chrono::seconds expires_in{0};
  // Sets "iat" to now unless the claims set it.
  bool set_issued_at = true;
};

// Signs the claims set `claims_json` (a JSON object; registered claims must
// have their RFC 7519 types) after adding exp/iat as the options ask.
Result<std::string> sign_jwt(std::string_view claims_json, const JwtKey& key, JwsAlgorithm algorithm,
                             const JwtSignOptions& options, std::chrono::system_clock::time_point now);

}  // namespace heavylift
