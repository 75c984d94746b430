#include "tasks/crypto/jwt.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <tuple>

#include "tasks/crypto/asymmetric_key.h"
#include "tasks/crypto/base64.h"
#include "tasks/crypto/strict_json.h"

namespace heavylift {

using Json = nlohmann::json;

namespace {

enum class Family { kHmac, kRsaPkcs1, kRsaPss, kEcdsa, kEdDsa };

struct AlgorithmInfo {
  JwsAlgorithm algorithm;
  const char* name;
  Family family;
  SignatureDigest digest;
  size_t digest_bytes;
  AsymmetricKind ec_curve;  // for ECDSA only
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {JwsAlgorithm::kHS256, "HS256", Family::kHmac, SignatureDigest::kSha256, 32, AsymmetricKind::kRsa},
    {JwsAlgorithm::kHS384, "HS384", Family::kHmac, SignatureDigest::kSha384, 48, AsymmetricKind::kRsa},
    {JwsAlgorithm::kHS512, "HS512", Family::kHmac, SignatureDigest::kSha512, 64, AsymmetricKind::kRsa},
    {JwsAlgorithm::kRS256, "RS256", Family::kRsaPkcs1, SignatureDigest::kSha256, 32, AsymmetricKind::kRsa},
    {JwsAlgorithm::kRS384, "RS384", Family::kRsaPkcs1, SignatureDigest::kSha384, 48, AsymmetricKind::kRsa},
    {JwsAlgorithm::kRS512, "RS512", Family::kRsaPkcs1, SignatureDigest::kSha512, 64, AsymmetricKind::kRsa},
    {JwsAlgorithm::kPS256, "PS256", Family::kRsaPss, SignatureDigest::kSha256, 32, AsymmetricKind::kRsa},
    {JwsAlgorithm::kPS384, "PS384", Family::kRsaPss, SignatureDigest::kSha384, 48, AsymmetricKind::kRsa},
    {JwsAlgorithm::kPS512, "PS512", Family::kRsaPss, SignatureDigest::kSha512, 64, AsymmetricKind::kRsa},
    {JwsAlgorithm::kES256, "ES256", Family::kEcdsa, SignatureDigest::kSha256, 32, AsymmetricKind::kEcP256},
    {JwsAlgorithm::kES384, "ES384", Family::kEcdsa, SignatureDigest::kSha384, 48, AsymmetricKind::kEcP384},
    {JwsAlgorithm::kES512, "ES512", Family::kEcdsa, SignatureDigest::kSha512, 64, AsymmetricKind::kEcP521},
    {JwsAlgorithm::kEdDSA, "EdDSA", Family::kEdDsa, SignatureDigest::kSha512, 64, AsymmetricKind::kEd25519},
};

const AlgorithmInfo& info(JwsAlgorithm algorithm) {
  for (const auto& entry : kAlgorithms) {
    if (entry.algorithm == algorithm) return entry;
  }
  return kAlgorithms[0];
}

Error token_error(std::string reason, std::string message) {
  Error error;
  error.code = Code::kUnauthenticated;
  error.field = "token";
  error.reason = std::move(reason);
  error.message = std::move(message);
  return error;
}

Error malformed(std::string message) { return token_error("MALFORMED", "token is malformed: " + message); }

Error bad_key(std::string field, std::string message) {
  return Error::invalid(std::move(field), "BAD_KEY", std::move(message));
}

std::string hmac(SignatureDigest digest, std::string_view secret, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(signature_digest_md(digest), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string join_names(const std::vector<JwsAlgorithm>& algorithms) {
  std::string out;
  for (JwsAlgorithm algorithm : algorithms) {
    if (!out.empty()) out += ",";
    out += jws_algorithm_name(algorithm);
  }
  return out;
}

}  // namespace

struct JwtKey::Material {
  std::string kid;
  JwtKeyType type = JwtKeyType::kOct;
  std::vector<JwsAlgorithm> algorithms;
  std::string secret;                        // oct
  std::optional<AsymmetricKey> asymmetric;   // RSA, EC, OKP
  bool may_sign = true;                      // from key_ops
  bool may_verify = true;                    // from key_ops

  ~Material() { sodium_memzero(secret.data(), secret.size()); }
};

struct JwtKeyAccess {
  static const JwtKey::Material& material(const JwtKey& key) { return *key.material_; }
  static JwtKey make(std::shared_ptr<const JwtKey::Material> material) { return JwtKey(std::move(material)); }
};

const char* jws_algorithm_name(JwsAlgorithm algorithm) { return info(algorithm).name; }

std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name) {
  for (const auto& entry : kAlgorithms) {
    if (name == entry.name) return entry.algorithm;
  }
  return std::nullopt;
}

Result<std::vector<JwsAlgorithm>> parse_jws_algorithm_list(std::string_view list, std::string_view field) {
  std::vector<JwsAlgorithm> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view name = list.substr(start, end - start);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!name.empty()) {
      auto algorithm = parse_jws_algorithm(name);
      if (!algorithm) {
        return Error::invalid(std::string(field), "UNKNOWN_ALGORITHM",
                              fmt::format("{} lists unknown JWS algorithm {}", field, quote_value(name)),
                              "one of HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA",
                              std::string(name));
      }
      if (std::find(out.begin(), out.end(), *algorithm) == out.end()) out.push_back(*algorithm);
    }
    start = end + 1;
  }
  return out;
}

