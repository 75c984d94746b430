#include "tasks/aggregate/aggregator.h"

#include <fmt/format.h>
// XXH_INLINE_ALL compiles xxHash into this file, so no library is linked.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace heavylift {
namespace {

// Estimated bytes of bookkeeping per group and per top-k entry.
constexpr uint64_t kGroupOverheadBytes = 160;
constexpr uint64_t kCountEntryOverheadBytes = 64;

// Orders doubles with NaN above every number.
bool number_less(double a, double b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a < b;
}

// Text form of a value for distinct count and top-k.
std::string value_text(const Column& column, size_t row) {
  switch (column.kind) {
    case Column::Kind::kText: return std::string(column.text_at(row));
    case Column::Kind::kInteger: return std::to_string(column.integers[row]);
    case Column::Kind::kNumber: {
      const double value = column.numbers[row] == 0 ? 0.0 : column.numbers[row];
      return fmt::format("{}", value);
    }
  }
  return "";
}

uint64_t value_hash(const Column& column, size_t row) {
  switch (column.kind) {
    case Column::Kind::kText: {
      const std::string_view text = column.text_at(row);
      return XXH3_64bits(text.data(), text.size());
    }
    case Column::Kind::kInteger: return XXH3_64bits(&column.integers[row], sizeof(int64_t));
    case Column::Kind::kNumber: {
      const double value = column.numbers[row] == 0 ? 0.0 : column.numbers[row];  // -0 and 0 are one value
      return XXH3_64bits(&value, sizeof(double));
    }
  }
  return 0;
}

}  // namespace

struct Aggregator::Accumulator {
  uint64_t n = 0;
  double sum = 0;
  double mean = 0;
  double m2 = 0;
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  // Correlation: the second field's mean and M2, and the co-moment.
  double mean_y = 0;
  double m2_y = 0;
  double comoment = 0;
  std::unique_ptr<HyperLogLog> sketch;
  std::vector<double> values;
  std::vector<uint64_t> buckets;
  std::unordered_map<std::string, uint64_t> counts;

  // Adds a value to the count and sum, which is all sum and mean need.
  void add_sum(double value) {
    ++n;
    sum += value;
  }

  // Adds a value to every moment: count, sum, min, max, mean and M2.
  void add_moments(double value) {
    if (n == 0 || number_less(max, value)) max = value;
    if (n == 0 || number_less(value, min)) min = value;
    ++n;
    sum += value;
    const double delta = value - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (value - mean);
  }

  void merge_moments(const Accumulator& other) {
    if (other.n == 0) return;
    if (n == 0 || number_less(max, other.max)) max = other.max;
    if (n == 0 || number_less(other.min, min)) min = other.min;
    const double total = static_cast<double>(n + other.n);
    const double delta = other.mean - mean;
    const double delta_y = other.mean_y - mean_y;
    const double weight = static_cast<double>(n) * static_cast<double>(other.n) / total;
    m2 += other.m2 + delta * delta * weight;
    m2_y += other.m2_y + delta_y * delta_y * weight;
    comoment += other.comoment + delta * delta_y * weight;
    mean += delta * static_cast<double>(other.n) / total;
    mean_y += delta_y * static_cast<double>(other.n) / total;
    sum += other.sum;
    n += other.n;
  }
};

struct Aggregator::Group {
  // The encoded key (each part's presence byte and value bytes) and its hash.
  std::string encoded;
  uint64_t hash = 0;
  std::vector<v1::KeyValue> keys;
  uint64_t count = 0;
  std::vector<Accumulator> accumulators;
};

Aggregator::Aggregator(const AggregationPlan& plan, const AggregateLimits& limits) : plan_(plan), limits_(limits) {}
Aggregator::~Aggregator() = default;
Aggregator::Aggregator(Aggregator&&) noexcept = default;

size_t Aggregator::group_count() const { return groups_.size(); }

Status Aggregator::check_limits() {
  if (groups_.size() > limits_.max_groups) {
    Error error = Error::resource_exhausted(
        fmt::format("the aggregation has more than {} groups; narrow the filter, group by fewer keys or raise "
                    "max_groups up to aggregate.max_groups",
                    limits_.max_groups),
        0);
    error.field = "max_groups";
    error.bound = fmt::format("<= {} groups", limits_.max_groups);
    error.value = fmt::format("{} groups", groups_.size());
    error.reason = "TOO_MANY_GROUPS";
    return error;
  }
  if (memory_bytes_ > limits_.max_request_memory_bytes) {
    Error error = Error::resource_exhausted(
        fmt::format("the aggregation needs more than {} bytes (aggregate.max_request_memory_bytes); read fewer "
                    "records, drop exact quantiles or raise the setting",
                    limits_.max_request_memory_bytes),
        0);
    error.field = "aggregates";
    error.bound = fmt::format("<= {} bytes", limits_.max_request_memory_bytes);
    error.value = fmt::format("{} bytes", memory_bytes_);
    error.reason = "REQUEST_MEMORY_LIMIT";
    return error;
  }
  return Status::Ok();
}

