#include "tasks/crypto/password.h"

#include <crypt.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <functional>
#include <optional>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tasks/crypto/base64.h"
#include "tasks/crypto/bounds.h"
#include "tasks/crypto/phc.h"
#include "tasks/crypto/spread.h"

namespace heavylift {
namespace {

constexpr size_t kBcryptMaxPasswordBytes = 72;
constexpr uint32_t kBcryptMinCost = 4;
constexpr uint32_t kScryptDefaultLog2N = 17;
constexpr uint32_t kScryptDefaultR = 8;
constexpr uint32_t kScryptDefaultP = 1;
constexpr uint32_t kPbkdf2Sha256DefaultIterations = 600'000;
constexpr uint32_t kPbkdf2Sha512DefaultIterations = 210'000;
constexpr uint32_t kPbkdf2MinIterations = 1000;
constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;


Status check_password(std::string_view password, const PasswordLimits& limits) {
  if (password.empty()) return Error::invalid("password", "EMPTY", "password is empty");
  return check_range("password", password.size(), 1, limits.argon2.max_password_bytes, " bytes");
}

Error malformed_hash(const std::string& problem) {
  return Error::invalid("hash", "MALFORMED_HASH", "hash is not a valid password hash: " + problem);
}

// ----------------------------------------------------------------- bcrypt

v1::BcryptLongPassword effective_policy(v1::BcryptLongPassword requested, const PasswordLimits& limits) {
  return requested == v1::BCRYPT_LONG_PASSWORD_DEFAULT ? limits.bcrypt_long_password : requested;
}

// Applies the bcrypt input policies and returns the bytes bcrypt will read.
Result<std::string> bcrypt_input(std::string_view password, v1::BcryptLongPassword policy,
                                 const PasswordLimits& limits) {
  if (Status s = check_password(password, limits); !s.ok()) return s.error();
  if (password.find('\0') != std::string_view::npos) {
    return Error::invalid("password", "PASSWORD_CONTAINS_NUL",
                          "password contains a NUL byte; bcrypt stops reading at it, so every password "
                          "with the same bytes before the NUL would match");
  }
  if (password.size() > kBcryptMaxPasswordBytes) {
    if (effective_policy(policy, limits) != v1::BCRYPT_LONG_PASSWORD_TRUNCATE) {
      return Error::invalid("password", "PASSWORD_TOO_LONG",
                            fmt::format("password is {} bytes; bcrypt reads only the first 72, so passwords "
                                        "sharing those would match. Use argon2id, or set long_password to "
                                        "TRUNCATE to accept that",
                                        password.size()),
                            "<= 72 bytes", fmt::format("{} bytes", password.size()));
    }
    password = password.substr(0, kBcryptMaxPasswordBytes);
  }
  return std::string(password);
}

struct ParsedBcrypt {
  char variant = 'b';
  uint32_t cost = 0;
};

// Checks "$2a$", "$2b$" or "$2y$", a two-digit cost and 53 characters of
// bcrypt's base64 alphabet.
Result<ParsedBcrypt> parse_bcrypt(std::string_view hash) {
  if (hash.size() != 60 || hash.substr(0, 2) != "$2" || hash[3] != '$' || hash[6] != '$') {
    return malformed_hash("a bcrypt hash is 60 characters: $2b$<cost>$<53 characters>");
  }
  ParsedBcrypt parsed;
  parsed.variant = hash[2];
  if (parsed.variant != 'a' && parsed.variant != 'b' && parsed.variant != 'y') {
    return malformed_hash(fmt::format("bcrypt variant $2{}$ is not supported (use $2a$, $2b$ or $2y$)",
                                      quote_value(hash.substr(2, 1))));
  }
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') {
    return malformed_hash("the bcrypt cost is not two digits");
  }
  parsed.cost = static_cast<uint32_t>((hash[4] - '0') * 10 + (hash[5] - '0'));
  for (char c : hash.substr(7)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '/';
    if (!ok) return malformed_hash("the bcrypt salt and hash use characters outside ./A-Za-z0-9");
  }
  return parsed;
}

// Runs crypt_rn for `setting` (a bcrypt setting or full hash).
Result<std::string> run_crypt(const std::string& password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return malformed_hash("libxcrypt rejected the bcrypt setting");
  std::string result(out);
  sodium_memzero(data.get(), sizeof(crypt_data));
  return result;
}

Result<std::string> bcrypt_compute_hash(std::string_view password, uint32_t cost, v1::BcryptLongPassword policy,
                                        TaskContext& context, const PasswordLimits& limits) {
  if (Status s = check_range("cost", cost, kBcryptMinCost, limits.bcrypt_max_cost); !s.ok()) return s.error();
  auto input = bcrypt_input(password, policy, limits);
  if (!input.ok()) return input.error();
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  unsigned char salt[16];
  randombytes_buf(salt, sizeof(salt));
  if (crypt_gensalt_rn("$2b$", cost, reinterpret_cast<const char*>(salt), sizeof(salt), setting, sizeof(setting)) ==
      nullptr) {
    return Error::internal("libxcrypt could not make a bcrypt salt");
  }
  if (Status s = context.check(); !s.ok()) return s.error();
  auto hash = run_crypt(input.value(), setting);
  sodium_memzero(input.value().data(), input.value().size());
  if (!hash.ok()) return Error::internal("bcrypt failed in libxcrypt");
  return hash;
}

Result<bool> bcrypt_check(std::string_view password, std::string_view hash, v1::BcryptLongPassword policy,
                          TaskContext& context, const PasswordLimits& limits) {
  auto parsed = parse_bcrypt(hash);
  if (!parsed.ok()) return parsed.error();
  if (Status s = check_range("hash.cost", parsed.value().cost, kBcryptMinCost, limits.bcrypt_max_cost); !s.ok()) {
    return s.error();
  }
  auto input = bcrypt_input(password, policy, limits);
  if (!input.ok()) return input.error();
  if (Status s = context.check(); !s.ok()) return s.error();
  auto computed = run_crypt(input.value(), std::string(hash));
  sodium_memzero(input.value().data(), input.value().size());
  if (!computed.ok()) return computed.error();
  return computed.value().size() == hash.size() &&
         sodium_memcmp(computed.value().data(), hash.data(), hash.size()) == 0;
}

// ------------------------------------------------------- scrypt and PBKDF2

// "$<id>$k=v,k=v$<salt>$<hash>" with unpadded standard base64.
struct PhcGeneric {
  std::string id;
  std::vector<std::pair<std::string, uint64_t>> params;
  std::string salt;
  std::string hash;