namespace {

// Checks that every algorithm in the allow-list fits the key.
Status check_algorithms_fit(const JwtKey::Material& key, std::string_view field) {
  if (key.algorithms.empty()) {
    return Error::invalid(std::string(field), "NO_ALGORITHM",
                          fmt::format("{} has no algorithm: give the key an allow-list (JWK \"alg\")", field));
  }
  for (JwsAlgorithm algorithm : key.algorithms) {
    const AlgorithmInfo& entry = info(algorithm);
    bool fits = false;
    switch (entry.family) {
      case Family::kHmac:
        fits = key.type == JwtKeyType::kOct;
        if (fits && key.secret.size() < entry.digest_bytes) {
          return Error::invalid(std::string(field), "KEY_TOO_SHORT",
                                fmt::format("{} is a {}-byte secret; {} needs at least {} bytes", field,
                                            key.secret.size(), entry.name, entry.digest_bytes),
                                fmt::format(">= {} bytes", entry.digest_bytes), std::to_string(key.secret.size()));
        }
        break;
      case Family::kRsaPkcs1:
      case Family::kRsaPss:
        fits = key.type == JwtKeyType::kRsa;
        break;
      case Family::kEcdsa:
        fits = key.type == JwtKeyType::kEc && key.asymmetric->kind() == entry.ec_curve;
        break;
      case Family::kEdDsa:
        fits = key.type == JwtKeyType::kOkp;
        break;
    }
    if (!fits) {
      return Error::invalid(std::string(field), "ALGORITHM_NOT_ALLOWED",
                            fmt::format("{} cannot be used with {}", field, entry.name));
    }
  }
  return Status::Ok();
}

JwtKeyType type_of(AsymmetricKind kind) {
  switch (kind) {
    case AsymmetricKind::kRsa: return JwtKeyType::kRsa;
    case AsymmetricKind::kEd25519: return JwtKeyType::kOkp;
    default: return JwtKeyType::kEc;
  }
}

// Reads an optional base64url member of a JWK into `out`.
Status jwk_bytes(const Json& jwk, const char* member, bool required, std::string* out, std::string_view field) {
  const auto it = jwk.find(member);
  if (it == jwk.end()) {
    if (required) return bad_key(std::string(field), fmt::format("{} lacks member \"{}\"", field, member));
    return Status::Ok();
  }
  if (!it->is_string() || !base64url_decode(it->get_ref<const std::string&>(), out)) {
    return bad_key(std::string(field), fmt::format("{} member \"{}\" is not base64url", field, member));
  }
  return Status::Ok();
}

Result<JwtKey> from_jwk_object(const Json& jwk, const std::vector<JwsAlgorithm>& algorithms, std::string_view field) {
  auto material = std::make_shared<JwtKey::Material>();
  const std::string where(field);

  if (auto it = jwk.find("kid"); it != jwk.end()) {
    if (!it->is_string()) return bad_key(where, fmt::format("{} member \"kid\" must be a string", field));
    material->kid = it->get<std::string>();
  }
  if (auto it = jwk.find("use"); it != jwk.end()) {
    if (!it->is_string() || it->get<std::string>() != "sig") {
      return bad_key(where, fmt::format("{} has \"use\" other than \"sig\"; it is not a signing key", field));
    }
  }
  if (auto it = jwk.find("key_ops"); it != jwk.end()) {
    if (!it->is_array()) return bad_key(where, fmt::format("{} member \"key_ops\" must be an array", field));
    material->may_sign = material->may_verify = false;
    for (const auto& op : *it) {
      if (!op.is_string()) return bad_key(where, fmt::format("{} member \"key_ops\" must hold strings", field));
      if (op.get<std::string>() == "sign") material->may_sign = true;
      if (op.get<std::string>() == "verify") material->may_verify = true;
    }
    if (!material->may_sign && !material->may_verify) {
      return bad_key(where, fmt::format("{} has \"key_ops\" without \"sign\" or \"verify\"", field));
    }
  }
  if (auto it = jwk.find("alg"); it != jwk.end()) {
    const auto algorithm = it->is_string() ? parse_jws_algorithm(it->get<std::string>()) : std::nullopt;
    if (!algorithm) {
      return Error::invalid(where, "ALGORITHM_NOT_ALLOWED",
                            fmt::format("{} member \"alg\" is not a supported JWS algorithm", field));
    }
    if (!algorithms.empty() && std::find(algorithms.begin(), algorithms.end(), *algorithm) == algorithms.end()) {
      return Error::invalid(where, "ALGORITHM_NOT_ALLOWED",
                            fmt::format("{} has \"alg\" {}, outside the allowed {}", field,
                                        jws_algorithm_name(*algorithm), join_names(algorithms)));
    }
    material->algorithms = {*algorithm};
  } else {
    material->algorithms = algorithms;
  }

  const auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return bad_key(where, fmt::format("{} lacks \"kty\"", field));
  const std::string& type = kty->get_ref<const std::string&>();
  std::string d;
  if (type == "oct") {
    material->type = JwtKeyType::kOct;
    if (Status s = jwk_bytes(jwk, "k", true, &material->secret, field); !s.ok()) return s.error();
  } else if (type == "RSA") {
    if (jwk.contains("oth")) return bad_key(where, fmt::format("{} is a multi-prime RSA key (\"oth\")", field));
    std::string n, e, p, q, dp, dq, qi;
    const std::initializer_list<std::tuple<const char*, std::string*, bool>> members = {
        {"n", &n, true},   {"e", &e, true},   {"d", &d, false},   {"p", &p, false},
        {"q", &q, false},  {"dp", &dp, false}, {"dq", &dq, false}, {"qi", &qi, false}};
    for (const auto& [member, out, required] : members) {
      if (Status s = jwk_bytes(jwk, member, required, out, field); !s.ok()) return s.error();
    }
    auto key = AsymmetricKey::from_rsa(n, e, d, p, q, dp, dq, qi, field);
    sodium_memzero(d.data(), d.size());
    if (!key.ok()) return key.error();
    material->type = JwtKeyType::kRsa;
    material->asymmetric = std::move(key).value();
  } else if (type == "EC" || type == "OKP") {
    const auto crv = jwk.find("crv");
    const std::string curve = crv != jwk.end() && crv->is_string() ? crv->get<std::string>() : "";
    std::string x, y;
    if (Status s = jwk_bytes(jwk, "x", true, &x, field); !s.ok()) return s.error();
    if (Status s = jwk_bytes(jwk, "d", false, &d, field); !s.ok()) return s.error();
    Result<AsymmetricKey> key = Error::internal("unreachable");
    if (type == "OKP") {
      if (curve != "Ed25519") {
        return bad_key(where, fmt::format("{} has OKP curve {}; only Ed25519 is supported", field, quote_value(curve)));
      }
      key = AsymmetricKey::from_ed25519(x, d, field);
    } else {
      if (Status s = jwk_bytes(jwk, "y", true, &y, field); !s.ok()) return s.error();
      AsymmetricKind kind;
      if (curve == "P-256") kind = AsymmetricKind::kEcP256;
      else if (curve == "P-384") kind = AsymmetricKind::kEcP384;
      else if (curve == "P-521") kind = AsymmetricKind::kEcP521;
      else return bad_key(where, fmt::format("{} has EC curve {}; supported: P-256, P-384, P-521", field, quote_value(curve)));
      key = AsymmetricKey::from_ec(kind, x, y, d, field);
    }
    sodium_memzero(d.data(), d.size());
    if (!key.ok()) return key.error();
    material->type = type_of(key.value().kind());
    material->asymmetric = std::move(key).value();
  } else {
    return bad_key(where, fmt::format("{} has unsupported \"kty\" {}", field, quote_value(type)));
  }
  if (material->type != JwtKeyType::kOct && !material->asymmetric->has_private()) material->may_sign = false;
  if (Status s = check_algorithms_fit(*material, field); !s.ok()) return s.error();
  return JwtKeyAccess::make(std::move(material));
}

}  // namespace

