#include "tasks/crypto/asymmetric_key.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <vector>

namespace heavylift {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// Refuses to prompt for a passphrase: encrypted PEM fails to load.
int no_passphrase(char*, int, int, void*) { return -1; }

Error bad_key(std::string_view field, std::string message) {
  return Error::invalid(std::string(field), "BAD_KEY", std::move(message));
}

// Drops OpenSSL's error queue so a failure in one call never shows up in the
// next caller's diagnostics.
void clear_openssl_errors() { ERR_clear_error(); }

BnPtr to_bn(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                         nullptr));
}

std::string bn_bytes(const BIGNUM* bn, int width = 0) {
  const int size = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

std::string get_bn_param(const EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return "";
  BnPtr bn(raw);
  return bn_bytes(bn.get(), width);
}

const char* curve_group_name(AsymmetricKind kind) {
  switch (kind) {
    case AsymmetricKind::kEcP256: return "prime256v1";
    case AsymmetricKind::kEcP384: return "secp384r1";
    case AsymmetricKind::kEcP521: return "secp521r1";
    default: return nullptr;
  }
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

struct AsymmetricKey::State {
  AsymmetricKind kind = AsymmetricKind::kRsa;
  bool has_private = false;
  PkeyPtr pkey;  // RSA, EC, and Ed25519 (for PEM and DER)
  // Ed25519 in libsodium's layout: secret = seed || public.
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> ed_public{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> ed_secret{};

  ~State() { sodium_memzero(ed_secret.data(), ed_secret.size()); }
};

const EVP_MD* signature_digest_md(SignatureDigest digest) {
  switch (digest) {
    case SignatureDigest::kSha256: return EVP_sha256();
    case SignatureDigest::kSha384: return EVP_sha384();
    case SignatureDigest::kSha512: return EVP_sha512();
  }
  return EVP_sha256();
}

size_t ec_scalar_bytes(AsymmetricKind kind) {
  switch (kind) {
    case AsymmetricKind::kEcP256: return 32;
    case AsymmetricKind::kEcP384: return 48;
    case AsymmetricKind::kEcP521: return 66;
    default: return 0;
  }
}

const char* asymmetric_kind_name(AsymmetricKind kind) {
  switch (kind) {
    case AsymmetricKind::kRsa: return "RSA";
    case AsymmetricKind::kEcP256: return "P-256";
    case AsymmetricKind::kEcP384: return "P-384";
    case AsymmetricKind::kEcP521: return "P-521";
    case AsymmetricKind::kEd25519: return "Ed25519";
  }
  return "unknown";
}

namespace {

// Wraps an OpenSSL key after checking its type, curve and public point.
Result<std::shared_ptr<AsymmetricKey::State>> adopt(PkeyPtr pkey, bool has_private, std::string_view field) {
  auto state = std::make_shared<AsymmetricKey::State>();
  state->has_private = has_private;
  const int id = EVP_PKEY_get_base_id(pkey.get());
  if (id == EVP_PKEY_RSA) {
    state->kind = AsymmetricKind::kRsa;
  } else if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &length) != 1) {
      return bad_key(field, fmt::format("{} is an EC key without a named curve", field));
    }
    const std::string_view name(group, length);
    if (name == "prime256v1") state->kind = AsymmetricKind::kEcP256;
    else if (name == "secp384r1") state->kind = AsymmetricKind::kEcP384;
    else if (name == "secp521r1") state->kind = AsymmetricKind::kEcP521;
    else return bad_key(field, fmt::format("{} uses curve {}; supported: P-256, P-384, P-521", field, quote_value(name)));
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
      clear_openssl_errors();
      return bad_key(field, fmt::format("{} holds a point that is not on its curve", field));
    }
  } else if (id == EVP_PKEY_ED25519) {
    state->kind = AsymmetricKind::kEd25519;
    size_t length = state->ed_public.size();
    if (EVP_PKEY_get_raw_public_key(pkey.get(), state->ed_public.data(), &length) != 1 || length != 32) {
      clear_openssl_errors();
      return bad_key(field, fmt::format("{} is an unreadable Ed25519 key", field));
    }
    if (has_private) {
      std::array<unsigned char, 32> seed{};
      length = seed.size();
      if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &length) != 1 || length != 32) {
        clear_openssl_errors();
        return bad_key(field, fmt::format("{} is an unreadable Ed25519 private key", field));
      }
      std::array<unsigned char, 32> derived{};
      crypto_sign_seed_keypair(derived.data(), state->ed_secret.data(), seed.data());
      sodium_memzero(seed.data(), seed.size());
    }
  } else {
    return bad_key(field, fmt::format("{} has an unsupported key type; supported: RSA, EC (P-256, P-384, P-521), "
                                      "Ed25519", field));
  }
  if (state->kind == AsymmetricKind::kRsa) {
    const int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < 2048 || bits > 16384) {
      return bad_key(field, fmt::format("{} is a {}-bit RSA key; RSA keys must have 2048 to 16384 bits", field, bits));
    }
  }
  state->pkey = std::move(pkey);
  return state;
}

}  // namespace

