// A small Prometheus registry: counters, gauges and histograms with labels,
// rendered in the Prometheus text exposition format (version 0.0.4).
//
// Thread-safety: every method of every class here may be called from any
// thread. Metric objects live as long as the Metrics registry that made them,
// so callers may keep references to them.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace heavylift {

// Label names and values of one time series, for example {{"task", "image.thumbnail"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `upper_bounds` must be sorted ascending; +Inf is added implicitly.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> bucket_counts_;  // non-cumulative, one extra for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Latency buckets in seconds, from 1 ms to 60 s.
std::vector<double> latency_buckets_seconds();

class Metrics {
 public:
  // Returns the series of `name` with `labels`, creating it on first use.
  // A name keeps the type and help text of its first registration.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& upper_bounds, const Labels& labels = {});

  // Registers a gauge whose value is read by calling `read` at each scrape.
  // `read` must stay callable for the registry's lifetime.
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> read);

  // Renders every series in the Prometheus text format.
  std::string render() const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> callback;
  };
  Family& family(const std::string& name, const std::string& type, const std::string& help);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Renders labels as `{a="x",b="y"}` with Prometheus escaping, or "" when empty.
std::string render_labels(const Labels& labels);

}  // namespace heavylift