  std::optional<uint64_t> get(std::string_view key) const {
    for (const auto& [k, v] : params) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

Result<PhcGeneric> parse_phc_generic(std::string_view text) {
  if (text.size() > 512) return malformed_hash("longer than 512 characters");
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('$', start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 5 || !parts[0].empty()) return malformed_hash("expected $<id>$<parameters>$<salt>$<hash>");
  PhcGeneric phc;
  phc.id = std::string(parts[1]);
  size_t pos = 0;
  const std::string_view list = parts[2];
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view item = list.substr(pos, comma - pos);
    const size_t equals = item.find('=');
    uint64_t value = 0;
    const std::string_view number = equals == std::string_view::npos ? "" : item.substr(equals + 1);
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || error != std::errc() || end != number.data() + number.size() ||
        (number.size() > 1 && number[0] == '0')) {
      return malformed_hash(fmt::format("parameter {} is not name=number", quote_value(item)));
    }
    const std::string key(item.substr(0, equals));
    if (phc.get(key)) return malformed_hash(fmt::format("parameter {} appears twice", quote_value(key)));
    phc.params.emplace_back(key, value);
    pos = comma + 1;
  }
  if (!base64_decode(parts[3], Base64Alphabet::kStandard, &phc.salt) || phc.salt.size() < 8 || phc.salt.size() > 64) {
    return malformed_hash("the salt is not 8..64 bytes of unpadded base64");
  }
  if (!base64_decode(parts[4], Base64Alphabet::kStandard, &phc.hash) || phc.hash.size() < 16 || phc.hash.size() > 64) {
    return malformed_hash("the hash is not 16..64 bytes of unpadded base64");
  }
  return phc;
}

struct ScryptParams {
  uint32_t log2_n = kScryptDefaultLog2N;
  uint32_t r = kScryptDefaultR;
  uint32_t p = kScryptDefaultP;
};

// Memory scrypt allocates, in KiB: 128 * r * N bytes for V plus 256 * r for B.
uint64_t scrypt_memory_kib(const ScryptParams& params) {
  return (128ull * params.r * (1ull << params.log2_n) + 256ull * params.r * params.p) / 1024 + 1;
}

Status check_scrypt(const ScryptParams& params, const std::string& prefix, const PasswordLimits& limits) {
  if (Status s = check_range(prefix + "log2_n", params.log2_n, 10, limits.scrypt_max_log2_n); !s.ok()) return s;
  if (Status s = check_range(prefix + "r", params.r, 1, limits.scrypt_max_r); !s.ok()) return s;
  if (Status s = check_range(prefix + "p", params.p, 1, limits.scrypt_max_p); !s.ok()) return s;
  return check_range(prefix + "memory", scrypt_memory_kib(params), 0, limits.scrypt_max_memory, " KiB");
}

Status scrypt_derive(std::string_view password, std::string_view salt, const ScryptParams& params, std::string* out,
                     TaskContext& context) {
  MemoryReservation memory;
  if (Status s = memory.acquire(MemoryBudget::process(), scrypt_memory_kib(params), context, "scrypt memory");
      !s.ok()) {
    return s;
  }
  const uint64_t max_memory = scrypt_memory_kib(params) * 1024 + (1 << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), 1ull << params.log2_n, params.r, params.p, max_memory,
                     reinterpret_cast<unsigned char*>(out->data()), out->size()) != 1) {
    ERR_clear_error();
    return Error::internal("scrypt failed in OpenSSL");
  }
  return Status::Ok();
}

