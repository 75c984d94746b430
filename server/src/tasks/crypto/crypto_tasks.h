// Registration of every crypto.* task, the crypto settings, and the
// signature and JWT tasks that use keys (crypto.keygen, crypto.sign,
// crypto.verify, crypto.jwt.sign, crypto.jwt.verify).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/metrics.h"
#include "core/task_context.h"
#include "core/task_registry.h"
#include "heavylift/v1/crypto.pb.h"
#include "tasks/crypto/aead.h"
#include "tasks/crypto/digest.h"
#include "tasks/crypto/jwt.h"
#include "tasks/crypto/password.h"

namespace heavylift {

// The crypto settings beyond argon2's (which stay in Config::argon2).
struct CryptoConfig {
  PasswordLimits password;
  // Budget for argon2 and scrypt working memory; 0 disables it.
  uint64_t memory_budget = 1u << 20;  // KiB (1 GiB)
  AeadLimits aead;
  // AEAD key file (see AeadKeyRing::load_file); used with aead_keys.
  std::string aead_key_file;
  // AEAD keys as "id:base64,id:base64" (first is primary), normally from
  // HEAVYLIFT_CRYPTO_AEAD_KEYS. Never logged.
  std::string aead_keys;
  DigestLimits digest;
  // JWKS file with the keys crypto.jwt.* use.
  std::string jwt_keys_file;
  // Allow-list for JWKS keys that have no "alg", as "HS256,EdDSA".
  std::string jwt_algorithms;
  uint32_t jwt_clock_skew_seconds = 30;
  uint32_t jwt_max_token_bytes = 16384;
  uint32_t signature_max_message_bytes = 64u << 20;
  // crypto.sign_batch / crypto.verify_batch: the maximum items in one call,
  // and the maximum message and signature bytes of all its items together.
  uint32_t signature_batch_max_items = 10000;
  uint64_t signature_batch_max_bytes = 16u << 20;
};

// Keys shared by the tasks. The AEAD key ring can be replaced while tasks run
// (reload_aead_keys, on SIGHUP); each call uses the ring that was current
// when it started. The JWT key set is read at start-up only.
class CryptoKeys {
 public:
  std::shared_ptr<const AeadKeyRing> aead() const;
  void replace_aead(AeadKeyRing ring);

  JwtKeySet jwt;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AeadKeyRing> aead_ = std::make_shared<const AeadKeyRing>();
};

// Loads the AEAD key ring and the JWT key set named by `config`. Errors name
// the setting at fault and never contain key bytes.
Result<std::shared_ptr<CryptoKeys>> load_crypto_keys(const CryptoConfig& config);

// Reads the AEAD keys again (crypto.aead.keys, then crypto.aead.key_file) and
// replaces the ring, so a rotation written to the key file needs no restart.
// On an error the previous ring stays in force. Logs either outcome.
Status reload_aead_keys(const CryptoConfig& config, CryptoKeys& keys);

// Registers every crypto.* task except the argon2id pair (already in
// builtin_tasks). Sets the process memory budget and registers its gauges.
Status register_crypto_tasks(TaskRegistry& registry, const CryptoConfig& config, const Argon2Limits& argon2,
                             std::shared_ptr<const CryptoKeys> keys, Metrics* metrics);

// The key tasks, exposed for tests.
Status keygen_task(const v1::KeyGenerateRequest& request, v1::KeyGenerateResponse* response);
Status sign_task(const v1::SignRequest& request, v1::SignResponse* response, const CryptoConfig& config);
Status verify_task(const v1::VerifyRequest& request, v1::VerifyResponse* response, const CryptoConfig& config);
// crypto.sign_batch / crypto.verify_batch: items spread over the cores, one
// result or error per item.
Status sign_batch_task(const v1::SignBatchRequest& request, v1::SignBatchResponse* response, TaskContext& context,
                       const CryptoConfig& config);
Status verify_batch_task(const v1::VerifyBatchRequest& request, v1::VerifyBatchResponse* response,
                         TaskContext& context, const CryptoConfig& config);
Status jwt_sign_task(const v1::JwtSignRequest& request, v1::JwtSignResponse* response, const JwtKeySet& keys,
                     std::chrono::system_clock::time_point now);
Status jwt_verify_task(const v1::JwtVerifyRequest& request, v1::JwtVerifyResponse* response, const JwtKeySet& keys,
                       const CryptoConfig& config, std::chrono::system_clock::time_point now);

}  // namespace heavylift
