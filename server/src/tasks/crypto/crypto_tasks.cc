#include "tasks/crypto/crypto_tasks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "core/logging.h"
#include "tasks/crypto/asymmetric_key.h"
#include "tasks/crypto/spread.h"

namespace heavylift {
namespace {

Result<AsymmetricKind> signature_kind(v1::SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case v1::SIGNATURE_ALGORITHM_DEFAULT:
    case v1::SIGNATURE_ALGORITHM_ED25519: return AsymmetricKind::kEd25519;
    case v1::SIGNATURE_ALGORITHM_ECDSA_P256_SHA256: return AsymmetricKind::kEcP256;
    default:
      return Error::invalid("algorithm", "UNKNOWN_ALGORITHM",
                            fmt::format("algorithm {} is not a known signature algorithm", static_cast<int>(algorithm)));
  }
}

// Reads a PEM key and checks that it fits `algorithm`.
Result<AsymmetricKey> read_key(const std::string& pem, const char* field, v1::SignatureAlgorithm algorithm,
                               bool need_private) {
  auto kind = signature_kind(algorithm);
  if (!kind.ok()) return kind.error();
  auto key = AsymmetricKey::from_pem(pem, field);
  if (!key.ok()) return key.error();
  if (key.value().kind() != kind.value()) {
    return Error::invalid(field, "KEY_MISMATCH",
                          fmt::format("{} is a {} key, but algorithm is {}", field,
                                      asymmetric_kind_name(key.value().kind()), v1::SignatureAlgorithm_Name(algorithm)));
  }
  if (need_private && !key.value().has_private()) {
    return Error::invalid(field, "PUBLIC_KEY", fmt::format("{} is a public key; signing needs the private key", field));
  }
  return key;
}

Status check_message(const std::string& message, const CryptoConfig& config) {
  if (message.size() <= config.signature_max_message_bytes) return Status::Ok();
  return Error::out_of_range("message", fmt::format("<= {} bytes", config.signature_max_message_bytes),
                             fmt::format("{} bytes", message.size()));
}

}  // namespace

Status keygen_task(const v1::KeyGenerateRequest& request, v1::KeyGenerateResponse* response) {
  auto kind = signature_kind(request.algorithm());
  if (!kind.ok()) return kind.error();
  auto key = AsymmetricKey::generate(kind.value());
  if (!key.ok()) return key.error();
  response->set_private_key_pem(key.value().private_pem());
  response->set_public_key_pem(key.value().public_pem());
  auto jwt_key = JwtKey::from_pem("", key.value().public_pem(),
                                  {kind.value() == AsymmetricKind::kEd25519 ? JwsAlgorithm::kEdDSA : JwsAlgorithm::kES256});
  if (jwt_key.ok()) response->set_public_jwk(jwt_key.value().public_jwk());
  return Status::Ok();
}

namespace {

// Signs one message with a key already read; `format` as in SignRequest.
Result<std::string> sign_with(const AsymmetricKey& key, std::string_view message, v1::SignatureFormat format) {
  auto signature = key.sign(message, SignatureParams{});
  if (!signature.ok()) return signature.error();
  if (format != v1::SIGNATURE_FORMAT_DER) return signature;
  auto der = ecdsa_p1363_to_der(signature.value(), 32);
  if (!der) return Error::internal("could not encode the signature as DER");
  return *der;
}

// Checks one signature with a key already read; a DER signature that does
// not parse is simply invalid.
bool verify_with(const AsymmetricKey& key, std::string_view message, std::string_view signature,
                 v1::SignatureFormat format) {
  if (format != v1::SIGNATURE_FORMAT_DER) return key.verify(message, signature, SignatureParams{});
  auto p1363 = ecdsa_der_to_p1363(signature, 32);
  return p1363 && key.verify(message, *p1363, SignatureParams{});
}

Status check_format(const AsymmetricKey& key, v1::SignatureFormat format) {
  if (format != v1::SIGNATURE_FORMAT_DER || key.kind() == AsymmetricKind::kEcP256) return Status::Ok();
  return Error::invalid("format", "UNSUPPORTED_FORMAT", "format DER applies to ECDSA only");
}

// Checks a batch's item count and total bytes against the configured bounds.
Status check_signature_batch(const char* field, size_t items, uint64_t bytes, const CryptoConfig& config) {
  if (items == 0) return Error::invalid(field, "EMPTY", fmt::format("{} is empty", field));
  if (items > config.signature_batch_max_items) {
    return Error::invalid(field, "OUT_OF_RANGE",
                          fmt::format("{} has {} items; crypto.signature_batch.max_items allows at most {}", field,
                                      items, config.signature_batch_max_items),
                          fmt::format("<= {} items", config.signature_batch_max_items), fmt::format("{} items", items));
  }
  if (bytes > config.signature_batch_max_bytes) {
    return Error::invalid(field, "OUT_OF_RANGE",
                          fmt::format("{} hold {} bytes in all; crypto.signature_batch.max_bytes allows at most {}",
                                      field, bytes, config.signature_batch_max_bytes),
                          fmt::format("<= {} bytes", config.signature_batch_max_bytes), fmt::format("{} bytes", bytes));
  }
  return Status::Ok();
}

// Below this many items per thread, starting another thread costs more than
// the signatures it would take over.
constexpr size_t kSignaturesPerThread = 16;

}  // namespace

