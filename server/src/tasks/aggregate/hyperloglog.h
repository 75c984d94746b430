// HyperLogLog distinct counter with 2^14 one-byte registers (16 KiB): the
// relative standard error of its estimate is 1.04 / sqrt(2^14), about 0.81%.
// Small counts use linear counting, so they are exact in practice up to a
// few hundred values. Two counters merge by taking register maxima.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

namespace heavylift {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  HyperLogLog() : registers_(std::make_unique<uint8_t[]>(kRegisters)) {}

  // Adds a value given by its 64-bit hash (XXH3 of its bytes).
  void add_hash(uint64_t hash);
  void merge(const HyperLogLog& other);
  double estimate() const;

 private:
  std::unique_ptr<uint8_t[]> registers_;
};

}  // namespace heavylift