Result<AsymmetricKey> AsymmetricKey::from_pem(std::string_view pem, std::string_view field) {
  if (pem.empty()) return Error::invalid(std::string(field), "EMPTY", fmt::format("{} is empty", field));
  if (pem.size() > 65536) {
    return Error::out_of_range(std::string(field), "<= 65536 bytes", std::to_string(pem.size()) + " bytes");
  }
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return bad_key(field, fmt::format("{} is an encrypted PEM key; decrypt it first", field));
  }
  const bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                          : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  clear_openssl_errors();
  if (!pkey) {
    return bad_key(field, fmt::format("{} is not a readable PEM {} key", field, is_private ? "private" : "public"));
  }
  auto state = adopt(std::move(pkey), is_private, field);
  if (!state.ok()) return state.error();
  return AsymmetricKey(std::move(state).value());
}

Result<AsymmetricKey> AsymmetricKey::from_der(std::string_view der, std::string_view field) {
  if (der.empty()) return Error::invalid(std::string(field), "EMPTY", fmt::format("{} is empty", field));
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = begin;
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  bool is_private = false;
  if (!pkey || cursor != begin + der.size()) {
    cursor = begin;
    pkey.reset(d2i_AutoPrivateKey(nullptr, &cursor, static_cast<long>(der.size())));
    is_private = true;
  }
  clear_openssl_errors();
  if (!pkey || cursor != begin + der.size()) {
    return bad_key(field, fmt::format("{} is neither DER SPKI nor DER PKCS#8", field));
  }
  auto state = adopt(std::move(pkey), is_private, field);
  if (!state.ok()) return state.error();
  return AsymmetricKey(std::move(state).value());
}

Result<AsymmetricKey> AsymmetricKey::from_rsa(std::string_view n, std::string_view e, std::string_view d,
                                              std::string_view p, std::string_view q, std::string_view dp,
                                              std::string_view dq, std::string_view qi, std::string_view field) {
  if (n.empty() || e.empty()) return bad_key(field, fmt::format("{} needs both n and e", field));
  const bool has_private = !d.empty();
  const bool has_crt = !p.empty() && !q.empty() && !dp.empty() && !dq.empty() && !qi.empty();
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  std::vector<BnPtr> numbers;
  auto push = [&](const char* name, std::string_view bytes) {
    numbers.push_back(to_bn(bytes));
    return numbers.back() && OSSL_PARAM_BLD_push_BN(bld.get(), name, numbers.back().get()) == 1;
  };
  bool ok = push(OSSL_PKEY_PARAM_RSA_N, n) && push(OSSL_PKEY_PARAM_RSA_E, e);
  if (has_private) ok = ok && push(OSSL_PKEY_PARAM_RSA_D, d);
  if (has_private && has_crt) {
    ok = ok && push(OSSL_PKEY_PARAM_RSA_FACTOR1, p) && push(OSSL_PKEY_PARAM_RSA_FACTOR2, q) &&
         push(OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) && push(OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) &&
         push(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi);
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(ok ? OSSL_PARAM_BLD_to_param(bld.get()) : nullptr);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, has_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    clear_openssl_errors();
    return bad_key(field, fmt::format("{} has RSA components OpenSSL cannot use", field));
  }
  PkeyPtr pkey(raw);
  if (has_private && has_crt) {
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
      clear_openssl_errors();
      return bad_key(field, fmt::format("{} has RSA private components that do not match n and e", field));
    }
  }
  auto state = adopt(std::move(pkey), has_private, field);
  if (!state.ok()) return state.error();
  return AsymmetricKey(std::move(state).value());
}

Result<AsymmetricKey> AsymmetricKey::from_ec(AsymmetricKind curve, std::string_view x, std::string_view y,
                                             std::string_view d, std::string_view field) {
  const size_t size = ec_scalar_bytes(curve);
  if (size == 0) return bad_key(field, fmt::format("{} is not an EC curve", field));
  if (x.size() != size || y.size() != size) {
    return bad_key(field, fmt::format("{} coordinates must be {} bytes each for {}, got {} and {}", field, size,
                                      asymmetric_kind_name(curve), x.size(), y.size()));
  }
  if (!d.empty() && d.size() != size) {
    return bad_key(field, fmt::format("{} private scalar must be {} bytes for {}, got {}", field, size,
                                      asymmetric_kind_name(curve), d.size()));
  }
  std::string point = "\x04";
  point.append(x).append(y);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  BnPtr scalar = d.empty() ? nullptr : to_bn(d);
  bool ok = OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_group_name(curve), 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1;
  if (scalar) ok = ok && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()) == 1;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(ok ? OSSL_PARAM_BLD_to_param(bld.get()) : nullptr);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, scalar ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    clear_openssl_errors();
    return bad_key(field, fmt::format("{} is not a valid {} point", field, asymmetric_kind_name(curve)));
  }
  PkeyPtr pkey(raw);
  if (scalar) {
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
      clear_openssl_errors();
      return bad_key(field, fmt::format("{} private scalar does not match its public point", field));
    }
  }
  auto state = adopt(std::move(pkey), scalar != nullptr, field);
  if (!state.ok()) return state.error();
  return AsymmetricKey(std::move(state).value());
}

