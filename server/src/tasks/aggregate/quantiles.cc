#include "tasks/aggregate/quantiles.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace heavylift {
namespace {

// Histogram buckets per narrowing level (2^11, 8 KiB of counts).
constexpr unsigned kBucketBits = 11;
// Narrowing levels before nth_element takes over: each level splits the
// key range of the wanted bucket again, which handles clustered values.
constexpr int kMaxLevels = 3;

// Maps a number (not NaN) to an unsigned integer with the same order. -0
// maps to the key of +0, since the two compare equal.
uint64_t order_key(double value) {
  const auto bits = std::bit_cast<uint64_t>(value == 0 ? 0.0 : value);
  // Negative numbers: flip every bit. Others: set the sign bit.
  const uint64_t mask = static_cast<uint64_t>(static_cast<int64_t>(bits) >> 63) | (uint64_t{1} << 63);
  return bits ^ mask;
}

// The number whose order_key is `key`.
double from_order_key(uint64_t key) {
  const uint64_t sign = uint64_t{1} << 63;
  return std::bit_cast<double>((key & sign) != 0 ? key ^ sign : ~key);
}

using Spans = std::span<const std::span<const double>>;

ValueRange range_of(Spans spans) {
  ValueRange range;
  for (const std::span<const double> span : spans) range.add(span);
  return range;
}

// A rank to select and where its value goes.
struct RankRequest {
  size_t rank = 0;
  double* value = nullptr;
};

// Selects with nth_element, ascending ranks each working above the last.
void select_by_partition(double* data, size_t count, std::vector<RankRequest>& ranks) {
  std::sort(ranks.begin(), ranks.end(), [](const RankRequest& a, const RankRequest& b) { return a.rank < b.rank; });
  size_t settled = 0;
  for (const RankRequest& request : ranks) {
    if (request.rank >= settled) {
      std::nth_element(data + settled, data + request.rank, data + count);
      settled = request.rank + 1;
    }
    *request.value = data[request.rank];
  }
}

void select_ranks(Spans spans, size_t numbers, const ValueRange& range, std::vector<RankRequest>& ranks, int level);

// Counts the values of `spans` per bucket (bucket_of maps a value to one of
// `buckets`, NaN to the last), copies the values of the buckets that hold
// the requested ranks, and selects inside each of those.
template <typename BucketOf>
void narrow_by_histogram(Spans spans, size_t buckets, BucketOf bucket_of, std::vector<RankRequest>& ranks, int level) {
  std::vector<uint32_t> counts(buckets, 0);
  for (const std::span<const double> span : spans) {
    for (const double value : span) ++counts[bucket_of(value)];
  }

  // Find the bucket of each rank: the one whose running count passes it.
  std::sort(ranks.begin(), ranks.end(), [](const RankRequest& a, const RankRequest& b) { return a.rank < b.rank; });
  constexpr uint32_t kUnwanted = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> part_of_bucket(buckets, kUnwanted);
  struct Part {
    size_t begin = 0;  // position in `gathered`
    size_t size = 0;
    std::vector<RankRequest> ranks;
  };
  std::vector<Part> parts;
  size_t bucket = 0;
  size_t before = 0;
  size_t gathered_size = 0;
  for (const RankRequest& request : ranks) {
    while (before + counts[bucket] <= request.rank) before += counts[bucket++];
    if (part_of_bucket[bucket] == kUnwanted) {
      part_of_bucket[bucket] = static_cast<uint32_t>(parts.size());
      parts.push_back(Part{gathered_size, 0, {}});
      gathered_size += counts[bucket];
    }
    Part& part = parts[part_of_bucket[bucket]];
    part.ranks.push_back(RankRequest{request.rank - before, request.value});
  }

  // Copy the values of the wanted buckets, then select inside each.
  std::vector<double> gathered(gathered_size);
  for (const std::span<const double> span : spans) {
    for (const double value : span) {
      const uint32_t part = part_of_bucket[bucket_of(value)];
      if (part != kUnwanted) {
        Part& target = parts[part];
        gathered[target.begin + target.size++] = value;
      }
    }
  }
  for (Part& part : parts) {
    const std::span<const double> span(gathered.data() + part.begin, part.size);
    const Spans part_spans(&span, 1);
    select_ranks(part_spans, part.size, range_of(part_spans), part.ranks, level + 1);
  }
}

// Writes the value of each requested rank of the `numbers` numbers in
// `spans`, skipping NaNs. `range` is the range of `spans`.
void select_ranks(Spans spans, size_t numbers, const ValueRange& range, std::vector<RankRequest>& ranks, int level) {
  if (range.low_key == range.high_key) {
    // Every number is the same (up to the sign of zero).
    for (RankRequest& request : ranks) *request.value = from_order_key(range.low_key);
    return;
  }
  if (numbers < kRadixSelectMinValues || level >= kMaxLevels) {
    std::vector<double> copy;
    copy.reserve(numbers);
    for (const std::span<const double> span : spans) {
      for (const double value : span) {
        if (!std::isnan(value)) copy.push_back(value);
      }
    }
    select_by_partition(copy.data(), numbers, ranks);
    return;
  }
  const auto width = static_cast<unsigned>(std::bit_width(range.high_key - range.low_key));
  const unsigned shift = width > kBucketBits ? width - kBucketBits : 0;
  // Buckets in value order, then one more that collects the NaNs.
  const size_t nan_bucket = static_cast<size_t>((range.high_key - range.low_key) >> shift) + 1;
  const uint64_t low = range.low_key;
  constexpr uint64_t kSignBit = uint64_t{1} << 63;
  if (range.nans == 0 && low >= kSignBit) {
    // No NaN and no number below zero (the common case of amounts and
    // durations): the order key is the bit pattern with the sign bit set,
    // which also maps -0 to the key of +0.
    narrow_by_histogram(
        spans, nan_bucket + 1,
        [low, shift](double value) { return static_cast<size_t>(((std::bit_cast<uint64_t>(value) | kSignBit) - low) >> shift); },
        ranks, level);
    return;
  }
  narrow_by_histogram(
      spans, nan_bucket + 1,
      [low, shift, nan_bucket](double value) {
        const size_t bucket = static_cast<size_t>((order_key(value) - low) >> shift);
        return std::isnan(value) ? nan_bucket : bucket;
      },
      ranks, level);
}

// `known` is the range of the values, or null to find it.
std::vector<double> quantiles_of(Spans spans, size_t size, const std::vector<double>& quantiles,
                                 const ValueRange* known) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> results(quantiles.size(), nan);
  if (size == 0) return results;
  // NaN orders above every number, so the ranks at or past the count of
  // numbers are NaN and selection runs on the numbers only.
  const ValueRange range = known != nullptr ? *known : range_of(spans);
  const size_t numbers = size - range.nans;

