// Public and private signature keys (RSA, ECDSA on P-256/P-384/P-521 and
// Ed25519) with the sign and verify operations JWS and the signature tasks
// share. RSA and ECDSA run on OpenSSL 3; Ed25519 runs on libsodium.
//
// ECDSA signatures are in the fixed-length IEEE P1363 form (r || s, each the
// curve's field size, as JWS uses); the DER form converts with
// ecdsa_der_to_p1363 and ecdsa_p1363_to_der.
//
// Thread-safety: an AsymmetricKey is immutable once built; copies share the
// key, and any number of threads may sign and verify with it at once.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace heavylift {

enum class AsymmetricKind { kRsa, kEcP256, kEcP384, kEcP521, kEd25519 };

// "RSA", "P-256", "P-384", "P-521", "Ed25519" (the JWK names).
const char* asymmetric_kind_name(AsymmetricKind kind);

enum class SignatureDigest { kSha256, kSha384, kSha512 };
enum class RsaPadding { kPkcs1, kPss };

// OpenSSL's digest for `digest` (a static object; never freed).
const EVP_MD* signature_digest_md(SignatureDigest digest);

// How to sign: the digest for RSA and ECDSA (ignored for Ed25519) and the
// RSA padding (PSS uses a salt as long as the digest and MGF1 with the same
// digest, as RFC 7518 PS256 does).
struct SignatureParams {
  SignatureDigest digest = SignatureDigest::kSha256;
  RsaPadding padding = RsaPadding::kPkcs1;
};

class AsymmetricKey {
 public:
  // Reads a PEM public key (SPKI) or private key (PKCS#8, PKCS#1 RSA or SEC1
  // EC). Encrypted PEM is refused. Returns INVALID_ARGUMENT naming `field`
  // for unreadable text and for unsupported key types or curves.
  static Result<AsymmetricKey> from_pem(std::string_view pem, std::string_view field);
  // Reads DER SPKI or PKCS#8.
  static Result<AsymmetricKey> from_der(std::string_view der, std::string_view field);
  // Builds a key from big-endian components. `d` and the CRT values are
  // optional (empty) for a public key; without the CRT values the private
  // key still signs, more slowly.
  static Result<AsymmetricKey> from_rsa(std::string_view n, std::string_view e, std::string_view d,
                                        std::string_view p, std::string_view q, std::string_view dp,
                                        std::string_view dq, std::string_view qi, std::string_view field);
  // Builds an EC key from affine coordinates x and y (each exactly the field
  // size) and an optional private scalar d. The point must be on the curve.
  static Result<AsymmetricKey> from_ec(AsymmetricKind curve, std::string_view x, std::string_view y,
                                       std::string_view d, std::string_view field);
  // Builds an Ed25519 key from its 32-byte public key and optional 32-byte
  // seed; with a seed, the public key must be the seed's.
  static Result<AsymmetricKey> from_ed25519(std::string_view public_key, std::string_view seed,
                                            std::string_view field);
  // Generates a key (RSA: 2048 bits, exponent 65537).
  static Result<AsymmetricKey> generate(AsymmetricKind kind);

  AsymmetricKind kind() const;
  bool has_private() const;
  // Modulus size for RSA, field size for EC, 256 for Ed25519.
  int bits() const;

  std::string public_pem() const;
  // Empty for a public key.
  std::string private_pem() const;
  std::string public_der() const;

  // Components for JWK export (big-endian, EC coordinates padded to the field
  // size). Only the ones that fit the kind are filled.
  struct Components {
    std::string n, e;         // RSA
    std::string x, y;         // EC, or x alone for Ed25519
  };
  Components public_components() const;
  // Private components for JWK export: RSA d p q dp dq qi, EC d, Ed25519 seed.
  struct PrivateComponents {
    std::string d, p, q, dp, dq, qi;
  };
  PrivateComponents private_components() const;

  // Signs `message`. Returns FAILED_PRECONDITION for a public key and
  // INTERNAL when OpenSSL fails.
  Result<std::string> sign(std::string_view message, const SignatureParams& params) const;
  // Checks `signature` over `message`. Any malformed signature is simply false.
  bool verify(std::string_view message, std::string_view signature, const SignatureParams& params) const;

  struct State;  // defined in asymmetric_key.cc

 private:
  explicit AsymmetricKey(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

// Converts an ECDSA signature between DER and P1363 for a curve whose scalars
// are `scalar_bytes` long (32 for P-256, 48 for P-384, 66 for P-521).
// Return nullopt for malformed input.
std::optional<std::string> ecdsa_der_to_p1363(std::string_view der, size_t scalar_bytes);
std::optional<std::string> ecdsa_p1363_to_der(std::string_view p1363, size_t scalar_bytes);

// Scalar size in bytes for an EC kind (0 for others).
size_t ec_scalar_bytes(AsymmetricKind kind);

}  // namespace heavylift
