// Exact quantiles of a set of doubles, as the aggregation core returns them,
// and the per-group store of the values they are computed from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace heavylift {

// Returns one exact quantile of `values` for each q in `quantiles` (each in
// [0, 1]), in the same order. Each is the linear interpolation between the
// closest ranks at position q * (n - 1) of the sorted values, as numpy's
// default and DuckDB's quantile_cont compute it. NaN orders above every
// number, so a quantile that falls on or next to a NaN is NaN. An empty set
// gives NaN for every q.
//
// Sets of at least kRadixSelectMinValues numbers are narrowed by a histogram
// of the values' order-preserving bit patterns: one pass finds the range,
// one counts, one copies the buckets that hold the wanted ranks, and
// nth_element runs only inside those. Smaller sets are copied and use
// nth_element directly.
std::vector<double> exact_quantiles(std::span<const double> values, const std::vector<double>& quantiles);

// Numbers from which the histogram narrowing is used.
inline constexpr size_t kRadixSelectMinValues = 2048;

// The smallest and largest number of a set as order keys (an unsigned
// integer per double with the same order), and how many NaNs it holds.
struct ValueRange {
  uint64_t low_key = std::numeric_limits<uint64_t>::max();
  uint64_t high_key = 0;
  size_t nans = 0;

  // Widens the range by `values`.
  void add(std::span<const double> values);
  void add(const ValueRange& other);
};

// The values of one group kept for exact quantiles. They are appended in
// blocks that double in size up to kMaxBlockValues, so appending never
// copies the values already kept.
class QuantileValues {
 public:
  static constexpr size_t kMinBlockValues = 16;
  static constexpr size_t kMaxBlockValues = size_t{1} << 16;

  // Returns room for `count` more values, which the caller fills.
  double* extend(size_t count);
  // Notes values written through extend in the range that quantiles()
  // starts from. It saves quantiles() a pass over every value, which it
  // makes when any value was not noted.
  void note_range(std::span<const double> values);
  // Moves the values of `other` into this set and empties `other`.
  void absorb(QuantileValues& other);
  size_t size() const { return size_; }
  // Returns exact_quantiles of the values.
  std::vector<double> quantiles(const std::vector<double>& quantiles) const;

 private:
  struct Block {
    std::unique_ptr<double[]> data;
    size_t size = 0;
    size_t capacity = 0;
  };

  std::vector<Block> blocks_;
  size_t size_ = 0;
  ValueRange range_;
  size_t noted_ = 0;  // values whose range is in range_
};

}  // namespace heavylift
