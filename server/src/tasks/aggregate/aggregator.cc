#include "tasks/aggregate/aggregator.h"

#include <fmt/format.h>
// XXH_INLINE_ALL compiles xxHash into this file, so no library is linked.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "tasks/aggregate/quantiles.h"

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

// The moments of one column in one group. Each aggregate kind updates only
// the fields it reads. Sum and mean keep n and sum, min and max keep n and
// the extreme, and stddev keeps n, mean and M2 (Welford's update).
// Correlation adds the second field's mean and M2 and the co-moment, and
// counting kinds keep n only.
struct Moments {
  uint64_t n = 0;
  double sum = 0;
  double mean = 0;
  double m2 = 0;
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  double mean_y = 0;
  double m2_y = 0;
  double comoment = 0;

  // Chan's parallel update: the moments of both sets together.
  void merge(const Moments& other) {
    if (other.n == 0) return;
    if (n == 0) {
      *this = other;
      return;
    }
    if (number_less(max, other.max)) max = other.max;
    if (number_less(other.min, min)) min = other.min;
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

}  // namespace

// The kind of a state. Moments of one column serve every count, sum, mean,
// min, max and stddev over that column. The values of one column serve
// every quantile aggregate over it. The other kinds serve one histogram,
// distinct count, top-k or correlation aggregate each.
enum class StateKind { kMoments, kQuantiles, kHistogram, kDistinctCount, kTopK, kCorrelation };

// The accumulated state of one or more aggregates for every group, indexed
// by group number.
struct Aggregator::State {
  StateKind kind = StateKind::kMoments;
  size_t column = 0;
  // The first aggregate that uses the state (histogram bounds, second field).
  const AggregateSpec* spec = nullptr;
  // kMoments: the MomentField bits the aggregates need.
  unsigned fields = 0;
  std::vector<Moments> moments;  // every kind keeps its count of values in n
  std::vector<QuantileValues> values;
  std::vector<uint64_t> buckets;  // (bounds + 1) per group
  std::vector<std::unique_ptr<HyperLogLog>> sketches;
  std::vector<std::unordered_map<std::string, uint64_t>> counts;
};

namespace {

// The Moments fields a moments state updates per value, besides n.
enum MomentField : unsigned { kSumField = 1, kMinField = 2, kMaxField = 4, kWelfordField = 8 };

bool is_moment_kind(v1::AggregateSpec::Kind kind) {
  switch (kind) {
    case v1::AggregateSpec::KIND_COUNT:
    case v1::AggregateSpec::KIND_SUM:
    case v1::AggregateSpec::KIND_MEAN:
    case v1::AggregateSpec::KIND_MIN:
    case v1::AggregateSpec::KIND_MAX:
    case v1::AggregateSpec::KIND_STDDEV: return true;
    default: return false;
  }
}

unsigned moment_fields(v1::AggregateSpec::Kind kind) {
  switch (kind) {
    case v1::AggregateSpec::KIND_SUM:
    case v1::AggregateSpec::KIND_MEAN: return kSumField;
    case v1::AggregateSpec::KIND_MIN: return kMinField;
    case v1::AggregateSpec::KIND_MAX: return kMaxField;
    case v1::AggregateSpec::KIND_STDDEV: return kWelfordField;
    default: return 0;
  }
}

StateKind state_kind(v1::AggregateSpec::Kind kind) {
  switch (kind) {
    case v1::AggregateSpec::KIND_QUANTILES: return StateKind::kQuantiles;
    case v1::AggregateSpec::KIND_HISTOGRAM: return StateKind::kHistogram;
    case v1::AggregateSpec::KIND_DISTINCT_COUNT: return StateKind::kDistinctCount;
    case v1::AggregateSpec::KIND_TOP_K: return StateKind::kTopK;
    case v1::AggregateSpec::KIND_CORRELATION: return StateKind::kCorrelation;
    default: return StateKind::kMoments;
  }
}

bool all_present(const Column& column, size_t rows) {
  return rows == 0 || std::memchr(column.present.data(), 0, rows) == nullptr;
}

// Calls fn(row, value) for every present value of a numeric or integer
// column, converting integers to double. A text column has no numbers.
template <typename Fn>
void for_each_number(const Column& column, size_t rows, Fn&& fn) {
  const uint8_t* present = column.present.data();
  const bool dense = all_present(column, rows);
  if (column.kind == Column::Kind::kNumber) {
    const double* values = column.numbers.data();
    if (dense) {
      for (size_t row = 0; row < rows; ++row) fn(row, values[row]);
      return;
    }
    for (size_t row = 0; row < rows; ++row) {
      if (present[row]) fn(row, values[row]);
    }
  } else if (column.kind == Column::Kind::kInteger) {
    const int64_t* values = column.integers.data();
    if (dense) {
      for (size_t row = 0; row < rows; ++row) fn(row, static_cast<double>(values[row]));
      return;
    }
    for (size_t row = 0; row < rows; ++row) {
      if (present[row]) fn(row, static_cast<double>(values[row]));
    }
  }
}

// Adds each present value of `column` to the moments of its row's group,
// updating the fields in kFields. Welford's update runs in row order, so
// the result does not depend on how rows were batched.
template <unsigned kFields>
void add_moments(Moments* moments, const uint32_t* groups, const Column& column, size_t rows) {
  for_each_number(column, rows, [&](size_t row, double value) {
    Moments& m = moments[groups[row]];
    if constexpr ((kFields & kMinField) != 0) {
      if (m.n == 0 || number_less(value, m.min)) m.min = value;
    }
    if constexpr ((kFields & kMaxField) != 0) {
      if (m.n == 0 || number_less(m.max, value)) m.max = value;
    }
    ++m.n;
    if constexpr ((kFields & kSumField) != 0) m.sum += value;
    if constexpr ((kFields & kWelfordField) != 0) {
      const double delta = value - m.mean;
      m.mean += delta / static_cast<double>(m.n);
      m.m2 += delta * (value - m.mean);
    }
  });
}

using MomentsLoop = void (*)(Moments*, const uint32_t*, const Column&, size_t);

template <size_t... kFields>
constexpr std::array<MomentsLoop, sizeof...(kFields)> make_moments_loops(std::index_sequence<kFields...>) {
  return {&add_moments<kFields>...};
}

// One loop per combination of MomentField bits.
constexpr auto kMomentsLoops = make_moments_loops(std::make_index_sequence<16>{});

// Orders groups by their key codes, comparing the values the codes stand for.
struct GroupOrder {
  const std::vector<KeyDictionary>& dictionaries;
  const GroupIndex& index;

