// HyperLogLog distinct counter with 2^14 one-byte registers (16 KiB): the
// relative standard error of its estimate is 1.04 / sqrt(2^14), about 0.81%.
// Small counts use linear counting, so they are exact in practice up to a
// few hundred values. Two counters merge by taking register maxima. Used by
// aggregations (distinct count) and file profiles (distinct estimate).
//
// Thread-safety: none; one counter per thread, merged afterwards.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>

namespace heavylift {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  HyperLogLog() : registers_(std::make_unique<uint8_t[]>(kRegisters)) {}

  // Adds a value given by its 64-bit hash (XXH3 of its bytes). Inline, since
  // profiling calls it once per field.
  void add_hash(uint64_t hash) {
    const size_t index = hash >> (64 - kPrecision);
    // The rank is the position of the first 1 bit in the remaining 50 bits.
    const uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));
    const auto rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
    registers_[index] = std::max(registers_[index], rank);
  }

  void merge(const HyperLogLog& other) {
    for (size_t i = 0; i < kRegisters; ++i) registers_[i] = std::max(registers_[i], other.registers_[i]);
  }

  double estimate() const {
    const double m = static_cast<double>(kRegisters);
    double inverse_sum = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < kRegisters; ++i) {
      inverse_sum += std::ldexp(1.0, -registers_[i]);
      if (registers_[i] == 0) ++zeros;
    }
    const double alpha = 0.7213 / (1.0 + 1.079 / m);
    const double raw = alpha * m * m / inverse_sum;
    // Linear counting is more accurate while many registers are still empty.
    if (raw <= 2.5 * m && zeros > 0) return m * std::log(m / static_cast<double>(zeros));
    return raw;
  }

 private:
  std::unique_ptr<uint8_t[]> registers_;
};

}  // namespace heavylift