Status pbkdf2_derive(std::string_view password, std::string_view salt, uint32_t iterations, bool sha512,
                     std::string* out) {
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), sha512 ? EVP_sha512() : EVP_sha256(),
                        static_cast<int>(out->size()), reinterpret_cast<unsigned char*>(out->data())) != 1) {
    ERR_clear_error();
    return Error::internal("PBKDF2 failed in OpenSSL");
  }
  return Status::Ok();
}

std::string random_salt() {
  std::string salt(kSaltBytes, '\0');
  randombytes_buf(salt.data(), salt.size());
  return salt;
}

std::string encode(std::string_view bytes) { return base64_encode(bytes, Base64Alphabet::kStandard); }

uint32_t pbkdf2_default_iterations(bool sha512) {
  return sha512 ? kPbkdf2Sha512DefaultIterations : kPbkdf2Sha256DefaultIterations;
}

v1::PasswordAlgorithm algorithm_of(const v1::PasswordPolicy& policy) {
  return policy.algorithm() == v1::PASSWORD_ALGORITHM_DEFAULT ? v1::PASSWORD_ALGORITHM_ARGON2ID : policy.algorithm();
}

ScryptParams scrypt_params_of(const v1::PasswordPolicy& policy) {
  ScryptParams params;
  if (policy.scrypt_log2_n() != 0) params.log2_n = policy.scrypt_log2_n();
  if (policy.scrypt_r() != 0) params.r = policy.scrypt_r();
  if (policy.scrypt_p() != 0) params.p = policy.scrypt_p();
  return params;
}

Result<ScryptParams> scrypt_params_of(const PhcGeneric& phc, const PasswordLimits& limits) {
  const auto ln = phc.get("ln"), r = phc.get("r"), p = phc.get("p");
  if (!ln || !r || !p || phc.params.size() != 3) return malformed_hash("scrypt needs exactly ln, r and p");
  if (*ln > 63 || *r > UINT32_MAX || *p > UINT32_MAX) return malformed_hash("scrypt parameters are out of range");
  ScryptParams params{static_cast<uint32_t>(*ln), static_cast<uint32_t>(*r), static_cast<uint32_t>(*p)};
  if (Status s = check_scrypt(params, "hash.", limits); !s.ok()) return s.error();
  return params;
}

Result<uint32_t> pbkdf2_iterations_of(const PhcGeneric& phc, const PasswordLimits& limits) {
  const auto i = phc.get("i"), l = phc.get("l");
  if (!i || (phc.params.size() != (l ? 2u : 1u))) return malformed_hash("PBKDF2 needs i (and optionally l)");
  if (l && *l != phc.hash.size()) return malformed_hash("PBKDF2 l does not match the hash length");
  if (Status s = check_range("hash.i", *i, kPbkdf2MinIterations, limits.pbkdf2_max_iterations); !s.ok()) {
    return s.error();
  }
  return static_cast<uint32_t>(*i);
}