  bool operator()(uint32_t a, uint32_t b) const {
    const uint32_t* left = index.codes(a);
    const uint32_t* right = index.codes(b);
    for (size_t k = 0; k < dictionaries.size(); ++k) {
      // Distinct codes of one dictionary stand for distinct values.
      if (left[k] != right[k]) return dictionaries[k].less(left[k], right[k]);
    }
    return false;
  }
};

}  // namespace

Aggregator::Aggregator(const AggregationPlan& plan, const AggregateLimits& limits)
    : plan_(plan), limits_(limits), index_(plan.keys.size()) {
  for (const KeySpec& key : plan_.keys) {
    std::optional<TimeBucketer> bucket;
    if (key.bucketed) bucket.emplace(key.unit, key.time_zone);
    dictionaries_.emplace_back(key.output, std::move(bucket));
  }
  init_states();
}
Aggregator::~Aggregator() = default;
Aggregator::Aggregator(Aggregator&&) noexcept = default;

void Aggregator::init_states() {
  states_.clear();
  state_of_.assign(plan_.aggregates.size(), kNoState);
  for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
    const AggregateSpec& spec = plan_.aggregates[i];
    if (spec.column == AggregateSpec::kNoColumn) continue;
    const StateKind kind = state_kind(spec.kind);
    // Moments and quantile values of one column serve every aggregate of
    // those kinds over it.
    if (kind == StateKind::kMoments || kind == StateKind::kQuantiles) {
      for (size_t j = 0; j < states_.size(); ++j) {
        if (states_[j].kind == kind && states_[j].column == spec.column) state_of_[i] = j;
      }
    }
    if (state_of_[i] == kNoState) {
      state_of_[i] = states_.size();
      State& state = states_.emplace_back();
      state.kind = kind;
      state.column = spec.column;
      state.spec = &spec;
    }
    if (is_moment_kind(spec.kind)) states_[state_of_[i]].fields |= moment_fields(spec.kind);
  }
}

