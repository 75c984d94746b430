#include "tasks/aggregate/aggregator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace heavylift {
namespace {

// A batch with one text key column (0) and one number column (1).
ColumnBatch make_batch(const std::vector<std::string>& keys, const std::vector<double>& values) {
  ColumnBatch batch;
  batch.rows = keys.size();
  batch.columns.resize(2);
  batch.columns[0].kind = Column::Kind::kText;
  for (const std::string& key : keys) batch.columns[0].append_text(key);
  batch.columns[0].present.assign(keys.size(), 1);
  batch.columns[1].kind = Column::Kind::kNumber;
  batch.columns[1].numbers = values;
  batch.columns[1].present.assign(values.size(), 1);
  return batch;
}

AggregationPlan key_plan(std::vector<AggregateSpec> aggregates) {
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  plan.aggregates = std::move(aggregates);
  return plan;
}

AggregateSpec spec(v1::AggregateSpec::Kind kind, std::string name, size_t column = 1) {
  AggregateSpec out;
  out.kind = kind;
  out.name = std::move(name);
  out.column = column;
  return out;
}

TEST(Aggregator, ComputesMomentsPerGroup) {
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_COUNT, "count", AggregateSpec::kNoColumn),
                                   spec(v1::AggregateSpec::KIND_SUM, "sum"), spec(v1::AggregateSpec::KIND_MEAN, "mean"),
                                   spec(v1::AggregateSpec::KIND_MIN, "min"), spec(v1::AggregateSpec::KIND_MAX, "max"),
                                   spec(v1::AggregateSpec::KIND_STDDEV, "stddev")});
  Aggregator aggregator(plan, AggregateLimits{});
  ASSERT_TRUE(aggregator.add(make_batch({"b", "a", "b", "a", "a"}, {10, 1, 20, 2, 6})).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 2);
  const v1::Group& a = response.groups(0);
  EXPECT_EQ(a.keys(0).text(), "a");
  EXPECT_EQ(a.count(), 3u);
  EXPECT_DOUBLE_EQ(a.values(1).number(), 9);
  EXPECT_DOUBLE_EQ(a.values(2).number(), 3);
  EXPECT_DOUBLE_EQ(a.values(3).number(), 1);
  EXPECT_DOUBLE_EQ(a.values(4).number(), 6);
  EXPECT_DOUBLE_EQ(a.values(5).number(), std::sqrt(7.0));  // ((1-3)^2 + (2-3)^2 + (6-3)^2) / 2
  EXPECT_EQ(response.groups(1).keys(0).text(), "b");
  EXPECT_DOUBLE_EQ(response.groups(1).values(5).number(), std::sqrt(50.0));
}

TEST(Aggregator, ExactQuantilesInterpolate) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.9, 0.5, 0, 1, 0.25};
  AggregationPlan plan = key_plan({quantiles});
  Aggregator aggregator(plan, AggregateLimits{});
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  ASSERT_TRUE(aggregator.add(make_batch(std::vector<std::string>(100, "k"), values)).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  const auto& q = response.groups(0).values(0).quantiles();
  ASSERT_EQ(q.size(), 5);
  EXPECT_DOUBLE_EQ(q[0], 90.1);
  EXPECT_DOUBLE_EQ(q[1], 50.5);
  EXPECT_DOUBLE_EQ(q[2], 1);
  EXPECT_DOUBLE_EQ(q[3], 100);
  EXPECT_DOUBLE_EQ(q[4], 25.75);
}

TEST(Aggregator, NanOrdersAboveNumbers) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0, 0.5};
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_MIN, "min"), spec(v1::AggregateSpec::KIND_MAX, "max"), quantiles});
  Aggregator aggregator(plan, AggregateLimits{});
  ASSERT_TRUE(aggregator.add(make_batch({"k", "k", "k"}, {std::nan(""), 2, 1})).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  EXPECT_DOUBLE_EQ(response.groups(0).values(0).number(), 1);
  EXPECT_TRUE(std::isnan(response.groups(0).values(1).number()));
  EXPECT_DOUBLE_EQ(response.groups(0).values(2).quantiles(0), 1);
  EXPECT_DOUBLE_EQ(response.groups(0).values(2).quantiles(1), 2);
}

