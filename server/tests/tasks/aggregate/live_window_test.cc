#include "tasks/aggregate/live_window.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "tasks/aggregate/live_stream.h"
#include "tasks/aggregate/quantile_sketch.h"

namespace heavylift {
namespace {

v1::AggregateSpec aggregate(v1::AggregateSpec::Kind kind, const std::string& field, const std::string& name) {
  v1::AggregateSpec out;
  out.set_kind(kind);
  out.set_field(field);
  out.set_name(name);
  return out;
}

v1::LiveSpec base_spec(int64_t window_ms, int64_t slide_ms, int64_t lateness_ms) {
  v1::LiveSpec spec;
  spec.add_group_by("region");
  spec.set_window_ms(window_ms);
  spec.set_slide_ms(slide_ms);
  spec.set_allowed_lateness_ms(lateness_ms);
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_COUNT, "", "count");
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_SUM, "amount", "sum");
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_MEAN, "amount", "mean");
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_MIN, "amount", "min");
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_MAX, "amount", "max");
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_STDDEV, "amount", "stddev");
  v1::AggregateSpec quantiles = aggregate(v1::AggregateSpec::KIND_QUANTILES, "amount", "q");
  quantiles.add_quantiles(0.5);
  quantiles.add_quantiles(0.9);
  *spec.add_aggregates() = quantiles;
  *spec.add_aggregates() = aggregate(v1::AggregateSpec::KIND_DISTINCT_COUNT, "user", "users");
  v1::AggregateSpec top = aggregate(v1::AggregateSpec::KIND_TOP_K, "user", "top");
  top.set_k(2);
  *spec.add_aggregates() = top;
  v1::AggregateSpec histogram = aggregate(v1::AggregateSpec::KIND_HISTOGRAM, "amount", "histogram");
  histogram.add_histogram_bounds(10);
  histogram.add_histogram_bounds(50);
  *spec.add_aggregates() = histogram;
  return spec;
}

struct Event {
  int64_t time;
  std::string region;
  std::string user;
  double amount;
};

v1::LiveEvent to_proto(const Event& event) {
  v1::LiveEvent out;
  out.set_time_ms(event.time);
  (*out.mutable_labels())["region"] = event.region;
  (*out.mutable_labels())["user"] = event.user;
  (*out.mutable_numbers())["amount"] = event.amount;
  return out;
}

double exact_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

