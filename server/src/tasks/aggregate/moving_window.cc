#include "tasks/aggregate/moving_window.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

namespace heavylift {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Index of a hidden aggregate of `kind` over `column`, added on first use.
size_t hidden(AggregationPlan& aggregation, size_t first_hidden, v1::AggregateSpec::Kind kind, size_t column) {
  for (size_t i = first_hidden; i < aggregation.aggregates.size(); ++i) {
    if (aggregation.aggregates[i].kind == kind && aggregation.aggregates[i].column == column) return i;
  }
  AggregateSpec spec;
  spec.kind = kind;
  spec.column = column;
  spec.name = "moving window input";
  aggregation.aggregates.push_back(std::move(spec));
  return aggregation.aggregates.size() - 1;
}

// Min and max order NaN above every number, as the aggregator does.
bool less_nan_last(double a, double b) { return std::isnan(b) ? !std::isnan(a) : a < b; }

struct Moments {
  double n = 0;
  double mean = 0;
  double m2 = 0;

  void add(double count, double mean_value, double stddev) {
    if (count == 0) return;
    const double m2_value = count > 1 ? stddev * stddev * (count - 1) : 0;
    const double total = n + count;
    const double delta = mean_value - mean;
    mean += delta * count / total;
    m2 += m2_value + delta * delta * n * count / total;
    n = total;
  }
};

void combine(const MovingPlan::Item& item, const std::vector<const v1::Group*>& window, v1::AggregateValue* out) {
  const auto value = [&](const v1::Group* group, size_t index) { return group->values(static_cast<int>(index)).number(); };
  switch (item.kind) {
    case v1::AggregateSpec::KIND_COUNT: {
      double total = 0;
      for (const v1::Group* group : window) {
        total += item.count == MovingPlan::kNone ? static_cast<double>(group->count()) : value(group, item.count);
      }
      out->set_number(total);
      return;
    }
    case v1::AggregateSpec::KIND_SUM:
    case v1::AggregateSpec::KIND_MEAN: {
      double sum = 0;
      double count = 0;
      for (const v1::Group* group : window) {
        if (value(group, item.count) == 0) continue;
        count += value(group, item.count);
        sum += value(group, item.kind == v1::AggregateSpec::KIND_SUM ? item.value : item.aux);
      }
      if (item.kind == v1::AggregateSpec::KIND_SUM) out->set_number(sum);
      else out->set_number(count == 0 ? kNaN : sum / count);
      return;
    }
    case v1::AggregateSpec::KIND_MIN:
    case v1::AggregateSpec::KIND_MAX: {
      bool any = false;
      double best = kNaN;
      for (const v1::Group* group : window) {
        if (value(group, item.count) == 0) continue;
        const double candidate = value(group, item.value);
        if (!any) best = candidate;
        else if (item.kind == v1::AggregateSpec::KIND_MIN ? less_nan_last(candidate, best) : less_nan_last(best, candidate))
          best = candidate;
        any = true;
      }
      out->set_number(best);
      return;
    }
    case v1::AggregateSpec::KIND_STDDEV: {
      Moments moments;
      for (const v1::Group* group : window) moments.add(value(group, item.count), value(group, item.aux), value(group, item.value));
      out->set_number(moments.n > 1 ? std::sqrt(moments.m2 / (moments.n - 1)) : kNaN);
      return;
    }
    case v1::AggregateSpec::KIND_HISTOGRAM: {
      for (const v1::Group* group : window) {
        const auto& buckets = group->values(static_cast<int>(item.value)).buckets();
        if (out->buckets_size() == 0) out->mutable_buckets()->Resize(buckets.size(), 0);
        for (int i = 0; i < buckets.size() && i < out->buckets_size(); ++i) out->set_buckets(i, out->buckets(i) + buckets[i]);
      }
      return;
    }
    default: return;
  }
}

}  // namespace

