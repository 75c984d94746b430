// libFuzzer target for the stored password hash readers: argon2 PHC strings,
// bcrypt hashes, "$scrypt$" and "$pbkdf2-sha256/512$" strings, through
// needs_rehash (parsing only) and verify with tiny cost bounds, so every
// accepted string is also computed. Errors must be INVALID_ARGUMENT.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tasks/crypto/password.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool initialized = heavylift::argon2_init();
  if (!initialized) std::abort();
  const std::string hash(reinterpret_cast<const char*>(data), size);

  heavylift::PasswordLimits limits;
  limits.argon2.max_memory_cost = 64;
  limits.argon2.max_time_cost = 2;
  limits.argon2.max_parallelism = 2;
  limits.bcrypt_max_cost = 4;
  limits.scrypt_max_log2_n = 10;
  limits.scrypt_max_r = 2;
  limits.scrypt_max_p = 2;
  limits.pbkdf2_max_iterations = 2000;

  heavylift::v1::PasswordNeedsRehashRequest rehash;
  rehash.set_hash(hash);
  heavylift::v1::PasswordNeedsRehashResponse advice;
  const heavylift::Status parsed = heavylift::password_needs_rehash(rehash, &advice, limits);
  if (!parsed.ok() && parsed.error().code != heavylift::Code::kInvalidArgument) std::abort();

  heavylift::v1::PasswordVerifyRequest verify;
  verify.set_hash(hash);
  verify.set_password("fuzz");
  heavylift::v1::PasswordVerifyResponse verdict;
  auto context = heavylift::TaskContext::unbounded();
  const heavylift::Status checked = heavylift::password_verify(verify, &verdict, *context, limits);
  if (!checked.ok() && checked.error().code != heavylift::Code::kInvalidArgument) std::abort();
  return 0;
}