size_t Aggregator::group_count() const { return index_.group_count(); }
bool Aggregator::dense_group_index() const { return index_.dense(); }

Status Aggregator::check_limits() {
  if (group_count() > limits_.max_groups) {
    Error error = Error::resource_exhausted(
        fmt::format("the aggregation has more than {} groups; narrow the filter, group by fewer keys or raise "
                    "max_groups up to aggregate.max_groups",
                    limits_.max_groups),
        0);
    error.field = "max_groups";
    error.bound = fmt::format("<= {} groups", limits_.max_groups);
    error.value = fmt::format("{} groups", group_count());
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

void Aggregator::add_new_groups() {
  const size_t groups = index_.group_count();
  if (counts_.size() == groups) return;
  const size_t old_groups = counts_.size();
  counts_.resize(groups, 0);
  row_counts_.resize(groups, 0);
  value_counts_.resize(groups, 0);
  cursors_.resize(groups, nullptr);
  for (State& state : states_) {
    state.moments.resize(groups);
    switch (state.kind) {
      case StateKind::kQuantiles: state.values.resize(groups); break;
      case StateKind::kHistogram: state.buckets.resize(groups * (state.spec->histogram_bounds.size() + 1), 0); break;
      case StateKind::kTopK: state.counts.resize(groups); break;
      case StateKind::kDistinctCount:
        for (size_t g = old_groups; g < groups; ++g) state.sketches.push_back(std::make_unique<HyperLogLog>());
        value_bytes_ += (groups - old_groups) * HyperLogLog::kRegisters;
        break;
      default: break;
    }
  }
}

void Aggregator::update_memory() {
  memory_bytes_ = value_bytes_ + group_count() * kGroupOverheadBytes + index_.memory_bytes();
  for (const KeyDictionary& dictionary : dictionaries_) memory_bytes_ += dictionary.memory_bytes();
}

Status Aggregator::add(const ColumnBatch& batch) {
  const size_t rows = batch.rows;
  if (rows == 0) return check_limits();

  // Key codes, one key column at a time, then the group of each row.
  const size_t keys = plan_.keys.size();
  codes_.resize(keys * rows);
  std::vector<unsigned> bits(keys);
  for (size_t k = 0; k < keys; ++k) {
    dictionaries_[k].encode(batch.columns[plan_.keys[k].column], rows, codes_.data() + k * rows);
    bits[k] = dictionaries_[k].bits();
  }
  index_.set_bits(bits);
  row_groups_.resize(rows);
  const bool within_limit = index_.assign(codes_.data(), rows, limits_.max_groups, row_groups_.data());
  add_new_groups();
  update_memory();
  if (!within_limit) return check_limits();

  // Rows per group in this batch, kept for the quantile states below.
  row_groups_touched_.clear();
  for (size_t row = 0; row < rows; ++row) {
    if (row_counts_[row_groups_[row]]++ == 0) row_groups_touched_.push_back(row_groups_[row]);
  }
  for (const uint32_t group : row_groups_touched_) counts_[group] += row_counts_[group];

  for (State& state : states_) accumulate(state, batch);

  for (const uint32_t group : row_groups_touched_) row_counts_[group] = 0;
  update_memory();
  return check_limits();
}

void Aggregator::accumulate(State& state, const ColumnBatch& batch) {
  const Column& column = batch.columns[state.column];
  const size_t rows = batch.rows;
  const uint32_t* groups = row_groups_.data();
  const uint8_t* present = column.present.data();
  Moments* moments = state.moments.data();
  switch (state.kind) {
    case StateKind::kMoments:
      if (column.kind == Column::Kind::kText) {
        // Only count accepts a text field.
        for (size_t row = 0; row < rows; ++row) moments[groups[row]].n += present[row];
      } else {
        kMomentsLoops[state.fields](moments, groups, column, rows);
      }
      break;
    case StateKind::kQuantiles:
      gather_quantile_values(state, column, rows);
      break;
    case StateKind::kDistinctCount:
      for (size_t row = 0; row < rows; ++row) {
        if (!present[row]) continue;
        ++moments[groups[row]].n;
        state.sketches[groups[row]]->add_hash(value_hash(column, row));
      }
      break;
    case StateKind::kTopK:
      for (size_t row = 0; row < rows; ++row) {
        if (!present[row]) continue;
        ++moments[groups[row]].n;
        auto [entry, inserted] = state.counts[groups[row]].try_emplace(value_text(column, row), 0);
        ++entry->second;
        if (inserted) value_bytes_ += kCountEntryOverheadBytes + entry->first.size();
      }
      break;
    case StateKind::kCorrelation: {
      const Column& second = batch.columns[state.spec->column2];
      for_each_number(column, rows, [&](size_t row, double x) {
        if (!second.present[row]) return;
        const double y = second.number_at(row);
        Moments& m = moments[groups[row]];
        ++m.n;
        const double n = static_cast<double>(m.n);
        const double delta_x = x - m.mean;
        m.mean += delta_x / n;
        const double delta_y = y - m.mean_y;
        m.mean_y += delta_y / n;
        m.m2 += delta_x * (x - m.mean);
        m.m2_y += delta_y * (y - m.mean_y);
        m.comoment += delta_x * (y - m.mean_y);
      });
      break;
    }
    case StateKind::kHistogram: {
      const std::vector<double>& bounds = state.spec->histogram_bounds;
      const size_t width = bounds.size() + 1;
      uint64_t* buckets = state.buckets.data();
      for_each_number(column, rows, [&](size_t row, double value) {
        ++moments[groups[row]].n;
        const auto bound = std::lower_bound(bounds.begin(), bounds.end(), value);
        ++buckets[groups[row] * width + static_cast<size_t>(bound - bounds.begin())];
      });
      break;
    }
  }
}

void Aggregator::gather_quantile_values(State& state, const Column& column, size_t rows) {
  // A counting sort: count each group's values in the batch, extend each
  // group's values once, then copy the values into place. When every row
  // has a value, the row counts of add() are the value counts.
  const uint32_t* groups = row_groups_.data();
  const uint32_t* counts = row_counts_.data();
  const std::vector<uint32_t>* touched = &row_groups_touched_;
  if (!all_present(column, rows)) {
    value_groups_touched_.clear();
    const uint8_t* present = column.present.data();
    for (size_t row = 0; row < rows; ++row) {
      if (present[row] && value_counts_[groups[row]]++ == 0) value_groups_touched_.push_back(groups[row]);
    }
    counts = value_counts_.data();
    touched = &value_groups_touched_;
  }
  for (const uint32_t group : *touched) {
    cursors_[group] = state.values[group].extend(counts[group]);
    state.moments[group].n += counts[group];
    value_bytes_ += counts[group] * sizeof(double);
  }
  double** cursors = cursors_.data();
  for_each_number(column, rows, [&](size_t row, double value) { *cursors[groups[row]]++ = value; });

  // The values just copied are still in cache: note their range now, which
  // spares finish() a pass over all of them.
  for (const uint32_t group : *touched) {
    state.values[group].note_range(std::span<const double>(cursors_[group] - counts[group], counts[group]));
  }
  if (touched == &value_groups_touched_) {
    for (const uint32_t group : value_groups_touched_) value_counts_[group] = 0;
  }
}

void Aggregator::merge_group(uint32_t mine, Aggregator& other, uint32_t theirs) {
  counts_[mine] += other.counts_[theirs];
  for (size_t i = 0; i < states_.size(); ++i) {
    State& a = states_[i];
    State& b = other.states_[i];
    Moments& ours = a.moments[mine];
    Moments& their_moments = b.moments[theirs];
    switch (a.kind) {
      case StateKind::kDistinctCount:
        ours.n += their_moments.n;
        a.sketches[mine]->merge(*b.sketches[theirs]);
        break;
      case StateKind::kTopK:
        ours.n += their_moments.n;
        for (const auto& [value, count] : b.counts[theirs]) a.counts[mine][value] += count;
        break;
      case StateKind::kQuantiles:
        ours.n += their_moments.n;
        a.values[mine].absorb(b.values[theirs]);
        break;
      case StateKind::kHistogram: {
        ours.n += their_moments.n;
        const size_t width = a.spec->histogram_bounds.size() + 1;
        for (size_t j = 0; j < width; ++j) a.buckets[mine * width + j] += b.buckets[theirs * width + j];
        break;
      }
      case StateKind::kMoments:
      case StateKind::kCorrelation:
        ours.merge(their_moments);
        break;
    }
  }
}

Status Aggregator::merge(Aggregator& other) {
  // Map the other aggregator's key codes to codes of this one.
  const size_t keys = plan_.keys.size();
  std::vector<std::vector<uint32_t>> code_maps(keys);
  std::vector<unsigned> bits(keys);
  for (size_t k = 0; k < keys; ++k) {
    const KeyDictionary& theirs = other.dictionaries_[k];
    for (uint32_t code = 0; code < theirs.size(); ++code) code_maps[k].push_back(dictionaries_[k].add_from(theirs, code));
    bits[k] = dictionaries_[k].bits();
  }
  index_.set_bits(bits);

  std::vector<uint32_t> tuple(keys);
  for (uint32_t group = 0; group < other.group_count(); ++group) {
    const uint32_t* codes = other.index_.codes(group);
    for (size_t k = 0; k < keys; ++k) tuple[k] = code_maps[k][codes[k]];
    const uint32_t mine = index_.find_or_add(tuple.data());
    add_new_groups();
    merge_group(mine, other, group);
  }
  value_bytes_ += other.value_bytes_;
  update_memory();

  // Empty `other`.
  other.index_ = GroupIndex(keys);
  for (size_t k = 0; k < keys; ++k) {
    std::optional<TimeBucketer> bucket;
    if (plan_.keys[k].bucketed) bucket.emplace(plan_.keys[k].unit, plan_.keys[k].time_zone);
    other.dictionaries_[k] = KeyDictionary(plan_.keys[k].output, std::move(bucket));
  }
  other.counts_.clear();
  other.init_states();
  other.value_bytes_ = 0;
  other.memory_bytes_ = 0;
  return check_limits();
}

void Aggregator::finish(v1::AggregateResponse* response) {
  std::vector<uint32_t> ordered(group_count());
  for (uint32_t group = 0; group < ordered.size(); ++group) ordered[group] = group;
  std::sort(ordered.begin(), ordered.end(), GroupOrder{dictionaries_, index_});

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const uint32_t group : ordered) {
    v1::Group* out = response->add_groups();
    const uint32_t* codes = index_.codes(group);
    for (size_t k = 0; k < dictionaries_.size(); ++k) dictionaries_[k].write(codes[k], out->add_keys());
    out->set_count(counts_[group]);
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      const AggregateSpec& spec = plan_.aggregates[i];
      v1::AggregateValue* value = out->add_values();
      value->set_name(spec.name);
      if (state_of_[i] == kNoState) {
        // A count of records (the only aggregate without a field).
        value->set_number(static_cast<double>(counts_[group]));
        continue;
      }
      const State& state = states_[state_of_[i]];
      const Moments& m = state.moments[group];
      const double n = static_cast<double>(m.n);
      switch (spec.kind) {
        case v1::AggregateSpec::KIND_COUNT: value->set_number(n); break;
        case v1::AggregateSpec::KIND_SUM: value->set_number(m.sum); break;
        case v1::AggregateSpec::KIND_MEAN: value->set_number(m.n ? m.sum / n : nan); break;
        case v1::AggregateSpec::KIND_MIN: value->set_number(m.n ? m.min : nan); break;
        case v1::AggregateSpec::KIND_MAX: value->set_number(m.n ? m.max : nan); break;
        case v1::AggregateSpec::KIND_STDDEV: value->set_number(m.n >= 2 ? std::sqrt(m.m2 / (n - 1)) : nan); break;
        case v1::AggregateSpec::KIND_DISTINCT_COUNT:
          value->set_number(m.n ? std::round(state.sketches[group]->estimate()) : 0);
          break;
        case v1::AggregateSpec::KIND_CORRELATION:
          value->set_number(m.n >= 2 ? m.comoment / std::sqrt(m.m2 * m.m2_y) : nan);
          break;
        case v1::AggregateSpec::KIND_QUANTILES:
          for (const double quantile : state.values[group].quantiles(spec.quantiles)) value->add_quantiles(quantile);
          break;
        case v1::AggregateSpec::KIND_HISTOGRAM: {
          const size_t width = spec.histogram_bounds.size() + 1;
          for (size_t j = 0; j < width; ++j) value->add_buckets(state.buckets[group * width + j]);
          break;
        }
        case v1::AggregateSpec::KIND_TOP_K: {
          const auto& counts = state.counts[group];
          std::vector<std::pair<std::string, uint64_t>> entries(counts.begin(), counts.end());
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