// Quantiles over many groups (the group index grows several times) equal
// those read from a full sort with NaN last.
TEST(Aggregator, QuantilesOfManyGroupsMatchASortedReference) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.99, 0, 0.37, 0.5, 0.9, 1};
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_COUNT, "n", AggregateSpec::kNoColumn), quantiles});
  std::mt19937_64 random(11);
  std::vector<std::string> keys;
  std::vector<double> values;
  std::map<std::string, std::vector<double>> reference;
  for (int i = 0; i < 50'000; ++i) {
    const std::string key = "g" + std::to_string(random() % 700);
    const double value = random() % 97 == 0 ? std::nan("") : std::uniform_real_distribution<double>(-5, 5)(random);
    keys.push_back(key);
    values.push_back(value);
    reference[key].push_back(value);
  }
  Aggregator aggregator(plan, AggregateLimits{});
  for (size_t start = 0; start < keys.size(); start += 4096) {
    const size_t end = std::min(keys.size(), start + 4096);
    ASSERT_TRUE(aggregator.add(make_batch({keys.begin() + start, keys.begin() + end},
                                          {values.begin() + start, values.begin() + end}))
                    .ok());
  }
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(static_cast<size_t>(response.groups_size()), reference.size());
  size_t g = 0;
  for (auto& [key, sorted] : reference) {
    const v1::Group& group = response.groups(static_cast<int>(g++));
    ASSERT_EQ(group.keys(0).text(), key);
    EXPECT_EQ(group.count(), sorted.size());
    std::sort(sorted.begin(), sorted.end(), [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); });
    for (size_t i = 0; i < quantiles.quantiles.size(); ++i) {
      const double position = quantiles.quantiles[i] * static_cast<double>(sorted.size() - 1);
      const auto lower = static_cast<size_t>(std::floor(position));
      const double fraction = position - static_cast<double>(lower);
      double expected = sorted[lower];
      if (fraction > 0 && lower + 1 < sorted.size()) expected += (sorted[lower + 1] - expected) * fraction;
      const double actual = group.values(1).quantiles(static_cast<int>(i));
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(actual)) << key << " q" << quantiles.quantiles[i];
      } else {
        EXPECT_EQ(actual, expected) << key << " q" << quantiles.quantiles[i];
      }
    }
  }
}

TEST(Aggregator, MergeEqualsSinglePass) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.5, 0.99};
  AggregateSpec histogram = spec(v1::AggregateSpec::KIND_HISTOGRAM, "h");
  histogram.histogram_bounds = {10, 50};
  AggregateSpec correlation = spec(v1::AggregateSpec::KIND_CORRELATION, "r");
  correlation.column2 = 1;
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_STDDEV, "sd"), quantiles, histogram,
                                   spec(v1::AggregateSpec::KIND_DISTINCT_COUNT, "d"), correlation});
  std::mt19937_64 random(7);
  std::vector<std::string> keys;
  std::vector<double> values;
  for (int i = 0; i < 10000; ++i) {
    keys.push_back(i % 3 == 0 ? "x" : "y");
    values.push_back(std::uniform_real_distribution<double>(0, 100)(random));
  }
  Aggregator whole(plan, AggregateLimits{});
  ASSERT_TRUE(whole.add(make_batch(keys, values)).ok());
  Aggregator first(plan, AggregateLimits{});
  Aggregator second(plan, AggregateLimits{});
  ASSERT_TRUE(first.add(make_batch({keys.begin(), keys.begin() + 4000}, {values.begin(), values.begin() + 4000})).ok());
  ASSERT_TRUE(second.add(make_batch({keys.begin() + 4000, keys.end()}, {values.begin() + 4000, values.end()})).ok());
  ASSERT_TRUE(first.merge(second).ok());
  v1::AggregateResponse expected;
  v1::AggregateResponse merged;
  whole.finish(&expected);
  first.finish(&merged);
  ASSERT_EQ(merged.groups_size(), 2);
  for (int g = 0; g < 2; ++g) {
    const v1::Group& a = expected.groups(g);
    const v1::Group& b = merged.groups(g);
    EXPECT_EQ(a.count(), b.count());
    EXPECT_NEAR(a.values(0).number(), b.values(0).number(), 1e-9);
    EXPECT_EQ(a.values(1).quantiles(0), b.values(1).quantiles(0));
    EXPECT_EQ(a.values(1).quantiles(1), b.values(1).quantiles(1));
    EXPECT_EQ(a.values(2).buckets(0), b.values(2).buckets(0));
    EXPECT_EQ(a.values(2).buckets(2), b.values(2).buckets(2));
    EXPECT_EQ(a.values(3).number(), b.values(3).number());
    EXPECT_NEAR(b.values(4).number(), 1.0, 1e-9);  // a field correlates with itself
  }
}

