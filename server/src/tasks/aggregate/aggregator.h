// The in-memory aggregation core: group-by over typed columns with count,
// sum, mean, min, max, stddev, distinct count, exact quantiles, histograms,
// top-k and Pearson correlation. Every accumulator merges, so partial
// aggregators (one per cursor or per thread) combine into one result.
//
// Numeric rules: a missing or null value is skipped by every aggregate of
// its field but the group still counts the record. NaN is a value: it makes
// sum, mean and stddev NaN, and orders above every number (as in
// PostgreSQL) for min, max and quantiles.
//
// Thread-safety: an Aggregator is not thread-safe; use one per thread and
// merge them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "heavylift/v1/aggregate.pb.h"
#include "core/hyperloglog.h"
#include "store/columns.h"
#include "tasks/aggregate/group_index.h"
#include "tasks/aggregate/key_dictionary.h"
#include "tasks/aggregate/time_bucket.h"

namespace heavylift {

// Bounds of one aggregation request.
struct AggregateLimits {
  // Most groups a response may hold (the result-size limit).
  uint32_t max_groups = 100'000;
  // Most memory the accumulators of one request may hold, estimated from the
  // values kept for exact quantiles, HyperLogLog registers and top-k counts.
  uint64_t max_request_memory_bytes = uint64_t{1} << 30;
  // Most violations listed in a response; all of them are counted.
  uint32_t max_violations_reported = 100;
  // Most records one Decode call returns.
  uint32_t max_decode_records = 10'000;
  // Parallel cursors one MongoDB request may open.
  uint32_t max_partitions = 16;
};

// A group key: a column, optionally bucketed by time.
struct KeySpec {
  size_t column = 0;
  v1::KeyValue::ValueCase output = v1::KeyValue::kText;
  bool bucketed = false;
  BucketUnit unit = BucketUnit::kDay;
  TimeZone time_zone;
};

struct AggregateSpec {
  v1::AggregateSpec::Kind kind = v1::AggregateSpec::KIND_COUNT;
  std::string name;
  // The input column; kNoColumn for a count of records.
  static constexpr size_t kNoColumn = static_cast<size_t>(-1);
  size_t column = kNoColumn;
  size_t column2 = 0;  // correlation only
  std::vector<double> quantiles;
  std::vector<double> histogram_bounds;
  uint32_t k = 0;
};

struct AggregationPlan {
  std::vector<KeySpec> keys;
  std::vector<AggregateSpec> aggregates;
};

// Groups rows and accumulates their aggregates. Each key column's values
// get dictionary codes (KeyDictionary), the codes find the row's group
// (GroupIndex), and each aggregate then runs over the batch in one loop into
// per-group state.
class Aggregator {
 public:
  // `plan` must outlive the aggregator.
  Aggregator(const AggregationPlan& plan, const AggregateLimits& limits);
  ~Aggregator();
  Aggregator(Aggregator&&) noexcept;

  // Adds every row of `batch`. Fails with RESOURCE_EXHAUSTED when a new
  // group would pass max_groups or the estimated memory passes
  // max_request_memory_bytes; the aggregator is then unusable.
  Status add(const ColumnBatch& batch);

  // Folds `other` (built from the same plan) into this aggregator and
  // empties `other`.
  Status merge(Aggregator& other);

  // Writes the groups in ascending key order, computing quantiles.
  void finish(v1::AggregateResponse* response);

  uint64_t memory_bytes() const { return memory_bytes_; }
  size_t group_count() const;
  // True while groups are found through the flat array of GroupIndex, false
  // once the key columns have too many distinct values for it.
  bool dense_group_index() const;

 private:
  struct State;
  static constexpr size_t kNoState = static_cast<size_t>(-1);

  // Creates the states of the plan's aggregates, empty.
  void init_states();
  Status check_limits();
  // Adds state for the groups the index gained since the last call.
  void add_new_groups();
  void update_memory();
  void accumulate(State& state, const ColumnBatch& batch);
  void gather_quantile_values(State& state, const Column& column, size_t rows);
  void merge_group(uint32_t mine, Aggregator& other, uint32_t theirs);

  const AggregationPlan& plan_;
  AggregateLimits limits_;
  std::vector<KeyDictionary> dictionaries_;
  GroupIndex index_;
  // Records per group.
  std::vector<uint64_t> counts_;
  // The states, and for each aggregate of the plan its state (kNoState for
  // a count of records). Aggregates over one field share moments and
  // quantile values.
  std::vector<State> states_;
  std::vector<size_t> state_of_;
  // Estimated bytes of values kept for quantiles, sketches and top-k counts.
  // memory_bytes_ adds the groups, dictionaries and index to it.
  uint64_t value_bytes_ = 0;
  uint64_t memory_bytes_ = 0;
  // Scratch for one batch: key codes by key column, the group of each row,
  // rows and values per group (zero between batches) with the groups they
  // touched, and where each group's next quantile value goes.
  std::vector<uint32_t> codes_;
  std::vector<uint32_t> row_groups_;
  std::vector<uint32_t> row_counts_;
  std::vector<uint32_t> row_groups_touched_;
  std::vector<uint32_t> value_counts_;
  std::vector<uint32_t> value_groups_touched_;
  std::vector<double*> cursors_;
};

}  // namespace heavylift