Aggregator::Group* Aggregator::group_for(const ColumnBatch& batch, size_t row, std::string* scratch) {
  // The map key is each key part's presence byte and value bytes.
  scratch->clear();
  for (const KeySpec& key : plan_.keys) {
    const Column& column = batch.columns[key.column];
    if (!column.present[row]) {
      scratch->push_back('\0');
      continue;
    }
    scratch->push_back('\1');
    if (column.kind == Column::Kind::kText) {
      const std::string_view text = column.text_at(row);
      const auto length = static_cast<uint32_t>(text.size());
      scratch->append(reinterpret_cast<const char*>(&length), sizeof(length));
      scratch->append(text);
    } else {
      int64_t value = column.integers[row];
      if (key.bucketed) value = bucket_start(value, key.unit, key.time_zone);
      scratch->append(reinterpret_cast<const char*>(&value), sizeof(value));
    }
  }
  const uint64_t hash = XXH3_64bits(scratch->data(), scratch->size());
  if (Group* found = find_group(*scratch, hash)) return found;

  auto group = std::make_unique<Group>();
  group->encoded = *scratch;
  group->hash = hash;
  for (const KeySpec& key : plan_.keys) {
    const Column& column = batch.columns[key.column];
    v1::KeyValue& value = group->keys.emplace_back();
    if (!column.present[row]) {
      value.set_null(true);
    } else if (column.kind == Column::Kind::kText) {
      value.set_text(std::string(column.text_at(row)));
    } else {
      const int64_t number = key.bucketed ? bucket_start(column.integers[row], key.unit, key.time_zone)
                                          : column.integers[row];
      if (key.output == v1::KeyValue::kTimeMs) value.set_time_ms(number);
      else if (key.output == v1::KeyValue::kBoolean) value.set_boolean(number != 0);
      else value.set_integer(number);
    }
  }
  group->accumulators.resize(plan_.aggregates.size());
  for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
    const AggregateSpec& spec = plan_.aggregates[i];
    Accumulator& accumulator = group->accumulators[i];
    if (spec.kind == v1::AggregateSpec::KIND_DISTINCT_COUNT) {
      accumulator.sketch = std::make_unique<HyperLogLog>();
      memory_bytes_ += HyperLogLog::kRegisters;
    }
    if (spec.kind == v1::AggregateSpec::KIND_HISTOGRAM) accumulator.buckets.assign(spec.histogram_bounds.size() + 1, 0);
  }
  memory_bytes_ += kGroupOverheadBytes + scratch->size();
  Group* raw = group.get();
  insert_group(std::move(group));
  return raw;
}

Aggregator::Group* Aggregator::find_group(std::string_view key, uint64_t hash) const {
  if (index_.empty()) return nullptr;
  const size_t mask = index_.size() - 1;
  for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    const uint32_t entry = index_[slot];
    if (entry == 0) return nullptr;
    if (index_hashes_[slot] == hash) {
      Group* group = groups_[entry - 1].get();
      if (group->encoded == key) return group;
    }
  }
}

void Aggregator::insert_group(std::unique_ptr<Group> group) {
  groups_.push_back(std::move(group));
  if (groups_.size() * 2 > index_.size()) {
    // Rebuild at twice the size, keeping the load at or under one half.
    const size_t size = std::max<size_t>(64, index_.size() * 2);
    index_.assign(size, 0);
    index_hashes_.assign(size, 0);
    for (size_t i = 0; i < groups_.size(); ++i) {
      size_t slot = groups_[i]->hash & (size - 1);
      while (index_[slot] != 0) slot = (slot + 1) & (size - 1);
      index_[slot] = static_cast<uint32_t>(i + 1);
      index_hashes_[slot] = groups_[i]->hash;
    }
    return;
  }
  const size_t mask = index_.size() - 1;
  size_t slot = groups_.back()->hash & mask;
  while (index_[slot] != 0) slot = (slot + 1) & mask;
  index_[slot] = static_cast<uint32_t>(groups_.size());
  index_hashes_[slot] = groups_.back()->hash;
}