TEST(Aggregator, DistinctCountWithinStatedError) {
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_DISTINCT_COUNT, "d")});
  Aggregator aggregator(plan, AggregateLimits{});
  const int distinct = 200'000;
  std::vector<std::string> keys(distinct, "k");
  std::vector<double> values;
  for (int i = 0; i < distinct; ++i) values.push_back(i);
  ASSERT_TRUE(aggregator.add(make_batch(keys, values)).ok());
  ASSERT_TRUE(aggregator.add(make_batch(keys, values)).ok());  // repeats add nothing
  v1::AggregateResponse response;
  aggregator.finish(&response);
  // Four standard errors (4 x 0.81%) bound the estimate with high probability.
  EXPECT_NEAR(response.groups(0).values(0).number(), distinct, distinct * 4 * 0.0081);
}

TEST(Aggregator, TopKOrdersByCount) {
  AggregateSpec top = spec(v1::AggregateSpec::KIND_TOP_K, "top", 0);
  top.k = 2;
  AggregationPlan plan;
  plan.aggregates = {top};
  Aggregator aggregator(plan, AggregateLimits{});
  ASSERT_TRUE(aggregator.add(make_batch({"a", "b", "b", "c", "c", "c"}, {0, 0, 0, 0, 0, 0})).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 1);
  const auto& entries = response.groups(0).values(0).top();
  ASSERT_EQ(entries.size(), 2);
  EXPECT_EQ(entries[0].value(), "c");
  EXPECT_EQ(entries[0].count(), 3u);
  EXPECT_EQ(entries[1].value(), "b");
}

TEST(Aggregator, RejectsTooManyGroups) {
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_SUM, "sum")});
  AggregateLimits limits;
  limits.max_groups = 2;
  Aggregator aggregator(plan, limits);
  const Status status = aggregator.add(make_batch({"a", "b", "c"}, {1, 2, 3}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kResourceExhausted);
  EXPECT_EQ(status.error().field, "max_groups");
  EXPECT_EQ(status.error().bound, "<= 2 groups");
}

TEST(Aggregator, RejectsRequestOverMemoryBound) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.5};
  AggregationPlan plan = key_plan({quantiles});
  AggregateLimits limits;
  limits.max_request_memory_bytes = 4096;
  Aggregator aggregator(plan, limits);
  const Status status = aggregator.add(make_batch(std::vector<std::string>(1000, "k"), std::vector<double>(1000, 1)));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kResourceExhausted);
  EXPECT_EQ(status.error().reason, "REQUEST_MEMORY_LIMIT");
}

