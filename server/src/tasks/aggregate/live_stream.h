// The Live call of AggregateService: a client stream whose first message
// carries a LiveSpec and whose messages carry events, fed into LiveWindows.
// Each window that closes is emitted to the spec's room of the real-time hub
// as the Socket.IO event `aggregate:window` and kept for the response (the
// last kMaxSummaryWindows of them).
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/aggregate.pb.h"
#include "realtime/hub.h"
#include "tasks/aggregate/live_window.h"

namespace heavylift {

inline constexpr char kLiveWindowEvent[] = "aggregate:window";
constexpr size_t kMaxSummaryWindows = 100;

// Renders a window as the JSON object sent to Socket.IO clients:
// {"start": ms, "end": ms, "events": n, "groups": [{"keys": [...], "count": n,
// "values": {"name": number | [numbers] | [{"value", "count"}]}}]}, with
// null for NaN.
std::string live_window_json(const v1::LiveWindow& window);

class LiveStream {
 public:
  // `hub` may be nullptr when the hub is off; a spec with a room then fails
  // with FAILED_PRECONDITION.
  LiveStream(realtime::Hub* hub, LiveLimits limits) : hub_(hub), limits_(limits) {}

  Status on_message(v1::LiveInput& message, TaskContext& context);
  Status on_end(v1::LiveSummary* summary, TaskContext& context);

 private:
  void publish(v1::LiveWindow& window);

  realtime::Hub* hub_;
  LiveLimits limits_;
  std::unique_ptr<LiveWindows> windows_;
  std::string name_space_;
  std::string room_;
  uint64_t events_seen_ = 0;
  std::deque<v1::LiveWindow> kept_;
};

}  // namespace heavylift