Status Aggregator::add(const ColumnBatch& batch) {
  std::string scratch;
  for (size_t row = 0; row < batch.rows; ++row) {
    Group* group = group_for(batch, row, &scratch);
    if (groups_.size() > limits_.max_groups) return check_limits();
    ++group->count;
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      const AggregateSpec& spec = plan_.aggregates[i];
      Accumulator& accumulator = group->accumulators[i];
      if (spec.column == AggregateSpec::kNoColumn) continue;
      const Column& column = batch.columns[spec.column];
      if (!column.present[row]) continue;
      switch (spec.kind) {
        case v1::AggregateSpec::KIND_COUNT:
          ++accumulator.n;
          break;
        case v1::AggregateSpec::KIND_DISTINCT_COUNT:
          ++accumulator.n;
          accumulator.sketch->add_hash(value_hash(column, row));
          break;
        case v1::AggregateSpec::KIND_TOP_K: {
          ++accumulator.n;
          auto [entry, inserted] = accumulator.counts.try_emplace(value_text(column, row), 0);
          ++entry->second;
          if (inserted) memory_bytes_ += kCountEntryOverheadBytes + entry->first.size();
          break;
        }
        case v1::AggregateSpec::KIND_CORRELATION: {
          const Column& second = batch.columns[spec.column2];
          if (!second.present[row]) break;
          const double x = column.number_at(row);
          const double y = second.number_at(row);
          ++accumulator.n;
          const double n = static_cast<double>(accumulator.n);
          const double delta_x = x - accumulator.mean;
          accumulator.mean += delta_x / n;
          const double delta_y = y - accumulator.mean_y;
          accumulator.mean_y += delta_y / n;
          accumulator.m2 += delta_x * (x - accumulator.mean);
          accumulator.m2_y += delta_y * (y - accumulator.mean_y);
          accumulator.comoment += delta_x * (y - accumulator.mean_y);
          break;
        }
        case v1::AggregateSpec::KIND_QUANTILES:
          ++accumulator.n;
          accumulator.values.push_back(column.number_at(row));
          memory_bytes_ += sizeof(double);
          break;
        case v1::AggregateSpec::KIND_HISTOGRAM: {
          const double value = column.number_at(row);
          ++accumulator.n;
          const auto bound = std::lower_bound(spec.histogram_bounds.begin(), spec.histogram_bounds.end(), value);
          ++accumulator.buckets[static_cast<size_t>(bound - spec.histogram_bounds.begin())];
          break;
        }
        case v1::AggregateSpec::KIND_SUM:
        case v1::AggregateSpec::KIND_MEAN:
          accumulator.add_sum(column.number_at(row));
          break;
        default:
          accumulator.add_moments(column.number_at(row));
          break;
      }
    }
  }
  return check_limits();
}

Status Aggregator::merge(Aggregator& other) {
  for (auto& theirs : other.groups_) {
    Group* found = find_group(theirs->encoded, theirs->hash);
    if (found == nullptr) {
      insert_group(std::move(theirs));
      continue;
    }
    Group& mine = *found;
    mine.count += theirs->count;
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      Accumulator& a = mine.accumulators[i];
      Accumulator& b = theirs->accumulators[i];
      switch (plan_.aggregates[i].kind) {
        case v1::AggregateSpec::KIND_DISTINCT_COUNT:
          a.n += b.n;
          a.sketch->merge(*b.sketch);
          break;
        case v1::AggregateSpec::KIND_TOP_K:
          a.n += b.n;
          for (const auto& [value, count] : b.counts) a.counts[value] += count;
          break;
        case v1::AggregateSpec::KIND_QUANTILES:
          a.n += b.n;
          a.values.insert(a.values.end(), b.values.begin(), b.values.end());
          break;
        case v1::AggregateSpec::KIND_HISTOGRAM:
          a.n += b.n;
          for (size_t j = 0; j < a.buckets.size(); ++j) a.buckets[j] += b.buckets[j];
          break;
        default:
          a.merge_moments(b);
          break;
      }
    }
  }
  memory_bytes_ += other.memory_bytes_;
  other.groups_.clear();
  other.index_.clear();
  other.index_hashes_.clear();
  other.memory_bytes_ = 0;
  return check_limits();
}

namespace {

// Orders key values: null first, then by value.
bool key_less(const std::vector<v1::KeyValue>& a, const std::vector<v1::KeyValue>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].null() != b[i].null()) return a[i].null();
    if (a[i].null()) continue;
    switch (a[i].value_case()) {
      case v1::KeyValue::kText:
        if (a[i].text() != b[i].text()) return a[i].text() < b[i].text();
        break;
      case v1::KeyValue::kInteger:
        if (a[i].integer() != b[i].integer()) return a[i].integer() < b[i].integer();
        break;
      case v1::KeyValue::kTimeMs:
        if (a[i].time_ms() != b[i].time_ms()) return a[i].time_ms() < b[i].time_ms();
        break;
      case v1::KeyValue::kBoolean:
        if (a[i].boolean() != b[i].boolean()) return b[i].boolean();
        break;
      default:
        break;
    }
  }
  return false;
}