Result<MovingPlan> plan_moving_window(const v1::AggregateRequest& request, AggregationPlan& aggregation) {
  const v1::MovingWindow& moving = request.moving();
  MovingPlan plan;

  if (moving.group_key() >= aggregation.keys.size() || !aggregation.keys[moving.group_key()].bucketed) {
    std::string bucketed;
    for (size_t i = 0; i < aggregation.keys.size(); ++i) {
      if (aggregation.keys[i].bucketed) bucketed += (bucketed.empty() ? "" : ", ") + std::to_string(i);
    }
    return Error::invalid("moving.group_key", "NOT_A_BUCKETED_KEY",
                          fmt::format("moving.group_key must be the index of a group_by entry with a bucket ({}), got {}",
                                      bucketed.empty() ? "the request has none" : "one of " + bucketed,
                                      moving.group_key()),
                          bucketed.empty() ? "a bucketed group_by index" : "one of " + bucketed,
                          std::to_string(moving.group_key()));
  }
  if (moving.buckets() < 2 || moving.buckets() > kMaxMovingBuckets) {
    return Error::out_of_range("moving.buckets", fmt::format("in 2..{}", kMaxMovingBuckets), std::to_string(moving.buckets()));
  }

  const KeySpec& key = aggregation.keys[moving.group_key()];
  plan.key = moving.group_key();
  plan.buckets = moving.buckets();
  plan.unit = key.unit;
  plan.time_zone = key.time_zone;
  plan.requested_values = aggregation.aggregates.size();

  // Each aggregate combines over the window from per-bucket partials, some of
  // them hidden aggregates the plan adds (a mean needs the count and the sum).
  for (size_t i = 0; i < plan.requested_values; ++i) {
    const AggregateSpec spec = aggregation.aggregates[i];
    MovingPlan::Item item;
    item.kind = spec.kind;
    item.value = i;
    switch (spec.kind) {
      case v1::AggregateSpec::KIND_COUNT:
        if (spec.column != AggregateSpec::kNoColumn) item.count = i;
        break;
      case v1::AggregateSpec::KIND_SUM:
      case v1::AggregateSpec::KIND_MIN:
      case v1::AggregateSpec::KIND_MAX:
        item.count = hidden(aggregation, plan.requested_values, v1::AggregateSpec::KIND_COUNT, spec.column);
        break;
      case v1::AggregateSpec::KIND_MEAN:
        item.count = hidden(aggregation, plan.requested_values, v1::AggregateSpec::KIND_COUNT, spec.column);
        item.aux = hidden(aggregation, plan.requested_values, v1::AggregateSpec::KIND_SUM, spec.column);
        break;
      case v1::AggregateSpec::KIND_STDDEV:
        item.count = hidden(aggregation, plan.requested_values, v1::AggregateSpec::KIND_COUNT, spec.column);
        item.aux = hidden(aggregation, plan.requested_values, v1::AggregateSpec::KIND_MEAN, spec.column);
        break;
      case v1::AggregateSpec::KIND_HISTOGRAM: break;
      default:
        return Error::invalid(fmt::format("aggregates[{}].kind", i), "NOT_MOVABLE",
                              fmt::format("aggregates[{}] is {}; a moving window combines count, sum, mean, min, max, "
                                          "stddev and histogram aggregates, so drop `moving` or that aggregate",
                                          i, v1::AggregateSpec::Kind_Name(spec.kind)),
                              "count, sum, mean, min, max, stddev or histogram", v1::AggregateSpec::Kind_Name(spec.kind));
    }
    plan.items.push_back(item);
  }
  return plan;
}

void apply_moving_window(const MovingPlan& plan, v1::AggregateResponse* response) {
  // Series by the serialized keys other than the bucketed one; each contains
  // (bucket ordinal, group index) pairs.
  std::unordered_map<std::string, std::vector<std::pair<int64_t, int>>> series;
  for (int g = 0; g < response->groups_size(); ++g) {
    const v1::Group& group = response->groups(g);
    const v1::KeyValue& bucket = group.keys(static_cast<int>(plan.key));
    if (bucket.null() || bucket.value_case() != v1::KeyValue::kTimeMs) continue;
    std::string id;
    for (int k = 0; k < group.keys_size(); ++k) {
      if (k == static_cast<int>(plan.key)) continue;
      const std::string part = group.keys(k).SerializeAsString();
      id += std::to_string(part.size()) + ':' + part;
    }
    series[id].emplace_back(bucket_ordinal(bucket.time_ms(), plan.unit, plan.time_zone), g);
  }
  std::vector<const v1::Group*> window;
  for (auto& [id, members] : series) {
    std::sort(members.begin(), members.end());
    size_t first = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      while (members[first].first <= members[i].first - static_cast<int64_t>(plan.buckets)) ++first;
      window.clear();
      uint64_t records = 0;
      for (size_t j = first; j <= i; ++j) {
        window.push_back(&response->groups(members[j].second));
        records += window.back()->count();
      }
      v1::Group* group = response->mutable_groups(members[i].second);
      group->set_moving_count(records);
      for (const MovingPlan::Item& item : plan.items) {
        v1::AggregateValue* out = group->add_moving_values();
        out->set_name(group->values(static_cast<int>(item.value)).name());
        combine(item, window, out);
      }
    }
  }
  for (v1::Group& group : *response->mutable_groups()) {
    while (static_cast<size_t>(group.values_size()) > plan.requested_values) group.mutable_values()->RemoveLast();
  }
}

}  // namespace heavylift
