// Live analysis: aggregates over a sliding window of event time.
//
// Events fall into panes of `slide_ms`; a window of `window_ms` is the
// window_ms / slide_ms panes before its end, merged when it closes. A window
// [start, end) closes once an event at or after end + allowed_lateness_ms has
// arrived, or when the stream ends. An event that belongs to a window that
// has closed already is dropped and counted as late, so every window
// publishes exactly the accepted events of its range.
//
// Memory is bounded before the first event: each pane contains at most
// `max_groups` groups, and each group's accumulators at most a fixed size
// (a HyperLogLog, a QuantileSketch of at most kMaxBuckets buckets, at most
// kMaxTopKValues top-k counters, histogram counts). create() rejects a spec
// whose worst case, over every pane that can be open at once, passes
// LiveLimits::max_memory_bytes.
//
// Thread-safety: none; one LiveWindows per stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "heavylift/v1/aggregate.pb.h"

namespace heavylift {

struct LiveLimits {
  // Bound of the estimated state of one stream's open panes.
  uint64_t max_memory_bytes = uint64_t{256} << 20;
  int64_t max_window_ms = 7LL * 24 * 3600 * 1000;
  // Maximum panes in one window (window_ms / slide_ms).
  int64_t max_panes = 1000;
  uint32_t max_groups = 10'000;
  uint32_t default_groups = 100;
  // Maximum length of a label value, in bytes.
  size_t max_label_bytes = 256;
  // Distinct values a top-k counts exactly per group and pane; a value first
  // seen after that many is not counted by that pane's top-k.
  size_t max_top_k_values = 256;
};

struct LiveCounters {
  uint64_t events_received = 0;
  uint64_t events_late = 0;
  uint64_t events_over_group_limit = 0;
  uint64_t windows_published = 0;
};

class LiveWindows {
 public:
  using Publish = std::function<void(v1::LiveWindow&)>;

  // Checks `spec` (errors name "spec.<field>") and the memory bound.
  static Result<std::unique_ptr<LiveWindows>> create(const v1::LiveSpec& spec, const LiveLimits& limits);
  ~LiveWindows();

  // Adds one event, then publishes the windows that it closes. An invalid
  // event fails with INVALID_ARGUMENT naming `field` (for example
  // "events[3]").
  Status add(const v1::LiveEvent& event, const std::string& field, const Publish& publish);
  // Closes every window that contains accepted events, in order.
  void flush(const Publish& publish);

  const LiveCounters& counters() const { return counters_; }
  uint64_t memory_bound_bytes() const { return memory_bound_bytes_; }

 private:
  struct Accumulator;
  struct Group;
  struct Pane;

  LiveWindows(const v1::LiveSpec& spec, const LiveLimits& limits);
  void close_window(const Publish& publish);
  void accumulate(Group& group, const v1::LiveEvent& event);

  v1::LiveSpec spec_;
  LiveLimits limits_;
  uint32_t max_groups_ = 0;
  uint64_t memory_bound_bytes_ = 0;
  std::map<int64_t, Pane> panes_;
  // End of the next window to close, once an event arrived.
  std::optional<int64_t> next_end_;
  // Events before this time belong to a closed window.
  int64_t closed_before_ = INT64_MIN;
  int64_t max_time_ = INT64_MIN;
  LiveCounters counters_;
};

}  // namespace heavylift