// What a stored hash is, by its prefix.
enum class HashFamily { kArgon2, kBcrypt, kScrypt, kPbkdf2Sha256, kPbkdf2Sha512, kUnknown };

HashFamily family_of(std::string_view hash) {
  if (hash.rfind("$argon2", 0) == 0) return HashFamily::kArgon2;
  if (hash.rfind("$2", 0) == 0) return HashFamily::kBcrypt;
  if (hash.rfind("$scrypt$", 0) == 0) return HashFamily::kScrypt;
  if (hash.rfind("$pbkdf2-sha256$", 0) == 0) return HashFamily::kPbkdf2Sha256;
  if (hash.rfind("$pbkdf2-sha512$", 0) == 0) return HashFamily::kPbkdf2Sha512;
  return HashFamily::kUnknown;
}

// Returns `error` with the field of the argon2id or bcrypt request that
// password.hash builds from its policy renamed to the policy field the caller
// set ("memory_cost" to "policy.argon2_memory_cost"), in the message too.
Error in_policy_terms(Error error) {
  static constexpr std::pair<std::string_view, std::string_view> kPolicyFields[] = {
      {"memory_cost", "policy.argon2_memory_cost"},
      {"time_cost", "policy.argon2_time_cost"},
      {"parallelism", "policy.argon2_parallelism"},
      {"cost", "policy.bcrypt_cost"},
  };
  for (const auto& [inner, policy_field] : kPolicyFields) {
    if (error.field != inner) continue;
    if (error.message.starts_with(inner)) {
      error.message = std::string(policy_field) + error.message.substr(inner.size());
    }
    error.field = policy_field;
    break;
  }
  return error;
}

}  // namespace

Status bcrypt_hash(const v1::BcryptHashRequest& request, v1::BcryptHashResponse* response, TaskContext& context,
                   const PasswordLimits& limits) {
  const uint32_t cost = request.cost() != 0 ? request.cost() : limits.bcrypt_default_cost;
  auto hash = bcrypt_compute_hash(request.password(), cost, request.long_password(), context, limits);
  if (!hash.ok()) return hash.error();
  response->set_hash(std::move(hash).value());
  return Status::Ok();
}

Status bcrypt_verify(const v1::BcryptVerifyRequest& request, v1::BcryptVerifyResponse* response,
                     TaskContext& context, const PasswordLimits& limits) {
  auto match = bcrypt_check(request.password(), request.hash(), request.long_password(), context, limits);
  if (!match.ok()) return match.error();
  response->set_match(match.value());
  return Status::Ok();
}