Result<AsymmetricKey> AsymmetricKey::from_ed25519(std::string_view public_key, std::string_view seed,
                                                  std::string_view field) {
  if (public_key.size() != 32) {
    return bad_key(field, fmt::format("{} Ed25519 public key must be 32 bytes, got {}", field, public_key.size()));
  }
  if (!seed.empty() && seed.size() != 32) {
    return bad_key(field, fmt::format("{} Ed25519 private key must be 32 bytes, got {}", field, seed.size()));
  }
  const auto* public_bytes = reinterpret_cast<const unsigned char*>(public_key.data());
  PkeyPtr pkey(seed.empty()
                   ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_bytes, 32)
                   : EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                  reinterpret_cast<const unsigned char*>(seed.data()), 32));
  clear_openssl_errors();
  if (!pkey) return bad_key(field, fmt::format("{} is not an Ed25519 key", field));
  auto state = adopt(std::move(pkey), !seed.empty(), field);
  if (!state.ok()) return state.error();
  if (!seed.empty() && sodium_memcmp(state.value()->ed_public.data(), public_bytes, 32) != 0) {
    return bad_key(field, fmt::format("{} Ed25519 public key does not match its private key", field));
  }
  return AsymmetricKey(std::move(state).value());
}

Result<AsymmetricKey> AsymmetricKey::generate(AsymmetricKind kind) {
  EVP_PKEY* raw = nullptr;
  switch (kind) {
    case AsymmetricKind::kRsa: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
    case AsymmetricKind::kEcP256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case AsymmetricKind::kEcP384: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case AsymmetricKind::kEcP521: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"); break;
    case AsymmetricKind::kEd25519: {
      std::array<unsigned char, 32> seed{};
      randombytes_buf(seed.data(), seed.size());
      raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
      sodium_memzero(seed.data(), seed.size());
      break;
    }
  }
  clear_openssl_errors();
  if (raw == nullptr) return Error::internal("key generation failed in OpenSSL");
  auto state = adopt(PkeyPtr(raw), true, "key");
  if (!state.ok()) return state.error();
  return AsymmetricKey(std::move(state).value());
}

AsymmetricKind AsymmetricKey::kind() const { return state_->kind; }
bool AsymmetricKey::has_private() const { return state_->has_private; }
int AsymmetricKey::bits() const { return EVP_PKEY_get_bits(state_->pkey.get()); }

std::string AsymmetricKey::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), state_->pkey.get());
  return bio_contents(bio.get());
}

std::string AsymmetricKey::private_pem() const {
  if (!state_->has_private) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PKCS8PrivateKey(bio.get(), state_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return bio_contents(bio.get());
}

std::string AsymmetricKey::public_der() const {
  unsigned char* out = nullptr;
  const int size = i2d_PUBKEY(state_->pkey.get(), &out);
  if (size <= 0) return "";
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(size));
  OPENSSL_free(out);
  return der;
}

AsymmetricKey::Components AsymmetricKey::public_components() const {
  Components out;
  const EVP_PKEY* key = state_->pkey.get();
  switch (state_->kind) {
    case AsymmetricKind::kRsa:
      out.n = get_bn_param(key, OSSL_PKEY_PARAM_RSA_N);
      out.e = get_bn_param(key, OSSL_PKEY_PARAM_RSA_E);
      break;
    case AsymmetricKind::kEd25519:
      out.x.assign(reinterpret_cast<const char*>(state_->ed_public.data()), state_->ed_public.size());
      break;
    default: {
      const int width = static_cast<int>(ec_scalar_bytes(state_->kind));
      out.x = get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, width);
      out.y = get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, width);
    }
  }
  return out;
}

