#include "tasks/aggregate/live_window.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/hyperloglog.h"
#include "tasks/aggregate/quantile_sketch.h"

namespace heavylift {
namespace {

using Kind = v1::AggregateSpec::Kind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxGroupBy = 8;
constexpr size_t kMaxAggregates = 32;
constexpr size_t kMaxQuantiles = 64;
constexpr size_t kMaxHistogramBounds = 256;
constexpr uint32_t kMaxTopK = 64;
// Estimated bytes of a group before its accumulators, and of one top-k
// counter before its value.
constexpr uint64_t kGroupBytes = 160;
constexpr uint64_t kTopKEntryBytes = 64;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_label_kind(Kind kind) { return kind == v1::AggregateSpec::KIND_DISTINCT_COUNT || kind == v1::AggregateSpec::KIND_TOP_K; }

// Orders NaN above every number, as the Aggregate RPC does.
bool less_nan_last(double a, double b) { return std::isnan(b) ? !std::isnan(a) : a < b; }

std::string kind_label(Kind kind) {
  std::string name = v1::AggregateSpec::Kind_Name(kind);
  name = name.size() > 5 ? name.substr(5) : name;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

Status check_spec_shape(const v1::LiveSpec& spec, const LiveLimits& limits) {
  if (spec.window_ms() <= 0 || spec.window_ms() > limits.max_window_ms) {
    return Error::out_of_range("spec.window_ms", fmt::format("in 1..{} ms", limits.max_window_ms),
                               std::to_string(spec.window_ms()));
  }
  if (spec.slide_ms() <= 0 || spec.slide_ms() > spec.window_ms() || spec.window_ms() % spec.slide_ms() != 0) {
    return Error::out_of_range("spec.slide_ms", fmt::format("a divisor of spec.window_ms ({})", spec.window_ms()),
                               std::to_string(spec.slide_ms()));
  }
  if (spec.window_ms() / spec.slide_ms() > limits.max_panes) {
    return Error::out_of_range("spec.slide_ms",
                               fmt::format(">= spec.window_ms / {} = {} ms", limits.max_panes,
                                           (spec.window_ms() + limits.max_panes - 1) / limits.max_panes),
                               std::to_string(spec.slide_ms()));
  }
  if (spec.allowed_lateness_ms() < 0 || spec.allowed_lateness_ms() > spec.window_ms()) {
    return Error::out_of_range("spec.allowed_lateness_ms", fmt::format("in 0..spec.window_ms ({})", spec.window_ms()),
                               std::to_string(spec.allowed_lateness_ms()));
  }
  if (spec.max_groups() > limits.max_groups) {
    return Error::out_of_range("spec.max_groups", fmt::format("<= {}", limits.max_groups), std::to_string(spec.max_groups()));
  }
  if (static_cast<size_t>(spec.group_by_size()) > kMaxGroupBy) {
    return Error::out_of_range("spec.group_by", fmt::format("at most {} labels", kMaxGroupBy),
                               fmt::format("{} labels", spec.group_by_size()));
  }
  for (int i = 0; i < spec.group_by_size(); ++i) {
    if (spec.group_by(i).empty()) {
      return Error::invalid(fmt::format("spec.group_by[{}]", i), "EMPTY", fmt::format("spec.group_by[{}] must name a label", i),
                            "a label name", "");
    }
  }
  if (spec.aggregates().empty() || static_cast<size_t>(spec.aggregates_size()) > kMaxAggregates) {
    return Error::out_of_range("spec.aggregates", fmt::format("1..{} entries", kMaxAggregates),
                               fmt::format("{} entries", spec.aggregates_size()));
  }
  return Status::Ok();
}

Status check_aggregate(const v1::AggregateSpec& aggregate, int index) {
  const std::string prefix = fmt::format("spec.aggregates[{}]", index);
  switch (aggregate.kind()) {
    case v1::AggregateSpec::KIND_COUNT: return Status::Ok();
    case v1::AggregateSpec::KIND_SUM:
    case v1::AggregateSpec::KIND_MEAN:
    case v1::AggregateSpec::KIND_MIN:
    case v1::AggregateSpec::KIND_MAX:
    case v1::AggregateSpec::KIND_STDDEV:
    case v1::AggregateSpec::KIND_DISTINCT_COUNT: break;
    case v1::AggregateSpec::KIND_QUANTILES:
      if (aggregate.quantiles().empty() || static_cast<size_t>(aggregate.quantiles_size()) > kMaxQuantiles) {
        return Error::out_of_range(prefix + ".quantiles", fmt::format("1..{} entries", kMaxQuantiles),
                                   fmt::format("{} entries", aggregate.quantiles_size()));
      }
      for (const double q : aggregate.quantiles()) {
        if (!(q >= 0 && q <= 1)) return Error::out_of_range(prefix + ".quantiles", "in [0, 1]", fmt::format("{}", q));
      }
      break;
    case v1::AggregateSpec::KIND_HISTOGRAM:
      if (aggregate.histogram_bounds().empty() ||
          static_cast<size_t>(aggregate.histogram_bounds_size()) > kMaxHistogramBounds) {
        return Error::out_of_range(prefix + ".histogram_bounds", fmt::format("1..{} bounds", kMaxHistogramBounds),
                                   fmt::format("{} bounds", aggregate.histogram_bounds_size()));
      }
      for (int j = 0; j < aggregate.histogram_bounds_size(); ++j) {
        const double bound = aggregate.histogram_bounds(j);
        if (std::isnan(bound) || (j > 0 && !(bound > aggregate.histogram_bounds(j - 1)))) {
          return Error::invalid(prefix + ".histogram_bounds", "NOT_ASCENDING",
                                fmt::format("{}.histogram_bounds must be strictly ascending numbers", prefix),
                                "strictly ascending", fmt::format("{} at index {}", bound, j));
        }
      }
      break;
    case v1::AggregateSpec::KIND_TOP_K:
      if (aggregate.k() < 1 || aggregate.k() > kMaxTopK) {
        return Error::out_of_range(prefix + ".k", fmt::format("in 1..{}", kMaxTopK), std::to_string(aggregate.k()));
      }
      break;
    default:
      return Error::invalid(prefix + ".kind", "UNSUPPORTED_KIND",
                            fmt::format("{}.kind {} is not available on live streams", prefix,
                                        v1::AggregateSpec::Kind_Name(aggregate.kind())),
                            "count, sum, mean, min, max, stddev, distinct count, quantiles, histogram or top-k",
                            v1::AggregateSpec::Kind_Name(aggregate.kind()));
  }
  if (aggregate.field().empty()) {
    return Error::invalid(prefix + ".field", "EMPTY",
                          fmt::format("{}.field must name a {}", prefix, is_label_kind(aggregate.kind()) ? "label" : "number"),
                          is_label_kind(aggregate.kind()) ? "a label name" : "a number name", "");
  }
  return Status::Ok();
}

// Worst-case bytes of one group's accumulators.
uint64_t group_bytes(const v1::LiveSpec& spec, const LiveLimits& limits) {
  uint64_t bytes = kGroupBytes + static_cast<uint64_t>(spec.group_by_size()) * (32 + limits.max_label_bytes);
  for (const v1::AggregateSpec& aggregate : spec.aggregates()) {
    bytes += 64;
    switch (aggregate.kind()) {
      case v1::AggregateSpec::KIND_DISTINCT_COUNT: bytes += HyperLogLog::kRegisters; break;
      case v1::AggregateSpec::KIND_QUANTILES: bytes += QuantileSketch::kMaxBytes; break;
      case v1::AggregateSpec::KIND_TOP_K: bytes += limits.max_top_k_values * (kTopKEntryBytes + limits.max_label_bytes); break;
      case v1::AggregateSpec::KIND_HISTOGRAM: bytes += 8 * static_cast<uint64_t>(aggregate.histogram_bounds_size() + 1); break;
      default: break;
    }
  }
  return bytes;
}

}  // namespace

struct LiveWindows::Accumulator {
  uint64_t n = 0;
  double sum = 0;
  double mean = 0;
  double m2 = 0;
  double min = kNaN;
  double max = kNaN;
  std::unique_ptr<HyperLogLog> distinct;
  std::unique_ptr<QuantileSketch> sketch;
  std::unordered_map<std::string, uint64_t> top;
  std::vector<uint64_t> buckets;