Status sign_task(const v1::SignRequest& request, v1::SignResponse* response, const CryptoConfig& config) {
  if (Status s = check_message(request.message(), config); !s.ok()) return s;
  auto key = read_key(request.private_key_pem(), "private_key_pem", request.algorithm(), true);
  if (!key.ok()) return key.error();
  if (Status s = check_format(key.value(), request.format()); !s.ok()) return s;
  auto signature = sign_with(key.value(), request.message(), request.format());
  if (!signature.ok()) return signature.error();
  response->set_signature(std::move(signature).value());
  return Status::Ok();
}

Status verify_task(const v1::VerifyRequest& request, v1::VerifyResponse* response, const CryptoConfig& config) {
  if (Status s = check_message(request.message(), config); !s.ok()) return s;
  auto key = read_key(request.public_key_pem(), "public_key_pem", request.algorithm(), false);
  if (!key.ok()) return key.error();
  if (Status s = check_format(key.value(), request.format()); !s.ok()) return s;
  response->set_valid(verify_with(key.value(), request.message(), request.signature(), request.format()));
  return Status::Ok();
}

Status sign_batch_task(const v1::SignBatchRequest& request, v1::SignBatchResponse* response, TaskContext& context,
                       const CryptoConfig& config) {
  uint64_t bytes = 0;
  for (const auto& message : request.messages()) bytes += message.size();
  if (Status s = check_signature_batch("messages", request.messages_size(), bytes, config); !s.ok()) return s;
  auto key = read_key(request.private_key_pem(), "private_key_pem", request.algorithm(), true);
  if (!key.ok()) return key.error();
  if (Status s = check_format(key.value(), request.format()); !s.ok()) return s;
  const size_t count = static_cast<size_t>(request.messages_size());
  for (size_t i = 0; i < count; ++i) response->add_results();
  run_spread(
      count, config.password.batch_threads, context,
      [&](size_t i) {
        const int index = static_cast<int>(i);
        v1::SignBatchResult* result = response->mutable_results(index);
        const std::string& message = request.messages(index);
        const Status bound = check_message(message, config);
        Result<std::string> signature =
            bound.ok() ? sign_with(key.value(), message, request.format()) : Result<std::string>(bound.error());
        if (signature.ok()) {
          result->set_signature(std::move(signature).value());
        } else {
          Error error = signature.error();
          error.field = fmt::format("messages[{}]", i);
          fill_error_detail(error, result->mutable_error(), result->mutable_message());
        }
      },
      kSignaturesPerThread);
  return context.check();
}

Status verify_batch_task(const v1::VerifyBatchRequest& request, v1::VerifyBatchResponse* response,
                         TaskContext& context, const CryptoConfig& config) {
  uint64_t bytes = 0;
  bool every_item_has_key = true;
  for (const auto& item : request.items()) {
    bytes += item.message().size() + item.signature().size();
    every_item_has_key = every_item_has_key && !item.public_key_pem().empty();
  }
  if (Status s = check_signature_batch("items", request.items_size(), bytes, config); !s.ok()) return s;
  // The request's key is read once and shared by the items without their own.
  std::optional<AsymmetricKey> shared_key;
  if (!request.public_key_pem().empty() || !every_item_has_key) {
    auto key = read_key(request.public_key_pem(), "public_key_pem", request.algorithm(), false);
    if (!key.ok()) return key.error();
    if (Status s = check_format(key.value(), request.format()); !s.ok()) return s;
    shared_key = std::move(key).value();
  }
  const size_t count = static_cast<size_t>(request.items_size());
  for (size_t i = 0; i < count; ++i) response->add_results();
  run_spread(
      count, config.password.batch_threads, context,
      [&](size_t i) {
        const int index = static_cast<int>(i);
        const v1::VerifyBatchItem& item = request.items(index);
        v1::VerifyBatchResult* result = response->mutable_results(index);
        const std::string prefix = fmt::format("items[{}].", i);
        auto fail = [&](Error error) {
          error.field = prefix + error.field;
          error.message = prefix + error.message;
          fill_error_detail(error, result->mutable_error(), result->mutable_message());
        };
        if (Status s = check_message(item.message(), config); !s.ok()) return fail(s.error());
        if (item.public_key_pem().empty()) {
          result->set_valid(verify_with(*shared_key, item.message(), item.signature(), request.format()));
          return;
        }
        auto key = read_key(item.public_key_pem(), "public_key_pem", request.algorithm(), false);
        if (!key.ok()) return fail(key.error());
        if (Status s = check_format(key.value(), request.format()); !s.ok()) return fail(s.error());
        result->set_valid(verify_with(key.value(), item.message(), item.signature(), request.format()));
      },
      kSignaturesPerThread);
  return context.check();
}