// A batch with two text key columns (0 and 1) and one number column (2)
// holding `value` in every row, every value present.
ColumnBatch make_pair_batch(const std::vector<std::pair<std::string, std::string>>& keys, double value) {
  ColumnBatch batch;
  batch.rows = keys.size();
  batch.columns.resize(3);
  batch.columns[0].kind = Column::Kind::kText;
  batch.columns[1].kind = Column::Kind::kText;
  batch.columns[2].kind = Column::Kind::kNumber;
  for (const auto& [first, second] : keys) {
    batch.columns[0].append_text(first);
    batch.columns[1].append_text(second);
    batch.columns[2].numbers.push_back(value);
  }
  for (Column& column : batch.columns) column.present.assign(keys.size(), 1);
  return batch;
}

AggregationPlan pair_plan() {
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  plan.keys.push_back(KeySpec{1, v1::KeyValue::kText});
  plan.aggregates = {spec(v1::AggregateSpec::KIND_COUNT, "n", AggregateSpec::kNoColumn),
                     spec(v1::AggregateSpec::KIND_SUM, "sum", 2)};
  return plan;
}

std::string name(char prefix, int i) {
  char text[8];
  std::snprintf(text, sizeof(text), "%c%03d", prefix, i);
  return text;
}

// 256 x 256 distinct key pairs fill the flat group array (2^16 slots). One
// more value in the first column needs 2^17 slots, so the index moves to the
// hash table.
TEST(Aggregator, DenseIndexUpToLimitThenHashed) {
  const AggregationPlan plan = pair_plan();
  Aggregator aggregator(plan, AggregateLimits{});
  std::vector<std::pair<std::string, std::string>> all;
  for (int i = 0; i < 256; ++i) {
    for (int j = 0; j < 256; ++j) all.emplace_back(name('a', i), name('b', j));
  }
  ASSERT_TRUE(aggregator.add(make_pair_batch(all, 1)).ok());
  EXPECT_TRUE(aggregator.dense_group_index());
  EXPECT_EQ(aggregator.group_count(), 65'536u);

  std::vector<std::pair<std::string, std::string>> more;
  for (int j = 0; j < 256; ++j) more.emplace_back(name('a', 256), name('b', j));
  for (int j = 0; j < 256; ++j) more.emplace_back(name('a', 7), name('b', j));
  ASSERT_TRUE(aggregator.add(make_pair_batch(more, 2)).ok());
  EXPECT_FALSE(aggregator.dense_group_index());
  EXPECT_EQ(aggregator.group_count(), 65'536u + 256u);

  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 65'536 + 256);
  int index = 0;
  for (int i = 0; i <= 256; ++i) {
    for (int j = 0; j < 256; ++j) {
      const v1::Group& group = response.groups(index++);
      ASSERT_EQ(group.keys(0).text(), name('a', i));
      ASSERT_EQ(group.keys(1).text(), name('b', j));
      const uint64_t expected_count = i == 7 ? 2 : 1;
      EXPECT_EQ(group.count(), expected_count) << i << "," << j;
      const double expected_sum = i == 7 ? 3 : (i == 256 ? 2 : 1);
      EXPECT_EQ(group.values(1).number(), expected_sum) << i << "," << j;
    }
  }
}

// A null key counts as one more value of its column, and sorts first.
TEST(Aggregator, NullKeyIsOneMoreValue) {
  const AggregationPlan plan = pair_plan();
  Aggregator aggregator(plan, AggregateLimits{});
  ColumnBatch batch = make_pair_batch({{"b", "x"}, {"", "x"}, {"a", "x"}, {"", "x"}}, 1);
  batch.columns[0].present = {1, 0, 1, 0};
  ASSERT_TRUE(aggregator.add(batch).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 3);
  EXPECT_TRUE(response.groups(0).keys(0).null());
  EXPECT_EQ(response.groups(0).count(), 2u);
  EXPECT_EQ(response.groups(1).keys(0).text(), "a");
  EXPECT_EQ(response.groups(2).keys(0).text(), "b");
}

TEST(Aggregator, RejectsTooManyGroupsOnHashedIndex) {
  const AggregationPlan plan = pair_plan();
  AggregateLimits limits;
  limits.max_groups = 70'000;
  Aggregator aggregator(plan, limits);
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < 300; ++i) {
    for (int j = 0; j < 300; ++j) keys.emplace_back(name('a', i), name('b', j));
  }
  const Status status = aggregator.add(make_pair_batch(keys, 1));
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(aggregator.dense_group_index());
  EXPECT_EQ(status.error().code, Code::kResourceExhausted);
  EXPECT_EQ(status.error().reason, "TOO_MANY_GROUPS");
  EXPECT_EQ(status.error().bound, "<= 70000 groups");
}

// A group whose values are all missing still counts its records, and its
// numeric aggregates are NaN or zero.
TEST(Aggregator, GroupWithoutValues) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.5};
  AggregateSpec histogram = spec(v1::AggregateSpec::KIND_HISTOGRAM, "h");
  histogram.histogram_bounds = {0};
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_COUNT, "n"), spec(v1::AggregateSpec::KIND_SUM, "sum"),
                                   spec(v1::AggregateSpec::KIND_MEAN, "mean"), spec(v1::AggregateSpec::KIND_MIN, "min"),
                                   spec(v1::AggregateSpec::KIND_STDDEV, "sd"), quantiles, histogram});
  Aggregator aggregator(plan, AggregateLimits{});
  ColumnBatch batch = make_batch({"empty", "full", "empty"}, {5, 6, 7});
  batch.columns[1].present = {0, 1, 0};
  ASSERT_TRUE(aggregator.add(batch).ok());
  ASSERT_TRUE(aggregator.add(ColumnBatch{0, batch.columns}).ok());  // an empty batch adds nothing
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 2);
  const v1::Group& empty = response.groups(0);
  EXPECT_EQ(empty.keys(0).text(), "empty");
  EXPECT_EQ(empty.count(), 2u);
  EXPECT_EQ(empty.values(0).number(), 0);
  EXPECT_EQ(empty.values(1).number(), 0);
  EXPECT_TRUE(std::isnan(empty.values(2).number()));
  EXPECT_TRUE(std::isnan(empty.values(3).number()));
  EXPECT_TRUE(std::isnan(empty.values(4).number()));
  EXPECT_TRUE(std::isnan(empty.values(5).quantiles(0)));
  EXPECT_EQ(empty.values(6).buckets(0), 0u);
  EXPECT_EQ(empty.values(6).buckets(1), 0u);
  EXPECT_EQ(response.groups(1).values(5).quantiles(0), 6);
}