Status password_hash(const v1::PasswordHashRequest& request, v1::PasswordHashResponse* response,
                     TaskContext& context, const PasswordLimits& limits) {
  const v1::PasswordPolicy& policy = request.policy();
  const std::string_view password = request.password();
  switch (algorithm_of(policy)) {
    case v1::PASSWORD_ALGORITHM_ARGON2ID: {
      if (Status s = check_password(password, limits); !s.ok()) return s;
      v1::Argon2idHashRequest inner;
      inner.set_password(request.password());
      inner.set_memory_cost(policy.argon2_memory_cost());
      inner.set_time_cost(policy.argon2_time_cost());
      inner.set_parallelism(policy.argon2_parallelism());
      v1::Argon2idHashResponse out;
      if (Status s = argon2id_hash(inner, &out, context, limits.argon2); !s.ok()) return in_policy_terms(s.error());
      response->set_hash(out.hash());
      return Status::Ok();
    }
    case v1::PASSWORD_ALGORITHM_BCRYPT: {
      const uint32_t cost = policy.bcrypt_cost() != 0 ? policy.bcrypt_cost() : limits.bcrypt_default_cost;
      auto hash = bcrypt_compute_hash(password, cost, policy.bcrypt_long_password(), context, limits);
      if (!hash.ok()) return in_policy_terms(hash.error());
      response->set_hash(std::move(hash).value());
      return Status::Ok();
    }
    case v1::PASSWORD_ALGORITHM_SCRYPT: {
      if (Status s = check_password(password, limits); !s.ok()) return s;
      const ScryptParams params = scrypt_params_of(policy);
      if (Status s = check_scrypt(params, "policy.scrypt_", limits); !s.ok()) return s;
      const std::string salt = random_salt();
      std::string key(kKeyBytes, '\0');
      if (Status s = scrypt_derive(password, salt, params, &key, context); !s.ok()) return s;
      response->set_hash(fmt::format("$scrypt$ln={},r={},p={}${}${}", params.log2_n, params.r, params.p,
                                     encode(salt), encode(key)));
      return Status::Ok();
    }
    case v1::PASSWORD_ALGORITHM_PBKDF2_SHA256:
    case v1::PASSWORD_ALGORITHM_PBKDF2_SHA512: {
      if (Status s = check_password(password, limits); !s.ok()) return s;
      const bool sha512 = algorithm_of(policy) == v1::PASSWORD_ALGORITHM_PBKDF2_SHA512;
      const uint32_t iterations =
          policy.pbkdf2_iterations() != 0 ? policy.pbkdf2_iterations() : pbkdf2_default_iterations(sha512);
      if (Status s = check_range("policy.pbkdf2_iterations", iterations, kPbkdf2MinIterations,
                                 limits.pbkdf2_max_iterations);
          !s.ok()) {
        return s;
      }
      if (Status s = context.check(); !s.ok()) return s;
      const std::string salt = random_salt();
      std::string key(sha512 ? 64 : 32, '\0');
      if (Status s = pbkdf2_derive(password, salt, iterations, sha512, &key); !s.ok()) return s;
      response->set_hash(fmt::format("$pbkdf2-{}$i={},l={}${}${}", sha512 ? "sha512" : "sha256", iterations,
                                     key.size(), encode(salt), encode(key)));
      return Status::Ok();
    }
    default:
      return Error::invalid("policy.algorithm", "UNKNOWN_ALGORITHM",
                            fmt::format("policy.algorithm {} is not a known password algorithm",
                                        static_cast<int>(policy.algorithm())));
  }
}

Status password_verify(const v1::PasswordVerifyRequest& request, v1::PasswordVerifyResponse* response,
                       TaskContext& context, const PasswordLimits& limits) {
  const std::string& hash = request.hash();
  const std::string_view password = request.password();
  if (hash.empty()) return Error::invalid("hash", "EMPTY", "hash is empty");
  switch (family_of(hash)) {
    case HashFamily::kArgon2: {
      if (Status s = check_password(password, limits); !s.ok()) return s;
      v1::Argon2idVerifyRequest inner;
      inner.set_password(request.password());
      inner.set_hash(hash);
      v1::Argon2idVerifyResponse out;
      if (Status s = argon2id_verify(inner, &out, context, limits.argon2); !s.ok()) return s;
      response->set_match(out.match());
      response->set_algorithm(hash.substr(1, hash.find('$', 1) - 1));
      return Status::Ok();
    }
    case HashFamily::kBcrypt: {
      auto match = bcrypt_check(password, hash, request.bcrypt_long_password(), context, limits);
      if (!match.ok()) return match.error();
      response->set_match(match.value());
      response->set_algorithm("bcrypt");
      return Status::Ok();
    }
    case HashFamily::kScrypt:
    case HashFamily::kPbkdf2Sha256:
    case HashFamily::kPbkdf2Sha512: {
      if (Status s = check_password(password, limits); !s.ok()) return s;
      auto parsed = parse_phc_generic(hash);
      if (!parsed.ok()) return parsed.error();
      const PhcGeneric& phc = parsed.value();
      std::string computed(phc.hash.size(), '\0');
      if (family_of(hash) == HashFamily::kScrypt) {
        auto params = scrypt_params_of(phc, limits);
        if (!params.ok()) return params.error();
        if (Status s = scrypt_derive(password, phc.salt, params.value(), &computed, context); !s.ok()) return s;
      } else {
        auto iterations = pbkdf2_iterations_of(phc, limits);
        if (!iterations.ok()) return iterations.error();
        if (Status s = context.check(); !s.ok()) return s;
        if (Status s = pbkdf2_derive(password, phc.salt, iterations.value(),
                                     family_of(hash) == HashFamily::kPbkdf2Sha512, &computed);
            !s.ok()) {
          return s;
        }
      }
      response->set_match(sodium_memcmp(computed.data(), phc.hash.data(), computed.size()) == 0);
      response->set_algorithm(phc.id);
      return Status::Ok();
    }
    case HashFamily::kUnknown:
      break;
  }
  return malformed_hash("unknown format; expected $argon2id$, $argon2i$, $argon2d$, $2a$, $2b$, $2y$, $scrypt$, "
                        "$pbkdf2-sha256$ or $pbkdf2-sha512$");
}