Result<JwtKey> JwtKey::hmac(std::string kid, std::string_view secret, std::vector<JwsAlgorithm> algorithms) {
  auto material = std::make_shared<Material>();
  material->kid = std::move(kid);
  material->type = JwtKeyType::kOct;
  material->secret = std::string(secret);
  material->algorithms = std::move(algorithms);
  if (Status s = check_algorithms_fit(*material, "key"); !s.ok()) return s.error();
  return JwtKey(std::move(material));
}

Result<JwtKey> JwtKey::from_pem(std::string kid, std::string_view pem, std::vector<JwsAlgorithm> algorithms) {
  auto key = AsymmetricKey::from_pem(pem, "key");
  if (!key.ok()) return key.error();
  auto material = std::make_shared<Material>();
  material->kid = std::move(kid);
  material->type = type_of(key.value().kind());
  material->may_sign = key.value().has_private();
  material->asymmetric = std::move(key).value();
  material->algorithms = std::move(algorithms);
  if (Status s = check_algorithms_fit(*material, "key"); !s.ok()) return s.error();
  return JwtKey(std::move(material));
}

Result<JwtKey> JwtKey::from_jwk(std::string_view json, const std::vector<JwsAlgorithm>& algorithms) {
  std::string problem;
  auto jwk = parse_strict_json_object(json, &problem);
  if (!jwk) return bad_key("jwk", "jwk is not a JSON object: " + problem);
  return from_jwk_object(*jwk, algorithms, "jwk");
}

