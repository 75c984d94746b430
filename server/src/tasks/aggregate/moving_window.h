// Moving windows over time buckets: for each group of a finished
// aggregation, the aggregates of the N consecutive buckets of one bucketed
// key that end at the group's bucket, among the groups whose other keys are
// equal (a series). Computed from the per-bucket results, so it combines
// only aggregates that partial results determine exactly: count, sum, mean,
// min, max, stddev (Chan's formula over per-bucket count, mean and stddev)
// and histograms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "heavylift/v1/aggregate.pb.h"
#include "tasks/aggregate/aggregator.h"

namespace heavylift {

constexpr uint32_t kMaxMovingBuckets = 1000;

struct MovingPlan {
  // Index of the bucketed key in each group's keys.
  size_t key = 0;
  uint32_t buckets = 0;
  BucketUnit unit = BucketUnit::kDay;
  TimeZone time_zone;
  // One per requested aggregate, in request order. `count` indexes the
  // field's value count among the group's values, `aux` the field's sum
  // (for a mean) or mean (for a stddev); kNone when unused.
  static constexpr size_t kNone = static_cast<size_t>(-1);
  struct Item {
    v1::AggregateSpec::Kind kind = v1::AggregateSpec::KIND_COUNT;
    size_t value = 0;
    size_t count = kNone;
    size_t aux = kNone;
  };
  std::vector<Item> items;
  // Values of the request's own aggregates; the ones after them were added
  // for the window and are removed from the response.
  size_t requested_values = 0;
};

// Checks `request.moving` against the request and adds to `aggregation` the
// hidden aggregates the window needs. Errors name the request field.
Result<MovingPlan> plan_moving_window(const v1::AggregateRequest& request, AggregationPlan& aggregation);

// Fills moving_values and moving_count of every group, then drops the hidden
// values.
void apply_moving_window(const MovingPlan& plan, v1::AggregateResponse* response);

}  // namespace heavylift
