// The PHC string format for argon2 hashes:
//   $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
// with salt and hash in unpadded standard base64. The version field is
// optional (absent means version 0x10, the original argon2) and the m, t and
// p parameters may come in any order, each exactly once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tasks/crypto/base64.h"

namespace heavylift {

enum class Argon2Variant { kArgon2d, kArgon2i, kArgon2id };

// Returns "argon2d", "argon2i" or "argon2id".
const char* argon2_variant_name(Argon2Variant variant);

struct PhcArgon2 {
  Argon2Variant variant = Argon2Variant::kArgon2id;
  uint32_t version = 0x13;
  uint32_t memory_cost = 0;  // m, KiB
  uint32_t time_cost = 0;    // t, passes
  uint32_t parallelism = 0;  // p, lanes
  std::string salt;          // raw bytes
  std::string hash;          // raw bytes
};

// Parses an argon2 PHC string. On failure returns INVALID_ARGUMENT naming
// `field` with reason MALFORMED_HASH and a message that names the part that
// is wrong. Parameter values are parsed as decimal numbers without leading zeros
// or signs that fit in 32 bits; bounds beyond that are the caller's.
Result<PhcArgon2> parse_phc_argon2(std::string_view text, std::string_view field);

// Formats `phc` as `$<variant>$v=<version>$m=<m>,t=<t>,p=<p>$<salt>$<hash>`,
// the order libargon2 writes.
std::string format_phc_argon2(const PhcArgon2& phc);

}  // namespace heavylift