Result<JwtKey> JwtKey::generate(std::string kid, JwsAlgorithm algorithm) {
  const AlgorithmInfo& entry = info(algorithm);
  if (entry.family == Family::kHmac) {
    std::string secret(entry.digest_bytes, '\0');
    randombytes_buf(secret.data(), secret.size());
    auto key = hmac(std::move(kid), secret, {algorithm});
    sodium_memzero(secret.data(), secret.size());
    return key;
  }
  AsymmetricKind kind = AsymmetricKind::kRsa;
  if (entry.family == Family::kEcdsa) kind = entry.ec_curve;
  if (entry.family == Family::kEdDsa) kind = AsymmetricKind::kEd25519;
  auto generated = AsymmetricKey::generate(kind);
  if (!generated.ok()) return generated.error();
  auto material = std::make_shared<Material>();
  material->kid = std::move(kid);
  material->type = type_of(kind);
  material->asymmetric = std::move(generated).value();
  material->algorithms = {algorithm};
  return JwtKey(std::move(material));
}

const std::string& JwtKey::kid() const { return material_->kid; }
JwtKeyType JwtKey::type() const { return material_->type; }
const std::vector<JwsAlgorithm>& JwtKey::algorithms() const { return material_->algorithms; }
bool JwtKey::allows(JwsAlgorithm algorithm) const {
  return std::find(material_->algorithms.begin(), material_->algorithms.end(), algorithm) !=
         material_->algorithms.end();
}
bool JwtKey::can_sign() const { return material_->may_sign; }
bool JwtKey::can_verify() const { return material_->may_verify; }

