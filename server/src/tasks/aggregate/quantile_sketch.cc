#include "tasks/aggregate/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace heavylift {
namespace {

constexpr double kGamma = (1 + QuantileSketch::kRelativeAccuracy) / (1 - QuantileSketch::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);
// Magnitudes below this count as zero, which keeps bucket indexes in range.
constexpr double kMinMagnitude = 1e-300;

}  // namespace

int32_t QuantileSketch::index_of(double magnitude) const {
  const double index = std::ceil(std::log(magnitude) / kLogGamma);
  return static_cast<int32_t>(std::clamp(index, -1e8, 1e8));
}

double QuantileSketch::value_of(int32_t index) const {
  // The middle of (gamma^(i-1), gamma^i] in relative terms.
  return 2 * std::pow(kGamma, index) / (kGamma + 1);
}

void QuantileSketch::add(double value) {
  ++count_;
  if (std::isnan(value)) {
    ++nans_;
    return;
  }
  if (std::abs(value) < kMinMagnitude) {
    ++zeros_;
    return;
  }
  if (std::isinf(value)) value = std::copysign(std::numeric_limits<double>::max(), value);
  auto& buckets = value > 0 ? positive_ : negative_;
  ++buckets[index_of(std::abs(value))];
  collapse(buckets);
}

void QuantileSketch::merge(const QuantileSketch& other) {
  for (const auto& [index, count] : other.negative_) negative_[index] += count;
  for (const auto& [index, count] : other.positive_) positive_[index] += count;
  zeros_ += other.zeros_;
  nans_ += other.nans_;
  count_ += other.count_;
  collapse(negative_);
  collapse(positive_);
}

void QuantileSketch::collapse(std::map<int32_t, uint64_t>& buckets) {
  while (buckets.size() > kMaxBuckets) {
    auto lowest = buckets.begin();
    std::next(lowest)->second += lowest->second;
    buckets.erase(lowest);
  }
}

double QuantileSketch::quantile(double q) const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  // The 0-based rank of the lower closest value.
  const auto rank = static_cast<uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  uint64_t seen = 0;
  // Ascending order: negatives by decreasing magnitude, zeros, positives, NaN.
  for (auto it = negative_.rbegin(); it != negative_.rend(); ++it) {
    seen += it->second;
    if (rank < seen) return -value_of(it->first);
  }
  seen += zeros_;
  if (rank < seen) return 0;
  for (const auto& [index, count] : positive_) {
    seen += count;
    if (rank < seen) return value_of(index);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace heavylift