// Exact quantiles with linear interpolation between closest ranks; reorders
// `values` (NaN last).
void compute_quantiles(std::vector<double>& values, const std::vector<double>& quantiles, v1::AggregateValue* out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (values.empty()) {
    for (size_t i = 0; i < quantiles.size(); ++i) out->add_quantiles(nan);
    return;
  }
  // NaN orders above every number, so NaNs go to the end and the selection
  // runs with a plain < on the numbers before them.
  const auto numbers_end = std::partition(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
  const auto numbers = static_cast<size_t>(numbers_end - values.begin());
  // Quantiles are selected in ascending order, each nth_element working on
  // the part above the previous one.
  std::vector<size_t> order(quantiles.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return quantiles[a] < quantiles[b]; });
  std::vector<double> results(quantiles.size());
  size_t settled = 0;
  for (const size_t index : order) {
    const double position = quantiles[index] * static_cast<double>(values.size() - 1);
    const auto lower = static_cast<size_t>(std::floor(position));
    if (lower >= numbers) {
      results[index] = nan;
      continue;
    }
    if (lower >= settled) {
      std::nth_element(values.begin() + static_cast<ptrdiff_t>(settled), values.begin() + static_cast<ptrdiff_t>(lower),
                       numbers_end);
      settled = lower;
    }
    double value = values[lower];
    const double fraction = position - static_cast<double>(lower);
    if (fraction > 0 && lower + 1 < values.size()) {
      const double upper =
          lower + 1 < numbers ? *std::min_element(values.begin() + static_cast<ptrdiff_t>(lower) + 1, numbers_end) : nan;
      value += (upper - value) * fraction;
    }
    results[index] = value;
  }
  for (const double result : results) out->add_quantiles(result);
}

}  // namespace

void Aggregator::finish(v1::AggregateResponse* response) {
  std::vector<Group*> ordered;
  ordered.reserve(groups_.size());
  for (auto& group : groups_) ordered.push_back(group.get());
  std::sort(ordered.begin(), ordered.end(), [](const Group* a, const Group* b) { return key_less(a->keys, b->keys); });

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (Group* group : ordered) {
    v1::Group* out = response->add_groups();
    for (const v1::KeyValue& key : group->keys) *out->add_keys() = key;
    out->set_count(group->count);
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      const AggregateSpec& spec = plan_.aggregates[i];
      Accumulator& accumulator = group->accumulators[i];
      v1::AggregateValue* value = out->add_values();
      value->set_name(spec.name);
      const double n = static_cast<double>(accumulator.n);
      switch (spec.kind) {
        case v1::AggregateSpec::KIND_COUNT:
          value->set_number(static_cast<double>(spec.column == AggregateSpec::kNoColumn ? group->count : accumulator.n));
          break;
        case v1::AggregateSpec::KIND_SUM: value->set_number(accumulator.sum); break;
        case v1::AggregateSpec::KIND_MEAN: value->set_number(accumulator.n ? accumulator.sum / n : nan); break;
        case v1::AggregateSpec::KIND_MIN: value->set_number(accumulator.n ? accumulator.min : nan); break;
        case v1::AggregateSpec::KIND_MAX: value->set_number(accumulator.n ? accumulator.max : nan); break;
        case v1::AggregateSpec::KIND_STDDEV:
          value->set_number(accumulator.n >= 2 ? std::sqrt(accumulator.m2 / (n - 1)) : nan);
          break;
        case v1::AggregateSpec::KIND_DISTINCT_COUNT:
          value->set_number(accumulator.n ? std::round(accumulator.sketch->estimate()) : 0);
          break;
        case v1::AggregateSpec::KIND_CORRELATION:
          value->set_number(accumulator.n >= 2 ? accumulator.comoment / std::sqrt(accumulator.m2 * accumulator.m2_y) : nan);
          break;
        case v1::AggregateSpec::KIND_QUANTILES:
          compute_quantiles(accumulator.values, spec.quantiles, value);
          break;
        case v1::AggregateSpec::KIND_HISTOGRAM:
          for (const uint64_t bucket : accumulator.buckets) value->add_buckets(bucket);
          break;
        case v1::AggregateSpec::KIND_TOP_K: {
          std::vector<std::pair<std::string, uint64_t>> entries(accumulator.counts.begin(), accumulator.counts.end());
          const size_t k = std::min<size_t>(spec.k, entries.size());
          std::partial_sort(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(k), entries.end(),
                            [](const auto& a, const auto& b) {
                              return a.second != b.second ? a.second > b.second : a.first < b.first;
                            });
          for (size_t j = 0; j < k; ++j) {
            v1::TopKEntry* entry = value->add_top();
            entry->set_value(entries[j].first);
            entry->set_count(entries[j].second);
          }
          break;
        }
        default:
          break;
      }
    }
  }
}

}  // namespace heavylift