std::string JwtKey::public_jwk() const {
  Json jwk;
  if (!material_->kid.empty()) jwk["kid"] = material_->kid;
  jwk["use"] = "sig";
  if (material_->algorithms.size() == 1) jwk["alg"] = jws_algorithm_name(material_->algorithms[0]);
  if (material_->type == JwtKeyType::kOct) {
    jwk["kty"] = "oct";
    jwk["k"] = base64url_encode(material_->secret);
    return jwk.dump();
  }
  const auto parts = material_->asymmetric->public_components();
  switch (material_->type) {
    case JwtKeyType::kRsa:
      jwk["kty"] = "RSA";
      jwk["n"] = base64url_encode(parts.n);
      jwk["e"] = base64url_encode(parts.e);
      break;
    case JwtKeyType::kEc:
      jwk["kty"] = "EC";
      jwk["crv"] = asymmetric_kind_name(material_->asymmetric->kind());
      jwk["x"] = base64url_encode(parts.x);
      jwk["y"] = base64url_encode(parts.y);
      break;
    default:
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = base64url_encode(parts.x);
  }
  return jwk.dump();
}

std::string JwtKey::public_pem() const {
  return material_->asymmetric ? material_->asymmetric->public_pem() : "";
}

std::string JwtKey::private_pem() const {
  return material_->asymmetric ? material_->asymmetric->private_pem() : "";
}

Status JwtKeySet::add(JwtKey key) {
  if (!key.kid().empty() && find(key.kid()) != nullptr) {
    return Error::invalid("keys", "DUPLICATE_KID", fmt::format("two keys share kid {}", quote_value(key.kid())));
  }
  keys_.push_back(std::move(key));
  return Status::Ok();
}

Result<JwtKeySet> JwtKeySet::from_jwks(std::string_view json, const std::vector<JwsAlgorithm>& algorithms) {
  std::string problem;
  auto jwks = parse_strict_json_object(json, &problem);
  if (!jwks) return bad_key("jwks", "jwks is not a JSON object: " + problem);
  const auto keys = jwks->find("keys");
  if (keys == jwks->end() || !keys->is_array()) return bad_key("jwks", "jwks lacks a \"keys\" array");
  JwtKeySet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const Json& jwk = (*keys)[i];
    const std::string field = fmt::format("jwks.keys[{}]", i);
    if (!jwk.is_object()) return bad_key(field, field + " is not a JSON object");
    auto key = from_jwk_object(jwk, algorithms, field);
    if (!key.ok()) return key.error();
    if (Status s = set.add(std::move(key).value()); !s.ok()) return s.error();
  }
  return set;
}

Result<JwtKeySet> JwtKeySet::load_file(const std::string& path, const std::vector<JwsAlgorithm>& algorithms) {
  constexpr std::streamsize kMaxBytes = 1 << 20;
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::invalid("jwks", "UNREADABLE", fmt::format("cannot open JWKS file {}", path));
  std::string text(static_cast<size_t>(kMaxBytes) + 1, '\0');
  file.read(text.data(), kMaxBytes + 1);
  text.resize(static_cast<size_t>(file.gcount()));
  if (static_cast<std::streamsize>(text.size()) > kMaxBytes) {
    return Error::out_of_range("jwks", "<= 1048576 bytes", fmt::format("file {} is larger", path));
  }
  auto set = from_jwks(text, algorithms);
  sodium_memzero(text.data(), text.size());
  if (!set.ok()) {
    Error error = set.error();
    error.message = fmt::format("{}: {}", path, error.message);
    return error;
  }
  return set;
}

