// A mergeable relative-error quantile sketch, after DDSketch (Masson, Rim and
// Lee, VLDB 2019). Each value is counted in the logarithmic bucket
// (gamma^(i-1), gamma^i] of its magnitude, with gamma = (1 + a) / (1 - a) and
// a = 1%, so the value returned for a quantile is within 1% (relative) of the
// value of that rank, while no more than kMaxBuckets buckets per sign are in
// use. Past that many, the buckets of the smallest magnitudes of that sign
// are merged, and only the quantiles that fall into them lose the 1%
// guarantee (with a = 1%, 1024 buckets span magnitudes in a ratio of about
// 10^9 before this happens).
// Two sketches merge by adding bucket counts, so window panes combine
// exactly as if all their values had been added to one sketch.
//
// NaN orders above every number, as in the exact quantiles of Aggregate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>


namespace heavylift {

class QuantileSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  // Buckets per sign.
  static constexpr size_t kMaxBuckets = 1024;
  // Estimated bytes of a sketch with every bucket in use.
  static constexpr uint64_t kMaxBytes = 2 * kMaxBuckets * 48 + 96;

  void add(double value);
  void merge(const QuantileSketch& other);
  // Returns the estimate of quantile q in [0, 1], by the lower closest rank;
  // NaN for an empty sketch.
  double quantile(double q) const;
  uint64_t count() const { return count_; }

 private:
  // Merges the buckets of the smallest magnitudes of `buckets` until at most
  // kMaxBuckets remain.
  static void collapse(std::map<int32_t, uint64_t>& buckets);
  int32_t index_of(double magnitude) const;
  double value_of(int32_t index) const;

  // Buckets by index: negative values by their magnitude, positive values.
  std::map<int32_t, uint64_t> negative_;
  std::map<int32_t, uint64_t> positive_;
  uint64_t zeros_ = 0;
  uint64_t nans_ = 0;
  uint64_t count_ = 0;
};

}  // namespace heavylift