TEST(Aggregator, NoRowsGiveNoGroups) {
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_SUM, "sum")});
  Aggregator aggregator(plan, AggregateLimits{});
  ASSERT_TRUE(aggregator.add(make_batch({}, {})).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  EXPECT_EQ(response.groups_size(), 0);
}

// Two aggregators that met the keys in different orders (so their
// dictionary codes differ) merge into the result of one pass.
TEST(Aggregator, MergeMapsDifferentKeyCodes) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.5, 1};
  AggregationPlan plan = key_plan({spec(v1::AggregateSpec::KIND_COUNT, "n", AggregateSpec::kNoColumn),
                                   spec(v1::AggregateSpec::KIND_SUM, "sum"), spec(v1::AggregateSpec::KIND_MAX, "max"),
                                   quantiles});
  ColumnBatch first = make_batch({"b", "a", "", "b"}, {1, 2, 3, 4});
  first.columns[0].present = {1, 1, 0, 1};
  ColumnBatch second = make_batch({"", "c", "a", "c"}, {10, 20, 30, 40});
  second.columns[0].present = {0, 1, 1, 1};
  Aggregator left(plan, AggregateLimits{});
  Aggregator right(plan, AggregateLimits{});
  ASSERT_TRUE(left.add(first).ok());
  ASSERT_TRUE(right.add(second).ok());
  ASSERT_TRUE(left.merge(right).ok());
  EXPECT_EQ(right.group_count(), 0u);
  v1::AggregateResponse merged;
  left.finish(&merged);

  Aggregator whole(plan, AggregateLimits{});
  ASSERT_TRUE(whole.add(first).ok());
  ASSERT_TRUE(whole.add(second).ok());
  v1::AggregateResponse expected;
  whole.finish(&expected);
  ASSERT_EQ(merged.groups_size(), 4);
  EXPECT_EQ(merged.SerializeAsString(), expected.SerializeAsString());
  EXPECT_TRUE(merged.groups(0).keys(0).null());
  EXPECT_EQ(merged.groups(0).count(), 2u);
  EXPECT_EQ(merged.groups(3).keys(0).text(), "c");
  EXPECT_EQ(merged.groups(3).values(1).number(), 60);
}