Status jwt_sign_task(const v1::JwtSignRequest& request, v1::JwtSignResponse* response, const JwtKeySet& keys,
                     std::chrono::system_clock::time_point now) {
  const JwtKey* key = nullptr;
  if (!request.key_id().empty()) {
    key = keys.find(request.key_id());
    if (key == nullptr) {
      Error error;
      error.code = Code::kNotFound;
      error.field = "key_id";
      error.reason = "UNKNOWN_KEY_ID";
      error.message = fmt::format("key_id {} is not in crypto.jwt.keys_file", quote_value(request.key_id()));
      return error;
    }
  } else {
    for (const auto& candidate : keys.keys()) {
      if (!candidate.can_sign()) continue;
      if (key != nullptr) {
        return Error::invalid("key_id", "AMBIGUOUS_KEY", "key_id is empty and several keys can sign; name one");
      }
      key = &candidate;
    }
    if (key == nullptr) {
      Error error;
      error.code = Code::kFailedPrecondition;
      error.field = "key_id";
      error.reason = "NO_SIGNING_KEY";
      error.message = "no key in crypto.jwt.keys_file can sign (private keys or oct secrets are needed)";
      return error;
    }
  }
  JwsAlgorithm algorithm = key->algorithms().front();
  if (!request.algorithm().empty()) {
    auto parsed = parse_jws_algorithm(request.algorithm());
    if (!parsed) {
      return Error::invalid("algorithm", "UNKNOWN_ALGORITHM",
                            fmt::format("algorithm {} is not a JWS algorithm", quote_value(request.algorithm())));
    }
    algorithm = *parsed;
  }
  JwtSignOptions options;
  options.expires_in = std::chrono::seconds(request.expires_in_seconds());
  auto token = sign_jwt(request.claims_json(), *key, algorithm, options, now);
  if (!token.ok()) {
    Error error = token.error();
    if (error.field == "claims") error.field = "claims_json";
    return error;
  }
  response->set_token(std::move(token).value());
  return Status::Ok();
}

Status jwt_verify_task(const v1::JwtVerifyRequest& request, v1::JwtVerifyResponse* response, const JwtKeySet& keys,
                       const CryptoConfig& config, std::chrono::system_clock::time_point now) {
  JwtVerifyOptions options;
  options.max_token_bytes = config.jwt_max_token_bytes;
  options.clock_skew = std::chrono::seconds(config.jwt_clock_skew_seconds);
  options.audiences.assign(request.audiences().begin(), request.audiences().end());
  options.issuer = request.issuer();
  options.subject = request.subject();
  options.max_age = std::chrono::seconds(request.max_age_seconds());
  options.require_exp = !request.allow_missing_exp();
  for (const auto& name : request.algorithms()) {
    auto algorithm = parse_jws_algorithm(name);
    if (!algorithm) {
      return Error::invalid("algorithms", "UNKNOWN_ALGORITHM",
                            fmt::format("algorithms lists {}, which is not a JWS algorithm", quote_value(name)));
    }
    options.algorithms.push_back(*algorithm);
  }
  auto claims = verify_jwt(request.token(), keys, options, now);
  if (!claims.ok()) return claims.error();
  const JwtClaims& c = claims.value();
  response->set_claims_json(c.json);
  response->set_subject(c.subject);
  response->set_issuer(c.issuer);
  for (const auto& audience : c.audience) response->add_audience(audience);
  response->set_expires_at(c.expires_at.value_or(0));
  response->set_not_before(c.not_before.value_or(0));
  response->set_issued_at(c.issued_at.value_or(0));
  response->set_algorithm(jws_algorithm_name(c.algorithm));
  response->set_key_id(c.kid);
  return Status::Ok();
}

