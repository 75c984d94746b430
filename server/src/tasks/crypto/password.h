// Password hashing tasks beyond crypto.argon2id.*: bcrypt (libxcrypt
// crypt_rn), scrypt and PBKDF2-HMAC-SHA256/512 (OpenSSL), one verify for every
// format, rehash checks, batches spread over the cores, and the memory budget
// that memory-hard hashes (argon2, scrypt) reserve from before allocating.
//
// Thread-safety: every function may run on many threads at once; the memory
// budget is process-wide and synchronized.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/crypto.pb.h"
#include "tasks/crypto/argon2.h"
#include "tasks/crypto/memory_budget.h"

namespace heavylift {

struct PasswordLimits {
  Argon2Limits argon2;
  uint32_t bcrypt_max_cost = 16;
  uint32_t bcrypt_default_cost = 12;
  // Applied when a request leaves the long-password policy unset.
  v1::BcryptLongPassword bcrypt_long_password = v1::BCRYPT_LONG_PASSWORD_REJECT;
  uint32_t scrypt_max_log2_n = 20;
  uint32_t scrypt_max_r = 32;
  uint32_t scrypt_max_p = 16;
  // Largest scrypt working memory (128 * r * N bytes) accepted, in KiB.
  uint32_t scrypt_max_memory = 262144;
  uint32_t pbkdf2_max_iterations = 10'000'000;
  uint32_t batch_max_items = 1000;
  // Threads a batch spreads over; 0 means one per core.
  uint32_t batch_threads = 0;
};

// crypto.bcrypt.hash / crypto.bcrypt.verify.
Status bcrypt_hash(const v1::BcryptHashRequest& request, v1::BcryptHashResponse* response, TaskContext& context,
                   const PasswordLimits& limits);
Status bcrypt_verify(const v1::BcryptVerifyRequest& request, v1::BcryptVerifyResponse* response,
                     TaskContext& context, const PasswordLimits& limits);

// crypto.password.hash: any algorithm under a policy.
Status password_hash(const v1::PasswordHashRequest& request, v1::PasswordHashResponse* response,
                     TaskContext& context, const PasswordLimits& limits);
// crypto.password.verify: any supported hash format, chosen by its prefix.
Status password_verify(const v1::PasswordVerifyRequest& request, v1::PasswordVerifyResponse* response,
                       TaskContext& context, const PasswordLimits& limits);
// crypto.password.needs_rehash.
Status password_needs_rehash(const v1::PasswordNeedsRehashRequest& request,
                             v1::PasswordNeedsRehashResponse* response, const PasswordLimits& limits);
// crypto.password.hash_batch / verify_batch: items run on up to
// `batch_threads` threads; each item's error is reported in its result.
Status password_hash_batch(const v1::PasswordHashBatchRequest& request, v1::PasswordHashBatchResponse* response,
                           TaskContext& context, const PasswordLimits& limits);
Status password_verify_batch(const v1::PasswordVerifyBatchRequest& request,
                             v1::PasswordVerifyBatchResponse* response, TaskContext& context,
                             const PasswordLimits& limits);

// The raw key derivations, exposed for the known-answer tests. Return false
// when OpenSSL rejects the parameters.
bool scrypt_kdf(std::string_view password, std::string_view salt, uint64_t n, uint32_t r, uint32_t p, std::string* out);
bool pbkdf2_kdf(std::string_view password, std::string_view salt, uint32_t iterations, bool sha512, std::string* out);

// Fills an ErrorDetail (and a message) from `error`, for batch results.
void fill_error_detail(const Error& error, v1::ErrorDetail* detail, std::string* message);

}  // namespace heavylift