// Day buckets in Berlin across the spring-forward and fall-back days: each
// row lands in the bucket that bucket_start computes (checked against glibc
// in time_zone_test.cc), whatever the order of the rows.
TEST(Aggregator, DayBucketsAcrossDaylightSavingChanges) {
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  KeySpec day{1, v1::KeyValue::kTimeMs};
  day.bucketed = true;
  day.unit = BucketUnit::kDay;
  day.time_zone = TimeZone::parse("Europe/Berlin", "tz").value();
  plan.keys.push_back(day);
  plan.aggregates = {spec(v1::AggregateSpec::KIND_COUNT, "n", AggregateSpec::kNoColumn),
                     spec(v1::AggregateSpec::KIND_SUM, "sum", 2)};

  std::vector<int64_t> dates;
  for (int64_t t = 1'711'584'000'000; t < 1'712'016'000'000; t += 17 * 60'000) dates.push_back(t);  // 2024-03-28 .. 04-02
  for (int64_t t = 1'729'728'000'000; t < 1'730'160'000'000; t += 17 * 60'000) dates.push_back(t);  // 2024-10-24 .. 10-29
  std::mt19937_64 random(9);
  std::shuffle(dates.begin(), dates.end(), random);

  std::map<std::pair<std::string, int64_t>, std::pair<uint64_t, double>> reference;
  Aggregator aggregator(plan, AggregateLimits{});
  for (size_t start = 0; start < dates.size(); start += 1000) {
    ColumnBatch batch;
    batch.columns.resize(3);
    batch.columns[0].kind = Column::Kind::kText;
    batch.columns[1].kind = Column::Kind::kInteger;
    batch.columns[2].kind = Column::Kind::kNumber;
    for (size_t i = start; i < std::min(dates.size(), start + 1000); ++i) {
      const std::string type = i % 3 == 0 ? "click" : "view";
      const double amount = static_cast<double>(i % 100);
      batch.columns[0].append_text(type);
      batch.columns[1].integers.push_back(dates[i]);
      batch.columns[2].numbers.push_back(amount);
      for (Column& column : batch.columns) column.present.push_back(1);
      auto& entry = reference[{type, bucket_start(dates[i], BucketUnit::kDay, day.time_zone)}];
      ++entry.first;
      entry.second += amount;
      ++batch.rows;
    }
    ASSERT_TRUE(aggregator.add(batch).ok());
  }
  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(static_cast<size_t>(response.groups_size()), reference.size());
  int index = 0;
  for (const auto& [key, totals] : reference) {
    const v1::Group& group = response.groups(index++);
    EXPECT_EQ(group.keys(0).text(), key.first);
    EXPECT_EQ(group.keys(1).time_ms(), key.second);
    EXPECT_EQ(group.count(), totals.first) << key.first << " " << key.second;
    EXPECT_EQ(group.values(1).number(), totals.second) << key.first << " " << key.second;
  }
  // The spring-forward day is 23 hours long and the fall-back day 25.
  EXPECT_TRUE(reference.count({"view", 1'711'839'600'000}));  // 2024-03-31 00:00 CET
  EXPECT_TRUE(reference.count({"view", 1'711'922'400'000}));  // 2024-04-01 00:00 CEST, 23 h later
  EXPECT_TRUE(reference.count({"view", 1'730'070'000'000}));  // 2024-10-28 00:00 CET, 25 h after 10-27
}

// Large groups take the histogram path of exact_quantiles, where NaN values
// still order above every number.
TEST(Aggregator, QuantilesOfLargeGroupsWithNan) {
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES, "q");
  quantiles.quantiles = {0.5, 0.9, 0.99, 1};
  AggregationPlan plan = key_plan({quantiles, spec(v1::AggregateSpec::KIND_MAX, "max")});
  std::mt19937_64 random(12);
  std::map<std::string, std::vector<double>> reference;
  Aggregator aggregator(plan, AggregateLimits{});
  for (int batch_index = 0; batch_index < 20; ++batch_index) {
    std::vector<std::string> keys;
    std::vector<double> values;
    for (int i = 0; i < 4096; ++i) {
      const std::string key = "g" + std::to_string(random() % 3);
      // Group g2 is 2% NaN: its p99 and max are NaN.
      const double value = key == "g2" && random() % 50 == 0 ? std::nan("") : std::uniform_real_distribution<double>(-1, 1)(random);
      keys.push_back(key);
      values.push_back(value);
      reference[key].push_back(value);
    }
    ASSERT_TRUE(aggregator.add(make_batch(keys, values)).ok());
  }

  v1::AggregateResponse response;
  aggregator.finish(&response);
  ASSERT_EQ(response.groups_size(), 3);
  int index = 0;
  for (auto& [key, values] : reference) {
    const v1::Group& group = response.groups(index++);
    std::sort(values.begin(), values.end(), [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); });
    for (int i = 0; i < 4; ++i) {
      const double position = quantiles.quantiles[static_cast<size_t>(i)] * static_cast<double>(values.size() - 1);
      const auto lower = static_cast<size_t>(std::floor(position));
      const double fraction = position - static_cast<double>(lower);
      double expected = values[lower];
      if (fraction > 0) expected += (values[lower + 1] - expected) * fraction;
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(group.values(0).quantiles(i))) << key << " " << i;
      } else {
        EXPECT_EQ(group.values(0).quantiles(i), expected) << key << " " << i;
      }
    }
    EXPECT_EQ(std::isnan(group.values(1).number()), key == "g2");
  }
}