const JwtKey* JwtKeySet::find(std::string_view kid) const {
  for (const auto& key : keys_) {
    if (key.kid() == kid) return &key;
  }
  return nullptr;
}

namespace {

bool signature_matches(const JwtKey::Material& key, const AlgorithmInfo& entry, std::string_view signing_input,
                       std::string_view signature) {
  switch (entry.family) {
    case Family::kHmac: {
      const std::string expected = hmac(entry.digest, key.secret, signing_input);
      return signature.size() == expected.size() &&
             CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
    }
    case Family::kRsaPkcs1:
    case Family::kRsaPss:
    case Family::kEcdsa:
    case Family::kEdDsa: {
      SignatureParams params;
      params.digest = entry.digest;
      params.padding = entry.family == Family::kRsaPss ? RsaPadding::kPss : RsaPadding::kPkcs1;
      return key.asymmetric->verify(signing_input, signature, params);
    }
  }
  return false;
}

Result<std::string> compute_signature(const JwtKey::Material& key, const AlgorithmInfo& entry,
                                      std::string_view signing_input) {
  if (entry.family == Family::kHmac) return hmac(entry.digest, key.secret, signing_input);
  SignatureParams params;
  params.digest = entry.digest;
  params.padding = entry.family == Family::kRsaPss ? RsaPadding::kPss : RsaPadding::kPkcs1;
  return key.asymmetric->sign(signing_input, params);
}

}  // namespace

Result<JwsVerified> verify_jws(std::string_view token, const JwtKeySet& keys, const JwsVerifyOptions& options) {
  if (token.size() > options.max_token_bytes) {
    return Error::out_of_range("token", fmt::format("<= {} bytes", options.max_token_bytes),
                               fmt::format("{} bytes", token.size()));
  }
  if (token.empty()) return malformed("it is empty");

  // Compact serialization: exactly three base64url parts.
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return malformed("expected three base64url parts separated by '.' (the compact serialization)");
  }
  const std::string_view header_part = token.substr(0, first);
  const std::string_view payload_part = token.substr(first + 1, second - first - 1);
  const std::string_view signature_part = token.substr(second + 1);

  JwsVerified out;
  std::string signature;
  if (!base64url_decode(header_part, &out.header_json)) return malformed("the header is not base64url");
  if (!base64url_decode(payload_part, &out.payload)) return malformed("the payload is not base64url");
  if (!base64url_decode(signature_part, &signature)) return malformed("the signature is not base64url");

  std::string problem;
  const auto header = parse_strict_json_object(out.header_json, &problem);
  if (!header) return malformed("the header is " + problem);
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return malformed("the header has no \"alg\" string");
  if (header->contains("crit") || header->contains("b64")) {
    return malformed("the header uses \"crit\" or \"b64\", which heavylift does not support");
  }
  const std::string& alg_name = alg->get_ref<const std::string&>();
  const auto algorithm = parse_jws_algorithm(alg_name);
  if (!algorithm) {
    return token_error("ALGORITHM_NOT_ALLOWED", fmt::format("token algorithm {} is not accepted", quote_value(alg_name)));
  }
  out.algorithm = *algorithm;
  if (!options.algorithms.empty() &&
      std::find(options.algorithms.begin(), options.algorithms.end(), *algorithm) == options.algorithms.end()) {
    return token_error("ALGORITHM_NOT_ALLOWED",
                       fmt::format("token algorithm {} is not in the verifier's allowed {}", alg_name,
                                   join_names(options.algorithms)));
  }
  if (const auto kid = header->find("kid"); kid != header->end()) {
    if (!kid->is_string()) return malformed("the header's \"kid\" is not a string");
    out.kid = kid->get<std::string>();
  }

  // The key decides which algorithms are acceptable; the header only names one.
  std::vector<const JwtKey*> candidates;
  if (header->contains("kid")) {
    const JwtKey* key = keys.find(out.kid);
    if (key == nullptr) return token_error("UNKNOWN_KEY", fmt::format("token names unknown kid {}", quote_value(out.kid)));
    if (!key->allows(*algorithm) || !key->can_verify()) {
      return token_error("ALGORITHM_NOT_ALLOWED",
                         fmt::format("key {} does not allow algorithm {}", quote_value(out.kid), alg_name));
    }
    candidates.push_back(key);
  } else {
    for (const auto& key : keys.keys()) {
      if (key.allows(*algorithm) && key.can_verify()) candidates.push_back(&key);
    }
    if (candidates.empty()) {
      return token_error("ALGORITHM_NOT_ALLOWED", fmt::format("no configured key allows algorithm {}", alg_name));
    }
  }

  const AlgorithmInfo& entry = info(*algorithm);
  const std::string_view signing_input = token.substr(0, second);
  for (const JwtKey* key : candidates) {
    if (signature_matches(JwtKeyAccess::material(*key), entry, signing_input, signature)) return out;
  }
  return token_error("BAD_SIGNATURE", "token signature does not verify");
}

