#include "tasks/crypto/argon2.h"

#include <argon2.h>
#include <fmt/format.h>
#include <sodium.h>

#include <string>

#include "tasks/crypto/bounds.h"
#include "tasks/crypto/memory_budget.h"
#include "tasks/crypto/phc.h"

namespace heavylift {
namespace {

constexpr uint32_t kMinHashLength = 16;
constexpr uint32_t kMaxHashLength = 64;
constexpr uint32_t kMinSaltLength = 8;
constexpr uint32_t kMaxSaltLength = 64;
// Hash lengths accepted when verifying strings made elsewhere: libargon2
// accepts outputs from 4 bytes.
constexpr uint32_t kMinVerifyHashLength = 4;
constexpr uint32_t kMaxVerifyHashLength = 128;


// Checks the cost parameters shared by hashing and verification. `prefix`
// names where they come from: "" for request fields, "hash." for a PHC string.
Status check_costs(const std::string& prefix, uint32_t memory_cost, uint32_t time_cost,
                   uint32_t parallelism, const Argon2Limits& limits) {
  const bool from_hash = !prefix.empty();
  if (Status s = check_range(prefix + (from_hash ? "p" : "parallelism"), parallelism, 1,
                             limits.max_parallelism);
      !s.ok()) {
    return s;
  }
  if (Status s = check_range(prefix + (from_hash ? "t" : "time_cost"), time_cost, 1,
                             limits.max_time_cost);
      !s.ok()) {
    return s;
  }
  // RFC 9106 requires m >= 8 * p.
  return check_range(prefix + (from_hash ? "m" : "memory_cost"), memory_cost,
                     8ull * parallelism, limits.max_memory_cost, " KiB");
}

// Computes the raw argon2 hash of `password` for the parameters in `phc`,
// writing phc.hash.size() bytes to `out`.
Status compute(const PhcArgon2& phc, std::string_view password, std::string* out) {
  const bool sodium_fast_path = phc.variant == Argon2Variant::kArgon2id && phc.version == 0x13 &&
                                phc.parallelism == 1 &&
                                phc.salt.size() == crypto_pwhash_SALTBYTES &&
                                out->size() >= crypto_pwhash_BYTES_MIN;
  if (sodium_fast_path) {
    const int rc = crypto_pwhash(reinterpret_cast<unsigned char*>(out->data()), out->size(),
                                 password.data(), password.size(),
                                 reinterpret_cast<const unsigned char*>(phc.salt.data()),
                                 phc.time_cost, static_cast<size_t>(phc.memory_cost) * 1024,
                                 crypto_pwhash_ALG_ARGON2ID13);
    if (rc != 0) return Error::internal("argon2id failed: libsodium could not allocate memory");
    return Status::Ok();
  }

  const argon2_type type = phc.variant == Argon2Variant::kArgon2id  ? Argon2_id
                           : phc.variant == Argon2Variant::kArgon2i ? Argon2_i
                                                                    : Argon2_d;
  const int rc = argon2_hash(phc.time_cost, phc.memory_cost, phc.parallelism, password.data(),
                             password.size(), phc.salt.data(), phc.salt.size(), out->data(),
                             out->size(), nullptr, 0, type, phc.version);
  if (rc != ARGON2_OK) {
    return Error::internal(fmt::format("{} failed: {}", argon2_variant_name(phc.variant),
                                       argon2_error_message(rc)));
  }
  return Status::Ok();
}

}  // namespace

bool argon2_init() { return sodium_init() >= 0; }

Status argon2id_hash(const v1::Argon2idHashRequest& request, v1::Argon2idHashResponse* response,
                     TaskContext& context, const Argon2Limits& limits) {
  PhcArgon2 phc;
  phc.variant = Argon2Variant::kArgon2id;
  phc.version = 0x13;
  phc.memory_cost = request.memory_cost() != 0 ? request.memory_cost() : kArgon2DefaultMemoryCost;
  phc.time_cost = request.time_cost() != 0 ? request.time_cost() : kArgon2DefaultTimeCost;
  phc.parallelism =
      request.parallelism() != 0 ? request.parallelism() : kArgon2DefaultParallelism;
  const uint32_t hash_length =
      request.hash_length() != 0 ? request.hash_length() : kArgon2DefaultHashLength;

  if (Status s = check_range("password", request.password().size(), 0, limits.max_password_bytes,
                             " bytes");
      !s.ok()) {
    return s;
  }
  if (Status s = check_costs("", phc.memory_cost, phc.time_cost, phc.parallelism, limits); !s.ok()) {
    return s;
  }
  if (Status s = check_range("hash_length", hash_length, kMinHashLength, kMaxHashLength, " bytes");
      !s.ok()) {
    return s;
  }
  if (request.salt().empty()) {
    phc.salt.resize(kArgon2DefaultSaltLength);
    randombytes_buf(phc.salt.data(), phc.salt.size());
  } else {
    if (Status s = check_range("salt", request.salt().size(), kMinSaltLength, kMaxSaltLength,
                               " bytes");
        !s.ok()) {
      return s;
    }
    phc.salt = request.salt();
  }

  if (Status s = context.check(); !s.ok()) return s;
  MemoryReservation memory;
  if (Status s = memory.acquire(MemoryBudget::process(), phc.memory_cost, context, "memory_cost"); !s.ok()) return s;
  phc.hash.resize(hash_length);
  if (Status s = compute(phc, request.password(), &phc.hash); !s.ok()) return s;
  response->set_hash(format_phc_argon2(phc));
  return Status::Ok();
}

Status argon2id_verify(const v1::Argon2idVerifyRequest& request,
                       v1::Argon2idVerifyResponse* response, TaskContext& context,
                       const Argon2Limits& limits) {
  if (Status s = check_range("password", request.password().size(), 0, limits.max_password_bytes,
                             " bytes");
      !s.ok()) {
    return s;
  }
  auto parsed = parse_phc_argon2(request.hash(), "hash");
  if (!parsed.ok()) return parsed.error();
  const PhcArgon2& phc = parsed.value();

  if (Status s = check_costs("hash.", phc.memory_cost, phc.time_cost, phc.parallelism, limits);
      !s.ok()) {
    return s;
  }
  if (Status s = check_range("hash.salt", phc.salt.size(), kMinSaltLength, kMaxSaltLength, " bytes");
      !s.ok()) {
    return s;
  }
  if (Status s = check_range("hash.hash", phc.hash.size(), kMinVerifyHashLength,
                             kMaxVerifyHashLength, " bytes");
      !s.ok()) {
    return s;
  }

  if (Status s = context.check(); !s.ok()) return s;
  MemoryReservation memory;
  if (Status s = memory.acquire(MemoryBudget::process(), phc.memory_cost, context, "hash.m"); !s.ok()) return s;
  std::string computed(phc.hash.size(), '\0');
  if (Status s = compute(phc, request.password(), &computed); !s.ok()) return s;
  response->set_match(sodium_memcmp(computed.data(), phc.hash.data(), computed.size()) == 0);
  sodium_memzero(computed.data(), computed.size());
  return Status::Ok();
}

}  // namespace heavylift
