// Block scanners for the CSV parser. Each one reads 64 bytes and returns
// bitmasks of the delimiter, LF, CR and double quote bytes in them. The
// parser then finds the end of a field with one count-trailing-zeros
// instead of a loop over its bytes.
//
// Three kernels give the same masks: a portable one in plain C++, SSE2 (part of
// every x86-64 CPU) and AVX2. best_csv_scan_level() picks the fastest one
// the running CPU supports, checked once at run time, so one binary runs on
// CPUs with and without AVX2.
//
// Thread-safety: every function here may be called from any thread.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__)
#include <immintrin.h>
#define HEAVYLIFT_CSV_SCAN_X86 1
#endif

namespace heavylift {

// Bit i of each mask is set when byte i of the 64-byte block is of that kind.
struct CsvBlockMasks {
  // The delimiter, LF or CR: the bytes that end an unquoted field.
  uint64_t stops = 0;
  // The double quote.
  uint64_t quotes = 0;
  // LF, counted for line numbers inside quoted fields.
  uint64_t newlines = 0;
};

// Kernel that scans a block. Its name is the instruction set it uses.
enum class CsvScanLevel { kScalar, kSse2, kAvx2 };

// Reads exactly 64 bytes at `block`.
using CsvBlockScan = CsvBlockMasks (*)(const char* block, char delimiter);

namespace csv_scan_detail {

// Returns 0x80 in each byte of `word` that equals the byte repeated in
// `pattern`, and 0 in the others. The sum cannot carry across bytes, so
// every byte is exact.
inline uint64_t equal_bytes(uint64_t word, uint64_t pattern) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7F;
  const uint64_t x = word ^ pattern;
  return ~(((x & kLow7) + kLow7) | x | kLow7);
}

// Gathers the high bit of byte i of `flags` into bit i of the result.
inline uint64_t gather_high_bits(uint64_t flags) { return ((flags >> 7) * 0x0102040810204080) >> 56; }

// Portable kernel: eight bytes per step on little-endian hosts, one byte
// per step elsewhere.
inline CsvBlockMasks scan_scalar(const char* block, char delimiter) {
  CsvBlockMasks masks;
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t kOnes = 0x0101010101010101;
    const uint64_t delimiters = kOnes * static_cast<unsigned char>(delimiter);
    for (int part = 0; part < 8; ++part) {
      uint64_t word;
      std::memcpy(&word, block + 8 * part, 8);
      const uint64_t newline = equal_bytes(word, kOnes * '\n');
      const uint64_t stop = equal_bytes(word, delimiters) | newline | equal_bytes(word, kOnes * '\r');
      const int shift = 8 * part;
      masks.stops |= gather_high_bits(stop) << shift;
      masks.quotes |= gather_high_bits(equal_bytes(word, kOnes * '"')) << shift;
      masks.newlines |= gather_high_bits(newline) << shift;
    }
    return masks;
  }
  for (int i = 0; i < 64; ++i) {
    const char c = block[i];
    const uint64_t bit = uint64_t{1} << i;
    if (c == delimiter || c == '\n' || c == '\r') masks.stops |= bit;
    if (c == '"') masks.quotes |= bit;
    if (c == '\n') masks.newlines |= bit;
  }
  return masks;
}

#ifdef HEAVYLIFT_CSV_SCAN_X86

inline CsvBlockMasks scan_sse2(const char* block, char delimiter) {
  const __m128i delimiters = _mm_set1_epi8(delimiter);
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i quote = _mm_set1_epi8('"');
  CsvBlockMasks masks;
  for (int part = 0; part < 4; ++part) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * part));
    const __m128i newline = _mm_cmpeq_epi8(bytes, lf);
    const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, delimiters), newline), _mm_cmpeq_epi8(bytes, cr));
    const int shift = 16 * part;
    masks.stops |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(stop))} << shift;
    masks.quotes |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, quote)))} << shift;
    masks.newlines |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(newline))} << shift;
  }
  return masks;
}

[[gnu::target("avx2")]] inline CsvBlockMasks scan_avx2(const char* block, char delimiter) {
  const __m256i delimiters = _mm256_set1_epi8(delimiter);
  const __m256i lf = _mm256_set1_epi8('\n');
  const __m256i cr = _mm256_set1_epi8('\r');
  const __m256i quote = _mm256_set1_epi8('"');
  CsvBlockMasks masks;
  for (int part = 0; part < 2; ++part) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 * part));
    const __m256i newline = _mm256_cmpeq_epi8(bytes, lf);
    const __m256i stop =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(bytes, delimiters), newline), _mm256_cmpeq_epi8(bytes, cr));
    const int shift = 32 * part;
    masks.stops |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(stop))} << shift;
    masks.quotes |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, quote)))} << shift;
    masks.newlines |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(newline))} << shift;
  }
  return masks;
}

#endif  // HEAVYLIFT_CSV_SCAN_X86

}  // namespace csv_scan_detail

// Returns the kernel of `level`, or nullptr when the running CPU or this
// build lacks its instructions.
inline CsvBlockScan csv_block_scan(CsvScanLevel level) {
  switch (level) {
    case CsvScanLevel::kScalar:
      return csv_scan_detail::scan_scalar;
#ifdef HEAVYLIFT_CSV_SCAN_X86
    case CsvScanLevel::kSse2:
      return csv_scan_detail::scan_sse2;
    case CsvScanLevel::kAvx2:
      // The CPU model is normally read before main(); reading it here too
      // makes the check safe in code that runs during static initialization.
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") ? csv_scan_detail::scan_avx2 : nullptr;
#else
    case CsvScanLevel::kSse2:
    case CsvScanLevel::kAvx2:
      return nullptr;
#endif
  }
  return nullptr;
}

// Returns the fastest level the running CPU supports.
inline CsvScanLevel best_csv_scan_level() {
  static const CsvScanLevel best = [] {
    for (const CsvScanLevel level : {CsvScanLevel::kAvx2, CsvScanLevel::kSse2}) {
      if (csv_block_scan(level) != nullptr) return level;
    }
    return CsvScanLevel::kScalar;
  }();
  return best;
}

}  // namespace heavylift
