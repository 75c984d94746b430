// Micro-benchmarks of the argon2 PHC codec and of one argon2id hash through
// each backend (libsodium's fast path and the portable libargon2).
#include <argon2.h>
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <string>

#include "tasks/crypto/phc.h"

namespace {

constexpr char kHash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

void BM_ParsePhc(benchmark::State& state) {
  for (auto _ : state) {
    auto parsed = heavylift::parse_phc_argon2(kHash, "hash");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParsePhc);

// OWASP parameters: m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte hash.
void BM_Argon2idSodium(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
  const std::string salt(16, 's');
  unsigned char out[32];
  for (auto _ : state) {
    if (crypto_pwhash(out, sizeof out, "password", 8, reinterpret_cast<const unsigned char*>(salt.data()), 2,
                      19456 * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
      state.SkipWithError("crypto_pwhash failed");
    }
  }
}
BENCHMARK(BM_Argon2idSodium)->Unit(benchmark::kMillisecond);

void BM_Argon2idLibargon2(benchmark::State& state) {
  const std::string salt(16, 's');
  unsigned char out[32];
  for (auto _ : state) {
    if (argon2id_hash_raw(2, 19456, 1, "password", 8, salt.data(), salt.size(), out, sizeof out) != ARGON2_OK) {
      state.SkipWithError("argon2id_hash_raw failed");
    }
  }
}
BENCHMARK(BM_Argon2idLibargon2)->Unit(benchmark::kMillisecond);

}  // namespace
