#include "tasks/aggregate/moving_window.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace heavylift {
namespace {

constexpr int64_t kDayMs = 86'400'000;

AggregateSpec spec(v1::AggregateSpec::Kind kind, size_t column = 2) {
  AggregateSpec out;
  out.kind = kind;
  out.name = v1::AggregateSpec::Kind_Name(kind);
  out.column = column;
  if (kind == v1::AggregateSpec::KIND_HISTOGRAM) out.histogram_bounds = {10, 50};
  return out;
}

struct Row {
  std::string user;
  int64_t at;
  double amount;
  bool has_amount;
};

// Columns: 0 user (text), 1 at (date), 2 amount (number).
ColumnBatch make_batch(const std::vector<Row>& rows) {
  ColumnBatch batch;
  batch.rows = rows.size();
  batch.columns.resize(3);
  batch.columns[0].kind = Column::Kind::kText;
  batch.columns[1].kind = Column::Kind::kInteger;
  batch.columns[2].kind = Column::Kind::kNumber;
  for (const Row& row : rows) {
    batch.columns[0].append_text(row.user);
    batch.columns[0].present.push_back(1);
    batch.columns[1].integers.push_back(row.at);
    batch.columns[1].present.push_back(1);
    batch.columns[2].numbers.push_back(row.amount);
    batch.columns[2].present.push_back(row.has_amount ? 1 : 0);
  }
  return batch;
}

// A reference computed from the rows: for the window of `days` Berlin days
// ending at `day_start`, every value of `user`.
std::vector<double> window_values(const std::vector<Row>& rows, const std::string& user, int64_t day_start, int days,
                                  const TimeZone& zone, size_t* records) {
  std::vector<double> out;
  *records = 0;
  const int64_t last = bucket_ordinal(day_start, BucketUnit::kDay, zone);
  for (const Row& row : rows) {
    const int64_t ordinal = bucket_ordinal(bucket_start(row.at, BucketUnit::kDay, zone), BucketUnit::kDay, zone);
    if (row.user != user || ordinal > last || ordinal <= last - days) continue;
    ++*records;
    if (row.has_amount) out.push_back(row.amount);
  }
  return out;
}

TEST(MovingWindow, SevenDayWindowsOverBerlinDaysMatchAReference) {
  const TimeZone berlin = TimeZone::parse("Europe/Berlin", "tz").value();
  // Random events over March and April 2024, across the switch to summer
  // time, with gaps of several days and some missing amounts.
  std::mt19937_64 random(7);
  std::vector<Row> rows;
  const int64_t start = 1'709'251'200'000;  // 2024-03-01T00:00Z
  for (int i = 0; i < 600; ++i) {
    const int64_t at = start + static_cast<int64_t>(random() % (61 * kDayMs));
    if ((at / kDayMs) % 9 == 4) continue;  // days without records
    rows.push_back({random() % 2 ? "ann" : "bob", at, static_cast<double>(random() % 1000) / 10, random() % 10 != 0});
  }
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  KeySpec day{1, v1::KeyValue::kTimeMs};
  day.bucketed = true;
  day.unit = BucketUnit::kDay;
  day.time_zone = berlin;
  plan.keys.push_back(day);
  plan.aggregates = {spec(v1::AggregateSpec::KIND_COUNT, AggregateSpec::kNoColumn), spec(v1::AggregateSpec::KIND_SUM),
                     spec(v1::AggregateSpec::KIND_MEAN), spec(v1::AggregateSpec::KIND_MIN),
                     spec(v1::AggregateSpec::KIND_MAX), spec(v1::AggregateSpec::KIND_STDDEV),
                     spec(v1::AggregateSpec::KIND_HISTOGRAM)};
  v1::AggregateRequest request;
  request.mutable_moving()->set_group_key(1);
  request.mutable_moving()->set_buckets(7);
  auto moving = plan_moving_window(request, plan);
  ASSERT_TRUE(moving.ok()) << moving.error().message;
  Aggregator aggregator(plan, AggregateLimits{});
  ASSERT_TRUE(aggregator.add(make_batch(rows)).ok());
  v1::AggregateResponse response;
  aggregator.finish(&response);
  apply_moving_window(moving.value(), &response);

  ASSERT_GT(response.groups_size(), 60);
  for (const v1::Group& group : response.groups()) {
    ASSERT_EQ(group.values_size(), 7);  // the hidden inputs are dropped
    ASSERT_EQ(group.moving_values_size(), 7);
    size_t records = 0;
    const std::vector<double> values = window_values(rows, group.keys(0).text(), group.keys(1).time_ms(), 7, berlin, &records);
    ASSERT_FALSE(values.empty());
    double sum = 0;
    double min = values[0];
    double max = values[0];
    std::vector<uint64_t> histogram(3, 0);
    for (const double v : values) {
      sum += v;
      min = std::min(min, v);
      max = std::max(max, v);
      if (v <= 10) {
        ++histogram[0];
      } else if (v <= 50) {
        ++histogram[1];
      } else {
        ++histogram[2];
      }
    }
    const double mean = sum / static_cast<double>(values.size());
    double squares = 0;
    for (const double v : values) squares += (v - mean) * (v - mean);
    EXPECT_EQ(group.moving_count(), records);
    EXPECT_EQ(group.moving_values(0).number(), static_cast<double>(records));
    EXPECT_NEAR(group.moving_values(1).number(), sum, 1e-9 * std::abs(sum));
    EXPECT_NEAR(group.moving_values(2).number(), mean, 1e-9 * std::abs(mean));
    EXPECT_EQ(group.moving_values(3).number(), min);
    EXPECT_EQ(group.moving_values(4).number(), max);
    if (values.size() > 1) {
      EXPECT_NEAR(group.moving_values(5).number(), std::sqrt(squares / static_cast<double>(values.size() - 1)), 1e-9);
    } else {
      EXPECT_TRUE(std::isnan(group.moving_values(5).number()));
    }
    ASSERT_EQ(group.moving_values(6).buckets_size(), 3);
    for (int b = 0; b < 3; ++b) EXPECT_EQ(group.moving_values(6).buckets(b), histogram[static_cast<size_t>(b)]);
    EXPECT_EQ(group.moving_values(1).name(), group.values(1).name());
  }
}

TEST(MovingWindow, RejectsBadRequestsNamingTheField) {
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  KeySpec day{1, v1::KeyValue::kTimeMs};
  day.bucketed = true;
  plan.keys.push_back(day);
  plan.aggregates = {spec(v1::AggregateSpec::KIND_SUM)};
  v1::AggregateRequest request;
  request.mutable_moving()->set_group_key(0);
  request.mutable_moving()->set_buckets(7);
  auto not_bucketed = plan_moving_window(request, plan);
  ASSERT_FALSE(not_bucketed.ok());
  EXPECT_EQ(not_bucketed.error().field, "moving.group_key");
  EXPECT_EQ(not_bucketed.error().bound, "one of 1");

  request.mutable_moving()->set_group_key(1);
  request.mutable_moving()->set_buckets(1001);
  auto too_long = plan_moving_window(request, plan);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().field, "moving.buckets");
  EXPECT_EQ(too_long.error().value, "1001");

  request.mutable_moving()->set_buckets(7);
  AggregateSpec quantiles = spec(v1::AggregateSpec::KIND_QUANTILES);
  quantiles.quantiles = {0.5};
  plan.aggregates.push_back(quantiles);
  auto not_movable = plan_moving_window(request, plan);
  ASSERT_FALSE(not_movable.ok());
  EXPECT_EQ(not_movable.error().field, "aggregates[1].kind");
  EXPECT_EQ(not_movable.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace heavylift
