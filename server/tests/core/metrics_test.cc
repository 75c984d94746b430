#include "core/metrics.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(Metrics, CounterRendersWithLabels) {
  Metrics metrics;
  metrics.counter("requests_total", "Requests.", {{"task", "image.thumbnail"}, {"code", "OK"}}).inc();
  metrics.counter("requests_total", "Requests.", {{"task", "image.thumbnail"}, {"code", "OK"}}).inc(2);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("# HELP requests_total Requests.\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("requests_total{task=\"image.thumbnail\",code=\"OK\"} 3\n"), std::string::npos);
}

TEST(Metrics, SameSeriesIsSameObject) {
  Metrics metrics;
  Counter& first = metrics.counter("c", "C.", {{"a", "1"}});
  Counter& second = metrics.counter("c", "C.", {{"a", "1"}});
  EXPECT_EQ(&first, &second);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics metrics;
  Histogram& histogram = metrics.histogram("latency_seconds", "Latency.", {0.1, 1.0}, {{"task", "t"}});
  histogram.observe(0.05);
  histogram.observe(0.5);
  histogram.observe(5.0);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("latency_seconds_bucket{task=\"t\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{task=\"t\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{task=\"t\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count{task=\"t\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_sum{task=\"t\"} 5.55\n"), std::string::npos);
}

TEST(Metrics, ValueOnBucketBoundaryCountsInThatBucket) {
  Histogram histogram({1.0, 2.0});
  histogram.observe(1.0);
  const auto snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative_counts[0], 1u);
}

TEST(Metrics, GaugeCallbackIsReadAtRender) {
  Metrics metrics;
  double depth = 3;
  metrics.gauge_callback("queue_depth", "Depth.", [&depth] { return depth; });
  EXPECT_NE(metrics.render().find("queue_depth 3\n"), std::string::npos);
  depth = 7;
  EXPECT_NE(metrics.render().find("queue_depth 7\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(render_labels({{"path", "a\"b\\c\nd"}}), "{path=\"a\\\"b\\\\c\\nd\"}");
}

}  // namespace
}  // namespace heavylift