TEST(TimeBucket, BucketsInFixedOffset) {
  // 1969-12-31T23:30:00Z is 1970-01-01T01:00 at +01:30.
  const int64_t date = -30 * 60'000;
  EXPECT_EQ(bucket_start(date, BucketUnit::kDay, 0), -86'400'000);
  EXPECT_EQ(bucket_start(date, BucketUnit::kDay, 90 * 60'000), -90 * 60'000);
  EXPECT_EQ(bucket_start(date, BucketUnit::kHour, 0), -3'600'000);
  // 2024-03-15T12:00Z: month starts 2024-03-01, ISO week starts Monday 2024-03-11.
  const int64_t march = 1'710'504'000'000;
  EXPECT_EQ(bucket_start(march, BucketUnit::kMonth, 0), 1'709'251'200'000);
  EXPECT_EQ(bucket_start(march, BucketUnit::kWeek, 0), 1'710'115'200'000);
  // 1969-12-31 is a Wednesday of the week starting Monday 1969-12-29.
  EXPECT_EQ(bucket_start(date, BucketUnit::kWeek, 0), -3 * 86'400'000);
  EXPECT_EQ(bucket_start(date, BucketUnit::kMonth, 0), -31LL * 86'400'000);
}

TEST(TimeBucket, ParsesOffsets) {
  EXPECT_EQ(parse_time_zone_offset("+05:30", "tz").value(), 19'800'000);
  EXPECT_EQ(parse_time_zone_offset("-08:00", "tz").value(), -28'800'000);
  EXPECT_EQ(parse_time_zone_offset("UTC", "tz").value(), 0);
  const auto bad = parse_time_zone_offset("Europe/Paris", "group_by[0].bucket.time_zone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "group_by[0].bucket.time_zone");
}

}  // namespace
}  // namespace heavylift