TEST(LiveWindows, SlidingWindowsMatchAReference) {
  // 10 s windows every 2 s, events up to 3 s out of order, 1 s lateness.
  auto created = LiveWindows::create(base_spec(10'000, 2'000, 1'000), LiveLimits{});
  ASSERT_TRUE(created.ok()) << created.error().message;
  LiveWindows& windows = *created.value();
  std::mt19937_64 random(3);
  std::vector<Event> events;
  for (int i = 0; i < 3000; ++i) {
    const int64_t time = 1'700'000'000'000 + i * 20 - static_cast<int64_t>(random() % 3000);
    events.push_back({time, random() % 3 == 0 ? "eu" : "us", "u" + std::to_string(random() % 40),
                      static_cast<double>(random() % 10000) / 100});
  }
  std::vector<v1::LiveWindow> published;
  const auto publish = [&](v1::LiveWindow& window) { published.push_back(window); };
  // The reference keeps what the windows accepted: an event is late when a
  // window that contains it was published before it arrived.
  std::vector<Event> accepted;
  int64_t closed_before = INT64_MIN;
  for (size_t i = 0; i < events.size(); ++i) {
    const size_t before = published.size();
    ASSERT_TRUE(windows.add(to_proto(events[i]), "events[" + std::to_string(i) + "]", publish).ok());
    if (events[i].time >= closed_before) accepted.push_back(events[i]);
    for (size_t w = before; w < published.size(); ++w) closed_before = std::max(closed_before, published[w].end_ms());
  }
  windows.flush(publish);
  const LiveCounters& counters = windows.counters();
  EXPECT_EQ(counters.events_received, events.size());
  EXPECT_EQ(counters.events_late, events.size() - accepted.size());
  EXPECT_GT(counters.events_late, 0u);
  EXPECT_EQ(counters.windows_published, published.size());
  ASSERT_GT(published.size(), 20u);

  for (size_t w = 0; w < published.size(); ++w) {
    const v1::LiveWindow& window = published[w];
    EXPECT_EQ(window.end_ms() - window.start_ms(), 10'000);
    if (w > 0) {
      EXPECT_EQ(window.end_ms() - published[w - 1].end_ms(), 2000);
    }
    std::map<std::string, std::vector<const Event*>> groups;
    uint64_t in_window = 0;
    for (const Event& event : accepted) {
      if (event.time < window.start_ms() || event.time >= window.end_ms()) continue;
      groups[event.region].push_back(&event);
      ++in_window;
    }
    EXPECT_EQ(window.events(), in_window);
    ASSERT_EQ(static_cast<size_t>(window.groups_size()), groups.size());
    int g = 0;
    for (const auto& [region, members] : groups) {
      const v1::Group& group = window.groups(g++);
      EXPECT_EQ(group.keys(0).text(), region);
      std::vector<double> amounts;
      std::map<std::string, uint64_t> users;
      for (const Event* event : members) {
        amounts.push_back(event->amount);
        ++users[event->user];
      }
      double sum = 0;
      for (const double amount : amounts) sum += amount;
      const double mean = sum / static_cast<double>(amounts.size());
      double squares = 0;
      for (const double amount : amounts) squares += (amount - mean) * (amount - mean);
      EXPECT_EQ(group.count(), members.size());
      EXPECT_EQ(group.values(0).number(), static_cast<double>(members.size()));
      EXPECT_NEAR(group.values(1).number(), sum, 1e-9 * sum);
      EXPECT_NEAR(group.values(2).number(), mean, 1e-9 * mean);
      EXPECT_EQ(group.values(3).number(), *std::min_element(amounts.begin(), amounts.end()));
      EXPECT_EQ(group.values(4).number(), *std::max_element(amounts.begin(), amounts.end()));
      if (amounts.size() > 1) {
        EXPECT_NEAR(group.values(5).number(), std::sqrt(squares / static_cast<double>(amounts.size() - 1)), 1e-9 * mean);
      }
      for (int q = 0; q < 2; ++q) {
        const double expected = exact_quantile(amounts, q == 0 ? 0.5 : 0.9);
        EXPECT_NEAR(group.values(6).quantiles(q), expected, 0.0101 * std::abs(expected)) << "quantile " << q;
      }
      // 40 users at most: HyperLogLog's linear counting is exact here.
      EXPECT_EQ(group.values(7).number(), static_cast<double>(users.size()));
      std::vector<std::pair<std::string, uint64_t>> top(users.begin(), users.end());
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
      ASSERT_EQ(group.values(8).top_size(), static_cast<int>(std::min<size_t>(2, top.size())));
      EXPECT_EQ(group.values(8).top(0).value(), top[0].first);
      EXPECT_EQ(group.values(8).top(0).count(), top[0].second);
      uint64_t histogram[3] = {0, 0, 0};
      for (const double amount : amounts) {
        if (amount <= 10) {
          ++histogram[0];
        } else if (amount <= 50) {
          ++histogram[1];
        } else {
          ++histogram[2];
        }
      }
      for (int b = 0; b < 3; ++b) EXPECT_EQ(group.values(9).buckets(b), histogram[b]);
    }
  }
}

TEST(LiveWindows, LateEventsAreDroppedAfterTheirWindowCloses) {
  auto created = LiveWindows::create(base_spec(1'000, 1'000, 500), LiveLimits{});
  ASSERT_TRUE(created.ok());
  LiveWindows& windows = *created.value();
  std::vector<v1::LiveWindow> published;
  const auto publish = [&](v1::LiveWindow& window) { published.push_back(window); };
  ASSERT_TRUE(windows.add(to_proto({100, "eu", "a", 1}), "e", publish).ok());
  ASSERT_TRUE(windows.add(to_proto({1'400, "eu", "a", 1}), "e", publish).ok());
  EXPECT_TRUE(published.empty());  // [0, 1000) waits until 1500
  ASSERT_TRUE(windows.add(to_proto({900, "eu", "a", 1}), "e", publish).ok());  // 500 ms late: counted
  ASSERT_TRUE(windows.add(to_proto({1'500, "eu", "a", 1}), "e", publish).ok());
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].events(), 2u);
  ASSERT_TRUE(windows.add(to_proto({999, "eu", "a", 1}), "e", publish).ok());  // its window is closed
  EXPECT_EQ(windows.counters().events_late, 1u);
  windows.flush(publish);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].start_ms(), 1'000);
  EXPECT_EQ(published[1].events(), 2u);
}

TEST(LiveWindows, GroupLimitDropsAndCountsEvents) {
  v1::LiveSpec spec = base_spec(1'000, 1'000, 0);
  spec.set_max_groups(2);
  auto created = LiveWindows::create(spec, LiveLimits{});
  ASSERT_TRUE(created.ok());
  std::vector<v1::LiveWindow> published;
  const auto publish = [&](v1::LiveWindow& window) { published.push_back(window); };
  for (const char* region : {"eu", "us", "ap", "eu"}) {
    ASSERT_TRUE(created.value()->add(to_proto({10, region, "a", 1}), "e", publish).ok());
  }
  created.value()->flush(publish);
  EXPECT_EQ(created.value()->counters().events_over_group_limit, 1u);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].groups_size(), 2);
}

TEST(LiveWindows, RejectsSpecsNamingFieldBoundAndValue) {
  struct Case {
    v1::LiveSpec spec;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({base_spec(10'000, 3'000, 0), "spec.slide_ms"});
  cases.push_back({base_spec(0, 1, 0), "spec.window_ms"});
  cases.push_back({base_spec(1'000'000, 100, 0), "spec.slide_ms"});
  cases.push_back({base_spec(10'000, 1'000, 20'000), "spec.allowed_lateness_ms"});
  v1::LiveSpec correlation = base_spec(10'000, 1'000, 0);
  correlation.mutable_aggregates(1)->set_kind(v1::AggregateSpec::KIND_CORRELATION);
  cases.push_back({correlation, "spec.aggregates[1].kind"});
  v1::LiveSpec too_large = base_spec(60'000, 1'000, 0);
  too_large.set_max_groups(10'000);
  cases.push_back({too_large, "spec.max_groups"});
  for (const Case& c : cases) {
    auto created = LiveWindows::create(c.spec, LiveLimits{});
    ASSERT_FALSE(created.ok()) << c.field;
    EXPECT_EQ(created.error().code, Code::kInvalidArgument) << c.field;
    EXPECT_EQ(created.error().field, c.field);
    EXPECT_FALSE(created.error().bound.empty()) << c.field;
    EXPECT_FALSE(created.error().value.empty()) << c.field;
  }
}

TEST(LiveWindows, MemoryBoundIsStatedAndEnforced) {
  v1::LiveSpec spec = base_spec(10'000, 1'000, 1'000);
  spec.set_max_groups(10);
  auto created = LiveWindows::create(spec, LiveLimits{});
  ASSERT_TRUE(created.ok());
  const uint64_t bound = created.value()->memory_bound_bytes();
  EXPECT_GT(bound, 0u);
  LiveLimits tight;
  tight.max_memory_bytes = bound - 1;
  auto rejected = LiveWindows::create(spec, tight);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().bound, fmt::format("<= {} bytes of window state", bound - 1));
}

TEST(QuantileSketch, StaysWithinOnePercentAndMerges) {
  std::mt19937_64 random(5);
  // About 800 buckets per sign: inside the bound, so every quantile is within 1%.
  std::lognormal_distribution<double> distribution(0, 2);
  std::vector<double> values;
  QuantileSketch whole;
  QuantileSketch parts[4];
  for (int i = 0; i < 20'000; ++i) {
    const double value = (i % 7 == 0 ? -1 : 1) * distribution(random);
    values.push_back(value);
    whole.add(value);
    parts[i % 4].add(value);
  }
  for (int i = 1; i < 4; ++i) parts[0].merge(parts[i]);
  for (const double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0}) {
    const double expected = exact_quantile(values, q);
    EXPECT_NEAR(whole.quantile(q), expected, 0.0101 * std::abs(expected)) << q;
    EXPECT_EQ(parts[0].quantile(q), whole.quantile(q)) << q;
  }
  EXPECT_TRUE(std::isnan(QuantileSketch().quantile(0.5)));
}

TEST(QuantileSketch, CollapsesLowestBucketsPastTheBound) {
  // Magnitudes from 1e-30 to 1e30: far more buckets than the bound, so the
  // smallest ones merge but high quantiles stay within 1%.
  QuantileSketch sketch;
  std::vector<double> values;
  for (int i = 0; i < 6000; ++i) {
    const double value = std::pow(10.0, -30 + 60.0 * i / 5999);
    values.push_back(value);
    sketch.add(value);
  }
  for (const double q : {0.9, 0.99, 1.0}) {
    const double expected = exact_quantile(values, q);
    EXPECT_NEAR(sketch.quantile(q), expected, 0.0101 * expected) << q;
  }
  EXPECT_EQ(sketch.count(), 6000u);
}

TEST(LiveStream, WindowJsonNamesValuesAndNullsNaN) {
  v1::LiveWindow window;
  window.set_start_ms(1000);
  window.set_end_ms(2000);
  window.set_events(1);
  v1::Group* group = window.add_groups();
  group->add_keys()->set_null(true);
  group->set_count(1);
  v1::AggregateValue* value = group->add_values();
  value->set_name("stddev");
  value->set_number(std::nan(""));
  EXPECT_EQ(live_window_json(window),
            R"({"end":2000,"events":1,"groups":[{"count":1,"keys":[null],"values":{"stddev":null}}],"start":1000})");
}

}  // namespace
}  // namespace heavylift