  void add_number(double value) {
    if (n == 0 || less_nan_last(value, min)) min = value;
    if (n == 0 || less_nan_last(max, value)) max = value;
    ++n;
    sum += value;
    const double delta = value - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (value - mean);
  }

  void merge(const Accumulator& other) {
    if (other.n > 0) {
      if (n == 0 || less_nan_last(other.min, min)) min = other.min;
      if (n == 0 || less_nan_last(max, other.max)) max = other.max;
      const double total = static_cast<double>(n + other.n);
      const double delta = other.mean - mean;
      mean += delta * static_cast<double>(other.n) / total;
      m2 += other.m2 + delta * delta * static_cast<double>(n) * static_cast<double>(other.n) / total;
      sum += other.sum;
      n += other.n;
    }
    if (other.distinct) {
      if (!distinct) distinct = std::make_unique<HyperLogLog>();
      distinct->merge(*other.distinct);
    }
    if (other.sketch) {
      if (!sketch) sketch = std::make_unique<QuantileSketch>();
      sketch->merge(*other.sketch);
    }
    for (const auto& [value, count] : other.top) top[value] += count;
    if (buckets.size() < other.buckets.size()) buckets.resize(other.buckets.size(), 0);
    for (size_t i = 0; i < other.buckets.size(); ++i) buckets[i] += other.buckets[i];
  }
};

struct LiveWindows::Group {
  std::vector<std::optional<std::string>> keys;
  uint64_t count = 0;
  std::vector<Accumulator> accumulators;
};

struct LiveWindows::Pane {
  std::unordered_map<std::string, Group> groups;
  uint64_t events = 0;
};

LiveWindows::LiveWindows(const v1::LiveSpec& spec, const LiveLimits& limits) : spec_(spec), limits_(limits) {}
LiveWindows::~LiveWindows() = default;

Result<std::unique_ptr<LiveWindows>> LiveWindows::create(const v1::LiveSpec& spec, const LiveLimits& limits) {
  if (Status s = check_spec_shape(spec, limits); !s.ok()) return s.error();
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    if (Status s = check_aggregate(spec.aggregates(i), i); !s.ok()) return s.error();
  }
  std::unique_ptr<LiveWindows> windows(new LiveWindows(spec, limits));
  windows->max_groups_ = spec.max_groups() == 0 ? limits.default_groups : spec.max_groups();
  // Open panes: those of the next window, plus those that arrive within the
  // allowed lateness before it closes, plus the one being filled.
  const int64_t panes = spec.window_ms() / spec.slide_ms() +
                        (spec.allowed_lateness_ms() + spec.slide_ms() - 1) / spec.slide_ms() + 1;
  const uint64_t per_group = group_bytes(spec, limits);
  windows->memory_bound_bytes_ = static_cast<uint64_t>(panes) * windows->max_groups_ * per_group;
  if (windows->memory_bound_bytes_ > limits.max_memory_bytes) {
    return Error::invalid(
        "spec.max_groups", "WINDOW_MEMORY_LIMIT",
        fmt::format("spec: the window state may reach {} bytes ({} panes x {} groups x {} bytes per group), above the "
                    "bound of {} bytes; lower spec.max_groups, raise spec.slide_ms, shorten spec.window_ms or "
                    "spec.allowed_lateness_ms, or drop quantiles, distinct counts or top-k",
                    windows->memory_bound_bytes_, panes, windows->max_groups_, per_group, limits.max_memory_bytes),
        fmt::format("<= {} bytes of window state", limits.max_memory_bytes),
        fmt::format("{} bytes ({} groups)", windows->memory_bound_bytes_, windows->max_groups_));
  }
  return windows;
}

void LiveWindows::accumulate(Group& group, const v1::LiveEvent& event) {
  ++group.count;
  for (int i = 0; i < spec_.aggregates_size(); ++i) {
    const v1::AggregateSpec& aggregate = spec_.aggregates(i);
    Accumulator& accumulator = group.accumulators[static_cast<size_t>(i)];
    const Kind kind = aggregate.kind();
    if (kind == v1::AggregateSpec::KIND_COUNT) {
      if (aggregate.field().empty() || event.labels().contains(aggregate.field()) ||
          event.numbers().contains(aggregate.field())) {
        ++accumulator.n;
      }
      continue;
    }
    if (is_label_kind(kind)) {
      const auto label = event.labels().find(aggregate.field());
      if (label == event.labels().end()) continue;
      ++accumulator.n;
      if (kind == v1::AggregateSpec::KIND_DISTINCT_COUNT) {
        if (!accumulator.distinct) accumulator.distinct = std::make_unique<HyperLogLog>();
        accumulator.distinct->add_hash(XXH3_64bits(label->second.data(), label->second.size()));
      } else {
        auto it = accumulator.top.find(label->second);
        if (it != accumulator.top.end()) ++it->second;
        else if (accumulator.top.size() < limits_.max_top_k_values) accumulator.top.emplace(label->second, 1);
      }
      continue;
    }
    const auto number = event.numbers().find(aggregate.field());
    if (number == event.numbers().end()) continue;
    const double value = number->second;
    accumulator.add_number(value);
    if (kind == v1::AggregateSpec::KIND_QUANTILES) {
      if (!accumulator.sketch) accumulator.sketch = std::make_unique<QuantileSketch>();
      accumulator.sketch->add(value);
    } else if (kind == v1::AggregateSpec::KIND_HISTOGRAM) {
      const auto& bounds = aggregate.histogram_bounds();
      if (accumulator.buckets.empty()) accumulator.buckets.assign(static_cast<size_t>(bounds.size()) + 1, 0);
      // Bucket i counts values <= bound i and > bound i-1; NaN goes above.
      const auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
      ++accumulator.buckets[std::isnan(value) ? bounds.size() : static_cast<size_t>(it - bounds.begin())];
    }
  }
}

Status LiveWindows::add(const v1::LiveEvent& event, const std::string& field, const Publish& publish) {
  for (const auto& [name, value] : event.labels()) {
    if (value.size() > limits_.max_label_bytes) {
      return Error::out_of_range(fmt::format("{}.labels[{}]", field, quote_value(name)),
                                 fmt::format("at most {} bytes", limits_.max_label_bytes),
                                 fmt::format("{} bytes", value.size()));
    }
  }
  // Dates that JavaScript can hold, so no window arithmetic overflows.
  constexpr int64_t kMaxTimeMs = 8'640'000'000'000'000;
  if (event.time_ms() < -kMaxTimeMs || event.time_ms() > kMaxTimeMs) {
    return Error::out_of_range(field + ".time_ms", fmt::format("in -{0}..{0}", kMaxTimeMs), std::to_string(event.time_ms()));
  }
  ++counters_.events_received;

  const int64_t time = event.time_ms();
  if (time < closed_before_) {
    ++counters_.events_late;
    return Status::Ok();
  }
  std::string id;
  std::vector<std::optional<std::string>> keys;
  for (const std::string& name : spec_.group_by()) {
    const auto label = event.labels().find(name);
    if (label == event.labels().end()) {
      id.push_back('\0');
      keys.emplace_back();
      continue;
    }
    const auto length = static_cast<uint32_t>(label->second.size());
    id.push_back('\1');
    id.append(reinterpret_cast<const char*>(&length), sizeof(length));
    id.append(label->second);
    keys.emplace_back(label->second);
  }

  const int64_t pane_index = floor_div(time, spec_.slide_ms());
  Pane& pane = panes_[pane_index];
  auto it = pane.groups.find(id);
  if (it == pane.groups.end()) {
    if (pane.groups.size() >= max_groups_) {
      ++counters_.events_over_group_limit;
      if (pane.groups.empty()) panes_.erase(pane_index);
      return Status::Ok();
    }
    it = pane.groups.emplace(id, Group{}).first;
    it->second.keys = std::move(keys);
    it->second.accumulators.resize(static_cast<size_t>(spec_.aggregates_size()));
  }

  accumulate(it->second, event);
  ++pane.events;
  max_time_ = std::max(max_time_, time);
  // The first window that contains this pane may end before the next one
  // due: it has not closed, since the event is not late.
  const int64_t pane_end = (pane_index + 1) * spec_.slide_ms();
  if (!next_end_ || pane_end < *next_end_) next_end_ = pane_end;
  while (next_end_ && *next_end_ <= max_time_ - spec_.allowed_lateness_ms()) close_window(publish);
  return Status::Ok();
}

void LiveWindows::flush(const Publish& publish) {
  while (next_end_) close_window(publish);
}

void LiveWindows::close_window(const Publish& publish) {
  const int64_t end = *next_end_;
  const int64_t start = end - spec_.window_ms();
  const int64_t first_pane = floor_div(start, spec_.slide_ms());
  const int64_t end_pane = floor_div(end, spec_.slide_ms());
  auto begin = panes_.lower_bound(first_pane);
  if (begin == panes_.end() || begin->first >= end_pane) {
    // No event in this window: skip to the first window that contains the next
    // pane, or wait for events.
    if (begin == panes_.end()) next_end_.reset();
    else next_end_ = (begin->first + 1) * spec_.slide_ms();
    closed_before_ = std::max(closed_before_, end);
    return;
  }

  std::map<std::vector<std::optional<std::string>>, Group> merged;
  v1::LiveWindow window;
  window.set_start_ms(start);
  window.set_end_ms(end);
  uint64_t events = 0;
  for (auto it = begin; it != panes_.end() && it->first < end_pane; ++it) {
    events += it->second.events;
    for (const auto& [id, group] : it->second.groups) {
      auto [slot, inserted] = merged.try_emplace(group.keys);
      Group& target = slot->second;
      if (inserted) target.accumulators.resize(group.accumulators.size());
      target.count += group.count;
      for (size_t i = 0; i < group.accumulators.size(); ++i) target.accumulators[i].merge(group.accumulators[i]);
    }
  }
  window.set_events(events);
  for (const auto& [keys, group] : merged) {
    v1::Group* out = window.add_groups();
    for (const auto& key : keys) {
      v1::KeyValue* value = out->add_keys();
      if (key) value->set_text(*key);
      else value->set_null(true);
    }
    out->set_count(group.count);
    for (int i = 0; i < spec_.aggregates_size(); ++i) {
      const v1::AggregateSpec& aggregate = spec_.aggregates(i);
      const Accumulator& accumulator = group.accumulators[static_cast<size_t>(i)];
      v1::AggregateValue* value = out->add_values();
      value->set_name(aggregate.name().empty() ? fmt::format("{}({})", kind_label(aggregate.kind()), aggregate.field())
                                               : aggregate.name());
      const bool any = accumulator.n > 0;
      switch (aggregate.kind()) {
        case v1::AggregateSpec::KIND_COUNT: value->set_number(static_cast<double>(accumulator.n)); break;
        case v1::AggregateSpec::KIND_SUM: value->set_number(accumulator.sum); break;
        case v1::AggregateSpec::KIND_MEAN: value->set_number(any ? accumulator.mean : kNaN); break;
        case v1::AggregateSpec::KIND_MIN: value->set_number(accumulator.min); break;
        case v1::AggregateSpec::KIND_MAX: value->set_number(accumulator.max); break;
        case v1::AggregateSpec::KIND_STDDEV:
          value->set_number(accumulator.n > 1 ? std::sqrt(accumulator.m2 / static_cast<double>(accumulator.n - 1)) : kNaN);
          break;
        case v1::AggregateSpec::KIND_DISTINCT_COUNT:
          value->set_number(accumulator.distinct ? std::round(accumulator.distinct->estimate()) : 0);
          break;
        case v1::AggregateSpec::KIND_QUANTILES:
          for (const double q : aggregate.quantiles()) value->add_quantiles(accumulator.sketch ? accumulator.sketch->quantile(q) : kNaN);
          break;
        case v1::AggregateSpec::KIND_HISTOGRAM:
          if (accumulator.buckets.empty()) value->mutable_buckets()->Resize(aggregate.histogram_bounds_size() + 1, 0);
          for (const uint64_t count : accumulator.buckets) value->add_buckets(count);
          break;
        case v1::AggregateSpec::KIND_TOP_K: {
          std::vector<std::pair<std::string, uint64_t>> entries(accumulator.top.begin(), accumulator.top.end());
          std::sort(entries.begin(), entries.end(),
                    [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
          if (entries.size() > aggregate.k()) entries.resize(aggregate.k());
          for (auto& [text, count] : entries) {
            v1::TopKEntry* entry = value->add_top();
            entry->set_value(text);
            entry->set_count(count);
          }
          break;
        }
        default: break;
      }
    }
  }
  ++counters_.windows_published;
  closed_before_ = std::max(closed_before_, end);
  next_end_ = end + spec_.slide_ms();
  // Panes before the next window's start are in no later window.
  panes_.erase(panes_.begin(), panes_.lower_bound(floor_div(*next_end_ - spec_.window_ms(), spec_.slide_ms())));
  if (panes_.empty()) next_end_.reset();
  publish(window);
}

}  // namespace heavylift