Status password_needs_rehash(const v1::PasswordNeedsRehashRequest& request,
                             v1::PasswordNeedsRehashResponse* response, const PasswordLimits& limits) {
  const v1::PasswordPolicy& policy = request.policy();
  const std::string& hash = request.hash();
  const v1::PasswordAlgorithm wanted = algorithm_of(policy);
  auto rehash = [&](std::string reason) {
    response->set_needs_rehash(true);
    response->set_reason(std::move(reason));
    return Status::Ok();
  };
  const HashFamily family = family_of(hash);
  const char* wanted_name = v1::PasswordAlgorithm_Name(wanted).c_str() + std::string_view("PASSWORD_ALGORITHM_").size();

  switch (family) {
    case HashFamily::kArgon2: {
      auto phc = parse_phc_argon2(hash, "hash");
      if (!phc.ok()) return phc.error();
      if (wanted != v1::PASSWORD_ALGORITHM_ARGON2ID || phc.value().variant != Argon2Variant::kArgon2id) {
        return rehash(fmt::format("algorithm {} differs from the policy's {}", argon2_variant_name(phc.value().variant),
                                  wanted_name));
      }
      if (phc.value().version != 0x13) return rehash("argon2 version 16 is older than 19");
      const uint32_t m = policy.argon2_memory_cost() ? policy.argon2_memory_cost() : kArgon2DefaultMemoryCost;
      const uint32_t t = policy.argon2_time_cost() ? policy.argon2_time_cost() : kArgon2DefaultTimeCost;
      const uint32_t p = policy.argon2_parallelism() ? policy.argon2_parallelism() : kArgon2DefaultParallelism;
      if (phc.value().memory_cost < m) {
        return rehash(fmt::format("memory cost {} KiB is below {} KiB", phc.value().memory_cost, m));
      }
      if (phc.value().time_cost < t) return rehash(fmt::format("time cost {} is below {}", phc.value().time_cost, t));
      if (phc.value().parallelism != p) {
        return rehash(fmt::format("parallelism {} differs from {}", phc.value().parallelism, p));
      }
      if (phc.value().hash.size() < 16) return rehash("the hash is shorter than 16 bytes");
      break;
    }
    case HashFamily::kBcrypt: {
      auto parsed = parse_bcrypt(hash);
      if (!parsed.ok()) return parsed.error();
      if (wanted != v1::PASSWORD_ALGORITHM_BCRYPT) {
        return rehash(fmt::format("algorithm bcrypt differs from the policy's {}", wanted_name));
      }
      const uint32_t cost = policy.bcrypt_cost() ? policy.bcrypt_cost() : limits.bcrypt_default_cost;
      if (parsed.value().cost < cost) return rehash(fmt::format("bcrypt cost {} is below {}", parsed.value().cost, cost));
      break;
    }
    case HashFamily::kScrypt: {
      auto phc = parse_phc_generic(hash);
      if (!phc.ok()) return phc.error();
      if (wanted != v1::PASSWORD_ALGORITHM_SCRYPT) {
        return rehash(fmt::format("algorithm scrypt differs from the policy's {}", wanted_name));
      }
      auto params = scrypt_params_of(phc.value(), limits);
      if (!params.ok()) return params.error();
      const ScryptParams target = scrypt_params_of(policy);
      if (params.value().log2_n < target.log2_n || params.value().r < target.r || params.value().p < target.p) {
        return rehash(fmt::format("scrypt ln={},r={},p={} is below ln={},r={},p={}", params.value().log2_n,
                                  params.value().r, params.value().p, target.log2_n, target.r, target.p));
      }
      break;
    }
    case HashFamily::kPbkdf2Sha256:
    case HashFamily::kPbkdf2Sha512: {
      auto phc = parse_phc_generic(hash);
      if (!phc.ok()) return phc.error();
      const bool sha512 = family == HashFamily::kPbkdf2Sha512;
      const v1::PasswordAlgorithm own = sha512 ? v1::PASSWORD_ALGORITHM_PBKDF2_SHA512 : v1::PASSWORD_ALGORITHM_PBKDF2_SHA256;
      if (wanted != own) return rehash(fmt::format("algorithm {} differs from the policy's {}", phc.value().id, wanted_name));
      auto iterations = pbkdf2_iterations_of(phc.value(), limits);
      if (!iterations.ok()) return iterations.error();
      const uint32_t target = policy.pbkdf2_iterations() ? policy.pbkdf2_iterations() : pbkdf2_default_iterations(sha512);
      if (iterations.value() < target) {
        return rehash(fmt::format("PBKDF2 iterations {} are below {}", iterations.value(), target));
      }
      break;
    }
    case HashFamily::kUnknown:
      return malformed_hash("unknown format");
  }
  response->set_needs_rehash(false);
  return Status::Ok();
}