AsymmetricKey::PrivateComponents AsymmetricKey::private_components() const {
  PrivateComponents out;
  if (!state_->has_private) return out;
  const EVP_PKEY* key = state_->pkey.get();
  switch (state_->kind) {
    case AsymmetricKind::kRsa:
      out.d = get_bn_param(key, OSSL_PKEY_PARAM_RSA_D);
      out.p = get_bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
      out.q = get_bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2);
      out.dp = get_bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1);
      out.dq = get_bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2);
      out.qi = get_bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
      break;
    case AsymmetricKind::kEd25519:
      out.d.assign(reinterpret_cast<const char*>(state_->ed_secret.data()), 32);
      break;
    default:
      out.d = get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, static_cast<int>(ec_scalar_bytes(state_->kind)));
  }
  return out;
}

namespace {

// Sets up a digest sign or verify context for RSA and ECDSA keys.
bool init_digest(EVP_MD_CTX* md, EVP_PKEY* key, AsymmetricKind kind, const SignatureParams& params, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* digest = signature_digest_md(params.digest);
  const int ok = sign ? EVP_DigestSignInit(md, &pctx, digest, nullptr, key)
                      : EVP_DigestVerifyInit(md, &pctx, digest, nullptr, key);
  if (ok != 1) return false;
  if (kind == AsymmetricKind::kRsa && params.padding == RsaPadding::kPss) {
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest) == 1;
  }
  return true;
}

}  // namespace

Result<std::string> AsymmetricKey::sign(std::string_view message, const SignatureParams& params) const {
  if (!state_->has_private) {
    Error error;
    error.code = Code::kFailedPrecondition;
    error.field = "key";
    error.reason = "PUBLIC_KEY";
    error.message = "key is a public key and cannot sign";
    return error;
  }
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (state_->kind == AsymmetricKind::kEd25519) {
    std::string signature(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr, data, message.size(),
                         state_->ed_secret.data());
    return signature;
  }
  MdCtxPtr md(EVP_MD_CTX_new());
  size_t size = 0;
  if (!md || !init_digest(md.get(), state_->pkey.get(), state_->kind, params, true) ||
      EVP_DigestSign(md.get(), nullptr, &size, data, message.size()) != 1) {
    clear_openssl_errors();
    return Error::internal("signing failed in OpenSSL");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data, message.size()) != 1) {
    clear_openssl_errors();
    return Error::internal("signing failed in OpenSSL");
  }
  signature.resize(size);
  if (state_->kind == AsymmetricKind::kRsa) return signature;
  auto p1363 = ecdsa_der_to_p1363(signature, ec_scalar_bytes(state_->kind));
  if (!p1363) return Error::internal("OpenSSL produced an unreadable ECDSA signature");
  return *p1363;
}

bool AsymmetricKey::verify(std::string_view message, std::string_view signature,
                           const SignatureParams& params) const {
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (state_->kind == AsymmetricKind::kEd25519) {
    if (signature.size() != crypto_sign_BYTES) return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()), data,
                                       message.size(), state_->ed_public.data()) == 0;
  }
  std::string der;
  if (state_->kind != AsymmetricKind::kRsa) {
    auto converted = ecdsa_p1363_to_der(signature, ec_scalar_bytes(state_->kind));
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtxPtr md(EVP_MD_CTX_new());
  const bool ok = md && init_digest(md.get(), state_->pkey.get(), state_->kind, params, false) &&
                  EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                   signature.size(), data, message.size()) == 1;
  clear_openssl_errors();
  return ok;
}

std::optional<std::string> ecdsa_der_to_p1363(std::string_view der, size_t scalar_bytes) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = cursor + der.size();
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  clear_openssl_errors();
  if (!sig || cursor != end) return std::nullopt;
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  const int width = static_cast<int>(scalar_bytes);
  if (BN_is_negative(r) || BN_is_negative(s) || BN_num_bytes(r) > width || BN_num_bytes(s) > width) {
    return std::nullopt;
  }
  // Re-encoding must give the same bytes, so only strict DER is accepted.
  unsigned char* again = nullptr;
  const int size = i2d_ECDSA_SIG(sig.get(), &again);
  const bool canonical = size == static_cast<int>(der.size()) && std::memcmp(der.data(), again, der.size()) == 0;
  OPENSSL_free(again);
  if (!canonical) return std::nullopt;
  return bn_bytes(r, width) + bn_bytes(s, width);
}

std::optional<std::string> ecdsa_p1363_to_der(std::string_view p1363, size_t scalar_bytes) {
  if (scalar_bytes == 0 || p1363.size() != 2 * scalar_bytes) return std::nullopt;
  BnPtr r = to_bn(p1363.substr(0, scalar_bytes));
  BnPtr s = to_bn(p1363.substr(scalar_bytes));
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();
  s.release();
  unsigned char* out = nullptr;
  const int size = i2d_ECDSA_SIG(sig.get(), &out);
  if (size <= 0) return std::nullopt;
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(size));
  OPENSSL_free(out);
  return der;
}

}  // namespace heavylift