namespace {

// Checks the types RFC 7519 gives the registered claims.
std::optional<std::string> registered_claim_problem(const Json& claims) {
  for (const char* name : {"iss", "sub", "jti"}) {
    if (auto it = claims.find(name); it != claims.end() && !it->is_string()) {
      return fmt::format("claim \"{}\" must be a string", name);
    }
  }
  for (const char* name : {"exp", "nbf", "iat"}) {
    if (auto it = claims.find(name); it != claims.end()) {
      if (!it->is_number() || !std::isfinite(it->get<double>())) {
        return fmt::format("claim \"{}\" must be a number of seconds", name);
      }
    }
  }
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_array()) {
      for (const auto& entry : *it) {
        if (!entry.is_string()) return std::string("claim \"aud\" must be a string or an array of strings");
      }
    } else if (!it->is_string()) {
      return std::string("claim \"aud\" must be a string or an array of strings");
    }
  }
  return std::nullopt;
}

std::optional<double> number_claim(const Json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  return it->get<double>();
}

std::string string_claim(const Json& claims, const char* name) {
  const auto it = claims.find(name);
  return it == claims.end() ? "" : it->get<std::string>();
}

}  // namespace

Result<JwtClaims> verify_jwt(std::string_view token, const JwtKeySet& keys, const JwtVerifyOptions& options,
                             std::chrono::system_clock::time_point now) {
  auto verified = verify_jws(token, keys, options);
  if (!verified.ok()) return verified.error();

  std::string problem;
  const auto claims = parse_strict_json_object(verified.value().payload, &problem);
  if (!claims) return malformed("the claims are " + problem);
  if (auto type_problem = registered_claim_problem(*claims)) return malformed(*type_problem);

  JwtClaims out;
  out.algorithm = verified.value().algorithm;
  out.kid = verified.value().kid;
  out.subject = string_claim(*claims, "sub");
  out.issuer = string_claim(*claims, "iss");
  out.jwt_id = string_claim(*claims, "jti");
  out.expires_at = number_claim(*claims, "exp");
  out.not_before = number_claim(*claims, "nbf");
  out.issued_at = number_claim(*claims, "iat");
  if (auto aud = claims->find("aud"); aud != claims->end()) {
    if (aud->is_string()) out.audience.push_back(aud->get<std::string>());
    else for (const auto& entry : *aud) out.audience.push_back(entry.get<std::string>());
  }
  out.json = std::move(verified.value().payload);

  const double seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double skew = static_cast<double>(options.clock_skew.count());
  if (out.expires_at) {
    if (seconds >= *out.expires_at + skew) {
      return token_error("EXPIRED", fmt::format("token expired at {:.0f}, {:.0f} s ago (clock skew {} s)",
                                                *out.expires_at, seconds - *out.expires_at, options.clock_skew.count()));
    }
  } else if (options.require_exp) {
    return token_error("MISSING_CLAIM", "token has no \"exp\" claim, which this verifier requires");
  }
  if (out.not_before && seconds + skew < *out.not_before) {
    return token_error("NOT_YET_VALID", fmt::format("token is not valid before {:.0f}, {:.0f} s from now (clock skew {} s)",
                                                    *out.not_before, *out.not_before - seconds,
                                                    options.clock_skew.count()));
  }
  if (out.issued_at && *out.issued_at > seconds + skew) {
    return token_error("NOT_YET_VALID", fmt::format("token was issued in the future, at {:.0f} (clock skew {} s)",
                                                    *out.issued_at, options.clock_skew.count()));
  }
  if (options.max_age.count() > 0) {
    if (!out.issued_at) return token_error("MISSING_CLAIM", "token has no \"iat\" claim, which a maximum age needs");
    if (seconds - *out.issued_at > static_cast<double>(options.max_age.count()) + skew) {
      return token_error("EXPIRED", fmt::format("token is older than the maximum age of {} s",
                                                options.max_age.count()));
    }
  }
  if (!options.audiences.empty()) {
    const bool match = std::any_of(out.audience.begin(), out.audience.end(), [&](const std::string& aud) {
      return std::find(options.audiences.begin(), options.audiences.end(), aud) != options.audiences.end();
    });
    if (!match) return token_error("AUDIENCE_MISMATCH", "token audience (\"aud\") is not one this verifier accepts");
  }
  if (!options.issuer.empty() && out.issuer != options.issuer) {
    return token_error("ISSUER_MISMATCH", fmt::format("token issuer {} is not the expected {}",
                                                      quote_value(out.issuer), quote_value(options.issuer)));
  }
  if (!options.subject.empty() && out.subject != options.subject) {
    return token_error("SUBJECT_MISMATCH", "token subject (\"sub\") is not the expected one");
  }
  return out;
}