bool scrypt_kdf(std::string_view password, std::string_view salt, uint64_t n, uint32_t r, uint32_t p, std::string* out) {
  const bool ok = EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                                 salt.size(), n, r, p, 1ull << 31, reinterpret_cast<unsigned char*>(out->data()),
                                 out->size()) == 1;
  ERR_clear_error();
  return ok;
}

bool pbkdf2_kdf(std::string_view password, std::string_view salt, uint32_t iterations, bool sha512, std::string* out) {
  return pbkdf2_derive(password, salt, iterations, sha512, out).ok();
}

void fill_error_detail(const Error& error, v1::ErrorDetail* detail, std::string* message) {
  detail->set_code(code_name(error.code));
  detail->set_field(error.field);
  detail->set_bound(error.bound);
  detail->set_value(error.value);
  detail->set_reason(error.reason);
  detail->set_retry_after_ms(error.retry_after_ms);
  *message = error.message;
}

namespace {

Status check_batch_size(size_t size, const PasswordLimits& limits) {
  if (size == 0) return Error::invalid("items", "EMPTY", "items is empty");
  return check_range("items", size, 1, limits.batch_max_items, " items");
}

}  // namespace

Status password_hash_batch(const v1::PasswordHashBatchRequest& request, v1::PasswordHashBatchResponse* response,
                           TaskContext& context, const PasswordLimits& limits) {
  if (Status s = check_batch_size(request.items_size(), limits); !s.ok()) return s;
  std::vector<v1::PasswordHashBatchResult> results(request.items_size());
  run_spread(results.size(), limits.batch_threads, context, [&](size_t i) {
    v1::PasswordHashResponse out;
    if (Status s = password_hash(request.items(static_cast<int>(i)), &out, context, limits); !s.ok()) {
      fill_error_detail(s.error(), results[i].mutable_error(), results[i].mutable_message());
    } else {
      results[i].set_hash(out.hash());
    }
  });
  if (Status s = context.check(); !s.ok()) return s;
  for (auto& result : results) *response->add_results() = std::move(result);
  return Status::Ok();
}

Status password_verify_batch(const v1::PasswordVerifyBatchRequest& request,
                             v1::PasswordVerifyBatchResponse* response, TaskContext& context,
                             const PasswordLimits& limits) {
  if (Status s = check_batch_size(request.items_size(), limits); !s.ok()) return s;
  std::vector<v1::PasswordVerifyBatchResult> results(request.items_size());
  run_spread(results.size(), limits.batch_threads, context, [&](size_t i) {
    v1::PasswordVerifyResponse out;
    if (Status s = password_verify(request.items(static_cast<int>(i)), &out, context, limits); !s.ok()) {
      fill_error_detail(s.error(), results[i].mutable_error(), results[i].mutable_message());
    } else {
      results[i].set_match(out.match());
      results[i].set_algorithm(out.algorithm());
    }
  });
  if (Status s = context.check(); !s.ok()) return s;
  for (auto& result : results) *response->add_results() = std::move(result);
  return Status::Ok();
}

}  // namespace heavylift
