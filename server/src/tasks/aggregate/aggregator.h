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
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "heavylift/v1/aggregate.pb.h"
#include "core/hyperloglog.h"
#include "store/columns.h"
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

  // Folds `other` (built from the same plan) into this aggregator.
  Status merge(Aggregator& other);

  // Writes the groups in ascending key order, computing quantiles.
  void finish(v1::AggregateResponse* response);

  uint64_t memory_bytes() const { return memory_bytes_; }
  size_t group_count() const;

 private:
  struct Group;
  struct Accumulator;

  Status check_limits();
  Group* group_for(const ColumnBatch& batch, size_t row, std::string* scratch);
  // Returns the group under the encoded key `key` with hash `hash`, or nullptr.
  Group* find_group(std::string_view key, uint64_t hash) const;
  // Adds `group` (whose key is not present) to the index.
  void insert_group(std::unique_ptr<Group> group);

  const AggregationPlan& plan_;
  AggregateLimits limits_;
  // Groups in insertion order, found through an open-addressing index of
  // key hashes (slot value: position in groups_ + 1, 0 when empty).
  std::vector<std::unique_ptr<Group>> groups_;
  std::vector<uint32_t> index_;
  std::vector<uint64_t> index_hashes_;
  uint64_t memory_bytes_ = 0;
};

}  // namespace heavylift