Result<std::string> sign_jws(std::string_view payload, const JwtKey& key, JwsAlgorithm algorithm,
                             const JwsSignOptions& options) {
  if (!key.allows(algorithm)) {
    return Error::invalid("algorithm", "ALGORITHM_NOT_ALLOWED",
                          fmt::format("key {} does not allow {} (allowed: {})", quote_value(key.kid()),
                                      jws_algorithm_name(algorithm), join_names(key.algorithms())));
  }
  if (!key.can_sign()) {
    return Error::invalid("key", "PUBLIC_KEY", fmt::format("key {} cannot sign: it is a public key or its "
                                                           "\"key_ops\" exclude signing", quote_value(key.kid())));
  }
  Json header;
  header["alg"] = jws_algorithm_name(algorithm);
  if (!options.type.empty()) header["typ"] = options.type;
  if (options.include_kid && !key.kid().empty()) header["kid"] = key.kid();

  std::string token = base64url_encode(header.dump());
  token += '.';
  token += base64url_encode(payload);
  auto signature = compute_signature(JwtKeyAccess::material(key), info(algorithm), token);
  if (!signature.ok()) return signature.error();
  token += '.';
  token += base64url_encode(signature.value());
  return token;
}

Result<std::string> sign_jwt(std::string_view claims_json, const JwtKey& key, JwsAlgorithm algorithm,
                             const JwtSignOptions& options, std::chrono::system_clock::time_point now) {
  std::string problem;
  auto claims = parse_strict_json_object(claims_json, &problem);
  if (!claims) return Error::invalid("claims", "MALFORMED", "claims are " + problem);
  if (auto type_problem = registered_claim_problem(*claims)) {
    return Error::invalid("claims", "MALFORMED", "claims are malformed: " + *type_problem);
  }
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (options.set_issued_at && !claims->contains("iat")) (*claims)["iat"] = seconds;
  if (options.expires_in.count() > 0 && !claims->contains("exp")) {
    (*claims)["exp"] = seconds + options.expires_in.count();
  }
  return sign_jws(claims->dump(), key, algorithm, options);
}

}  // namespace heavylift