  // The closest ranks below and above each quantile's position.
  std::vector<double> lower_values(quantiles.size(), nan);
  std::vector<double> upper_values(quantiles.size(), nan);
  std::vector<RankRequest> ranks;
  for (size_t i = 0; i < quantiles.size(); ++i) {
    const double position = quantiles[i] * static_cast<double>(size - 1);
    const auto lower = static_cast<size_t>(std::floor(position));
    if (lower >= numbers) continue;
    ranks.push_back(RankRequest{lower, &lower_values[i]});
    if (position > static_cast<double>(lower) && lower + 1 < numbers) ranks.push_back(RankRequest{lower + 1, &upper_values[i]});
  }
  if (!ranks.empty()) select_ranks(spans, numbers, range, ranks, 0);

  for (size_t i = 0; i < quantiles.size(); ++i) {
    const double position = quantiles[i] * static_cast<double>(size - 1);
    const auto lower = static_cast<size_t>(std::floor(position));
    if (lower >= numbers) continue;
    double value = lower_values[i];
    const double fraction = position - static_cast<double>(lower);
    if (fraction > 0 && lower + 1 < size) value += (upper_values[i] - value) * fraction;
    results[i] = value;
  }
  return results;
}

}  // namespace

void ValueRange::add(std::span<const double> values) {
  // Minimum and maximum as doubles, in four independent lanes. A NaN fails
  // both comparisons, so it changes neither. -0 and +0 get one key below.
  const double infinity = std::numeric_limits<double>::infinity();
  double low[4] = {infinity, infinity, infinity, infinity};
  double high[4] = {-infinity, -infinity, -infinity, -infinity};
  size_t nan_count = 0;
  size_t i = 0;
  for (; i + 4 <= values.size(); i += 4) {
    for (size_t lane = 0; lane < 4; ++lane) {
      const double value = values[i + lane];
      low[lane] = value < low[lane] ? value : low[lane];
      high[lane] = value > high[lane] ? value : high[lane];
      nan_count += value != value ? 1 : 0;
    }
  }
  for (; i < values.size(); ++i) {
    const double value = values[i];
    low[0] = value < low[0] ? value : low[0];
    high[0] = value > high[0] ? value : high[0];
    nan_count += value != value ? 1 : 0;
  }
  nans += nan_count;
  if (nan_count == values.size()) return;  // no numbers
  for (size_t lane = 0; lane < 4; ++lane) {
    // Lanes that saw no number keep an infinity that the others bound.
    low_key = std::min(low_key, order_key(low[lane]));
    high_key = std::max(high_key, order_key(high[lane]));
  }
}

void ValueRange::add(const ValueRange& other) {
  low_key = std::min(low_key, other.low_key);
  high_key = std::max(high_key, other.high_key);
  nans += other.nans;
}

std::vector<double> exact_quantiles(std::span<const double> values, const std::vector<double>& quantiles) {
  return quantiles_of({&values, 1}, values.size(), quantiles, nullptr);
}

double* QuantileValues::extend(size_t count) {
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().size < count) {
    const size_t next = blocks_.empty() ? kMinBlockValues : std::min(kMaxBlockValues, blocks_.back().capacity * 2);
    const size_t capacity = std::max(count, next);
    // make_unique_for_overwrite leaves the doubles uninitialized, because
    // the caller writes every value it requests room for.
    blocks_.push_back(Block{std::make_unique_for_overwrite<double[]>(capacity), 0, capacity});
  }
  Block& block = blocks_.back();
  double* room = block.data.get() + block.size;
  block.size += count;
  size_ += count;
  return room;
}

void QuantileValues::note_range(std::span<const double> values) {
  range_.add(values);
  noted_ += values.size();
}

void QuantileValues::absorb(QuantileValues& other) {
  range_.add(other.range_);
  noted_ += other.noted_;
  for (Block& block : other.blocks_) {
    if (block.size != 0) blocks_.insert(blocks_.end() - (blocks_.empty() ? 0 : 1), std::move(block));
  }
  size_ += other.size_;
  other.blocks_.clear();
  other.size_ = 0;
  other.range_ = ValueRange{};
  other.noted_ = 0;
}

std::vector<double> QuantileValues::quantiles(const std::vector<double>& quantiles) const {
  std::vector<std::span<const double>> spans;
  spans.reserve(blocks_.size());
  for (const Block& block : blocks_) spans.emplace_back(block.data.get(), block.size);
  return quantiles_of(spans, size_, quantiles, noted_ == size_ ? &range_ : nullptr);
}

}  // namespace heavylift
