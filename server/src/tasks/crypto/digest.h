// Hashes, MACs, HKDF, constant-time comparison and random bytes: tasks
// crypto.hash, crypto.hmac, crypto.hkdf, crypto.compare and crypto.random.
// SHA-2, HMAC and HKDF run on OpenSSL; BLAKE2b and the CSPRNG on libsodium.
//
// Thread-safety: the functions keep no state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/crypto.pb.h"

namespace heavylift {

struct DigestLimits {
  uint64_t max_input_bytes = 64u << 20;
  uint32_t max_random_bytes = 65536;
};

Status hash_task(const v1::HashRequest& request, v1::HashResponse* response, TaskContext& context,
                 const DigestLimits& limits);
Status hmac_task(const v1::HmacRequest& request, v1::HmacResponse* response, TaskContext& context,
                 const DigestLimits& limits);
Status hkdf_task(const v1::HkdfRequest& request, v1::HkdfResponse* response, TaskContext& context,
                 const DigestLimits& limits);
Status compare_task(const v1::CompareRequest& request, v1::CompareResponse* response, TaskContext& context,
                    const DigestLimits& limits);
Status random_task(const v1::RandomRequest& request, v1::RandomResponse* response, TaskContext& context,
                   const DigestLimits& limits);

// HMAC with SHA-256 (sha512 false) or SHA-512.
std::string hmac_sha2(bool sha512, std::string_view key, std::string_view data);
// HKDF (RFC 5869). Returns false when `length` exceeds 255 hash lengths.
bool hkdf_sha2(bool sha512, std::string_view input_key, std::string_view salt, std::string_view info, size_t length,
               std::string* out);
// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace heavylift