std::shared_ptr<const AeadKeyRing> CryptoKeys::aead() const {
  std::lock_guard lock(mutex_);
  return aead_;
}

void CryptoKeys::replace_aead(AeadKeyRing ring) {
  auto next = std::make_shared<const AeadKeyRing>(std::move(ring));
  std::lock_guard lock(mutex_);
  aead_ = std::move(next);
}

namespace {

// Keys from the environment come first, so that their first key is the
// primary; the key file's keys are added after them.
Result<AeadKeyRing> load_aead_ring(const CryptoConfig& config) {
  AeadKeyRing keys;
  if (!config.aead_keys.empty()) {
    auto ring = AeadKeyRing::parse(config.aead_keys, "crypto.aead.keys");
    if (!ring.ok()) return ring.error();
    keys = std::move(ring).value();
  }
  if (!config.aead_key_file.empty()) {
    auto ring = AeadKeyRing::load_file(config.aead_key_file);
    if (!ring.ok()) return ring.error();
    if (Status s = keys.merge(ring.value(), "crypto.aead.key_file"); !s.ok()) return s.error();
  }
  return keys;
}

}  // namespace

Result<std::shared_ptr<CryptoKeys>> load_crypto_keys(const CryptoConfig& config) {
  auto keys = std::make_shared<CryptoKeys>();
  auto ring = load_aead_ring(config);
  if (!ring.ok()) return ring.error();
  keys->replace_aead(std::move(ring).value());
  if (!config.jwt_keys_file.empty()) {
    auto algorithms = parse_jws_algorithm_list(config.jwt_algorithms, "crypto.jwt.algorithms");
    if (!algorithms.ok()) return algorithms.error();
    auto set = JwtKeySet::load_file(config.jwt_keys_file, algorithms.value());
    if (!set.ok()) {
      Error error = set.error();
      error.field = "crypto.jwt.keys_file";
      return error;
    }
    keys->jwt = std::move(set).value();
  }
  return keys;
}

Status reload_aead_keys(const CryptoConfig& config, CryptoKeys& keys) {
  auto ring = load_aead_ring(config);
  if (!ring.ok()) {
    spdlog::error("event=crypto.aead_keys_reload_failed message={}", log_value(ring.error().message));
    return ring.error();
  }
  const size_t count = ring.value().size();
  const std::string primary = ring.value().primary_id();
  keys.replace_aead(std::move(ring).value());
  spdlog::info("event=crypto.aead_keys_reloaded aead_keys={} aead_primary={}", count, log_value(primary));
  return Status::Ok();
}

