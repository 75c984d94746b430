// Timing sketch for bcrypt's inner loop: Eksblowfish key expansions at cost
// 12, one hash per thread at a time against two independent hashes
// interleaved in one thread. The S-boxes and keys are random, so the output
// is not bcrypt; only the CPU time per hash matters. docs/crypto.md quotes
// its result.
// Build and run: g++ -O2 -std=c++20 bench/crypto/blowfish_interleave.cc -o /tmp/blowfish_interleave && /tmp/blowfish_interleave
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <random>

namespace {

struct BlowfishState {
  uint32_t P[18];
  uint32_t S[4][256];
};

// Blowfish's round function.
inline uint32_t feistel(const BlowfishState& s, uint32_t x) {
  return ((s.S[0][x >> 24] + s.S[1][(x >> 16) & 0xff]) ^ s.S[2][(x >> 8) & 0xff]) + s.S[3][x & 0xff];
}

inline void encrypt(const BlowfishState& s, uint32_t& left, uint32_t& right) {
  left ^= s.P[0];
  for (int i = 1; i <= 16; i += 2) {
    right ^= feistel(s, left) ^ s.P[i];
    left ^= feistel(s, right) ^ s.P[i + 1];
  }
  const uint32_t swapped = left;
  left = right ^ s.P[17];
  right = swapped;
}

// One key expansion: mixes the key into P, then re-encrypts P and the S-boxes.
void expand_key(BlowfishState& s, const uint32_t* key) {
  for (int i = 0; i < 18; i++) s.P[i] ^= key[i];
  uint32_t left = 0, right = 0;
  for (int i = 0; i < 18; i += 2) {
    encrypt(s, left, right);
    s.P[i] = left;
    s.P[i + 1] = right;
  }
  for (auto& box : s.S) {
    for (int i = 0; i < 256; i += 2) {
      encrypt(s, left, right);
      box[i] = left;
      box[i + 1] = right;
    }
  }
}

// The same for two independent states, with their rounds interleaved so the
// CPU can overlap the two chains of dependent S-box loads.
void expand_key_interleaved(BlowfishState& a, BlowfishState& b, const uint32_t* key_a, const uint32_t* key_b) {
  for (int i = 0; i < 18; i++) {
    a.P[i] ^= key_a[i];
    b.P[i] ^= key_b[i];
  }
  uint32_t left_a = 0, right_a = 0, left_b = 0, right_b = 0;
  auto step = [&](uint32_t* out_a, uint32_t* out_b) {
    left_a ^= a.P[0];
    left_b ^= b.P[0];
    for (int i = 1; i <= 16; i += 2) {
      right_a ^= feistel(a, left_a) ^ a.P[i];
      right_b ^= feistel(b, left_b) ^ b.P[i];
      left_a ^= feistel(a, right_a) ^ a.P[i + 1];
      left_b ^= feistel(b, right_b) ^ b.P[i + 1];
    }
    uint32_t swapped = left_a;
    left_a = right_a ^ a.P[17];
    right_a = swapped;
    swapped = left_b;
    left_b = right_b ^ b.P[17];
    right_b = swapped;
    out_a[0] = left_a;
    out_a[1] = right_a;
    out_b[0] = left_b;
    out_b[1] = right_b;
  };
  for (int i = 0; i < 18; i += 2) step(&a.P[i], &b.P[i]);
  for (int box = 0; box < 4; box++) {
    for (int i = 0; i < 256; i += 2) step(&a.S[box][i], &b.S[box][i]);
  }
}

double thread_cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

}  // namespace

int main() {
  std::mt19937 random(1);
  BlowfishState initial;
  for (auto& word : initial.P) word = random();
  for (auto& box : initial.S) {
    for (auto& word : box) word = random();
  }
  uint32_t password[18], salt[18];
  for (int i = 0; i < 18; i++) {
    password[i] = random();
    salt[i] = random();
  }
  // Cost 12: 2^12 rounds of two key expansions each.
  const int rounds = 1 << 12;
  for (int repeat = 0; repeat < 3; repeat++) {
    BlowfishState one = initial;
    double start = thread_cpu_seconds();
    for (int r = 0; r < rounds; r++) {
      expand_key(one, password);
      expand_key(one, salt);
    }
    const double single = thread_cpu_seconds() - start;

    BlowfishState a = initial, b = initial;
    start = thread_cpu_seconds();
    for (int r = 0; r < rounds; r++) {
      expand_key_interleaved(a, b, password, salt);
      expand_key_interleaved(a, b, salt, password);
    }
    const double pair = thread_cpu_seconds() - start;
    // The printed words keep the compiler from dropping the work.
    std::printf("one at a time: %.0f ms CPU per hash; two interleaved: %.0f ms per hash; %.2fx (%u %u)\n",
                single * 1e3, pair * 1e3 / 2, single / (pair / 2), one.P[3], a.P[3] ^ b.P[5]);
  }
}
