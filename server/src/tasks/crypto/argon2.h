// Tasks crypto.argon2id.hash and crypto.argon2id.verify.
//
// Hashing uses libsodium's argon2id, which has SIMD implementations, when
// parallelism is 1 and the salt is 16 bytes (the only shape libsodium's API
// takes), and the portable libargon2 otherwise. Both compute RFC 9106 argon2
// version 0x13, so the PHC strings they produce are interchangeable.
#pragma once

#include <cstdint>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/crypto.pb.h"

namespace heavylift {

// Bounds on argon2 parameters. Verification applies the same bounds to the
// parameters inside a PHC string, so a forged string cannot make the daemon
// allocate or compute without limit.
struct Argon2Limits {
  uint32_t max_memory_cost = 262144;   // KiB (256 MiB)
  uint32_t max_time_cost = 10;         // passes
  uint32_t max_parallelism = 8;        // lanes
  uint32_t max_password_bytes = 4096;  // bytes
};

// Defaults for zero-valued request fields: the OWASP Password Storage Cheat
// Sheet's first argon2id configuration (m=19456 KiB, t=2, p=1).
inline constexpr uint32_t kArgon2DefaultMemoryCost = 19456;
inline constexpr uint32_t kArgon2DefaultTimeCost = 2;
inline constexpr uint32_t kArgon2DefaultParallelism = 1;
inline constexpr uint32_t kArgon2DefaultHashLength = 32;
inline constexpr uint32_t kArgon2DefaultSaltLength = 16;

// Hashes `request.password()` and writes the PHC string. Returns
// INVALID_ARGUMENT naming the field for any parameter outside its bound.
Status argon2id_hash(const v1::Argon2idHashRequest& request, v1::Argon2idHashResponse* response,
                     TaskContext& context, const Argon2Limits& limits);

// Checks `request.password()` against the PHC string `request.hash()` in
// constant time. A wrong password is not an error: match is false. Returns
// INVALID_ARGUMENT naming "hash" when the string is malformed or its
// parameters are outside the bounds.
Status argon2id_verify(const v1::Argon2idVerifyRequest& request,
                       v1::Argon2idVerifyResponse* response, TaskContext& context,
                       const Argon2Limits& limits);

// Must be called once before the first hash: initializes libsodium.
// Returns false when libsodium cannot start (no entropy source).
bool argon2_init();

}  // namespace heavylift