Status register_crypto_tasks(TaskRegistry& registry, const CryptoConfig& config, const Argon2Limits& argon2,
                             std::shared_ptr<const CryptoKeys> keys, Metrics* metrics) {
  MemoryBudget::process().set_capacity(config.memory_budget);
  if (metrics != nullptr) {
    metrics->gauge_callback("heavylift_crypto_memory_in_use_kib",
                            "KiB of argon2 and scrypt working memory reserved now (bounded by crypto.memory_budget).",
                            [] { return static_cast<double>(MemoryBudget::process().in_use()); });
    metrics->gauge_callback("heavylift_crypto_memory_peak_kib", "Highest reserved argon2 and scrypt memory, in KiB.",
                            [] { return static_cast<double>(MemoryBudget::process().peak()); });
    metrics->gauge_callback("heavylift_crypto_memory_waiting", "Hashes waiting for the crypto memory budget.",
                            [] { return static_cast<double>(MemoryBudget::process().waiting()); });
  }
  PasswordLimits password = config.password;
  password.argon2 = argon2;
  const CryptoConfig settings = config;

  // Each task is one line: name, request and response types, function.
  std::vector<Status> results;
  results.push_back(registry.add<v1::BcryptHashRequest, v1::BcryptHashResponse>(
      "crypto.bcrypt.hash", [password](const auto& rq, auto* rs, TaskContext& cx) { return bcrypt_hash(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::BcryptVerifyRequest, v1::BcryptVerifyResponse>(
      "crypto.bcrypt.verify", [password](const auto& rq, auto* rs, TaskContext& cx) { return bcrypt_verify(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::PasswordHashRequest, v1::PasswordHashResponse>(
      "crypto.password.hash", [password](const auto& rq, auto* rs, TaskContext& cx) { return password_hash(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::PasswordVerifyRequest, v1::PasswordVerifyResponse>(
      "crypto.password.verify", [password](const auto& rq, auto* rs, TaskContext& cx) { return password_verify(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::PasswordNeedsRehashRequest, v1::PasswordNeedsRehashResponse>(
      "crypto.password.needs_rehash",
      [password](const auto& rq, auto* rs, TaskContext&) { return password_needs_rehash(rq, rs, password); }));
  results.push_back(registry.add<v1::PasswordHashBatchRequest, v1::PasswordHashBatchResponse>(
      "crypto.password.hash_batch",
      [password](const auto& rq, auto* rs, TaskContext& cx) { return password_hash_batch(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::PasswordVerifyBatchRequest, v1::PasswordVerifyBatchResponse>(
      "crypto.password.verify_batch",
      [password](const auto& rq, auto* rs, TaskContext& cx) { return password_verify_batch(rq, rs, cx, password); }));
  results.push_back(registry.add<v1::AeadEncryptRequest, v1::AeadEncryptResponse>(
      "crypto.aead.encrypt",
      [keys, settings](const auto& rq, auto* rs, TaskContext& cx) { return aead_encrypt(rq, rs, cx, *keys->aead(), settings.aead); }));
  results.push_back(registry.add<v1::AeadDecryptRequest, v1::AeadDecryptResponse>(
      "crypto.aead.decrypt",
      [keys, settings](const auto& rq, auto* rs, TaskContext& cx) { return aead_decrypt(rq, rs, cx, *keys->aead(), settings.aead); }));
  results.push_back(registry.add<v1::HashRequest, v1::HashResponse>(
      "crypto.hash", [settings](const auto& rq, auto* rs, TaskContext& cx) { return hash_task(rq, rs, cx, settings.digest); }));
  results.push_back(registry.add<v1::HmacRequest, v1::HmacResponse>(
      "crypto.hmac", [settings](const auto& rq, auto* rs, TaskContext& cx) { return hmac_task(rq, rs, cx, settings.digest); }));
  results.push_back(registry.add<v1::HkdfRequest, v1::HkdfResponse>(
      "crypto.hkdf", [settings](const auto& rq, auto* rs, TaskContext& cx) { return hkdf_task(rq, rs, cx, settings.digest); }));
  results.push_back(registry.add<v1::CompareRequest, v1::CompareResponse>(
      "crypto.compare", [settings](const auto& rq, auto* rs, TaskContext& cx) { return compare_task(rq, rs, cx, settings.digest); }));
  results.push_back(registry.add<v1::RandomRequest, v1::RandomResponse>(
      "crypto.random", [settings](const auto& rq, auto* rs, TaskContext& cx) { return random_task(rq, rs, cx, settings.digest); }));
  results.push_back(registry.add<v1::KeyGenerateRequest, v1::KeyGenerateResponse>(
      "crypto.keygen", [](const auto& rq, auto* rs, TaskContext&) { return keygen_task(rq, rs); }));
  results.push_back(registry.add<v1::SignRequest, v1::SignResponse>(
      "crypto.sign", [settings](const auto& rq, auto* rs, TaskContext&) { return sign_task(rq, rs, settings); }));
  results.push_back(registry.add<v1::VerifyRequest, v1::VerifyResponse>(
      "crypto.verify", [settings](const auto& rq, auto* rs, TaskContext&) { return verify_task(rq, rs, settings); }));
  results.push_back(registry.add<v1::SignBatchRequest, v1::SignBatchResponse>(
      "crypto.sign_batch",
      [settings](const auto& rq, auto* rs, TaskContext& cx) { return sign_batch_task(rq, rs, cx, settings); }));
  results.push_back(registry.add<v1::VerifyBatchRequest, v1::VerifyBatchResponse>(
      "crypto.verify_batch",
      [settings](const auto& rq, auto* rs, TaskContext& cx) { return verify_batch_task(rq, rs, cx, settings); }));
  results.push_back(registry.add<v1::JwtSignRequest, v1::JwtSignResponse>(
      "crypto.jwt.sign", [keys](const auto& rq, auto* rs, TaskContext&) {
        return jwt_sign_task(rq, rs, keys->jwt, std::chrono::system_clock::now());
      }));
  results.push_back(registry.add<v1::JwtVerifyRequest, v1::JwtVerifyResponse>(
      "crypto.jwt.verify", [keys, settings](const auto& rq, auto* rs, TaskContext&) {
        return jwt_verify_task(rq, rs, keys->jwt, settings, std::chrono::system_clock::now());
      }));
  for (const Status& status : results) {
    if (!status.ok()) return status;
  }
  spdlog::info("event=crypto.keys_loaded aead_keys={} aead_primary={} jwt_keys={} memory_budget_kib={}",
               keys->aead()->size(), keys->aead()->primary_id(), keys->jwt.keys().size(), config.memory_budget);
  return Status::Ok();
}

}  // namespace heavylift
