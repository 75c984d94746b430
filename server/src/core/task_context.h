// Per-call state a task can see: its deadline, a cancellation flag set when
// the caller goes away, and the request id used in log lines.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"

namespace heavylift {

class TaskContext {
 public:
  using Clock = std::chrono::steady_clock;

  TaskContext(std::string request_id, Clock::time_point deadline)
      : request_id_(std::move(request_id)), deadline_(deadline), created_(Clock::now()) {}

  const std::string& request_id() const { return request_id_; }
  Clock::time_point deadline() const { return deadline_; }

  // The W3C trace id (32 lower-case hex digits) of the caller's traceparent,
  // or empty. Log lines about this call carry it as trace_id. Set by the
  // adapter before the task runs.
  const std::string& trace_id() const { return trace_id_; }
  void set_trace_id(std::string trace_id) { trace_id_ = std::move(trace_id); }

  // Which delivery of a queue job this run is, starting at 1. gRPC calls are
  // always attempt 1. Set by the adapter before the task runs.
  uint32_t attempt() const { return attempt_; }
  void set_attempt(uint32_t attempt) { attempt_ = attempt; }

  // Receives progress as a fraction in [0, 1], for example to update a
  // BullMQ job's progress. The adapter sets it before the task runs. It runs
  // on the task's thread, so it must not block for long.
  using ProgressCallback = std::function<void(double fraction)>;
  void set_progress_callback(ProgressCallback callback) { progress_ = std::move(callback); }

  // Reports how much of the work is done, clamped to [0, 1]. Does nothing
  // when the transport has no use for progress (gRPC unary calls).
  void report_progress(double fraction) const {
    if (progress_) progress_(std::clamp(fraction, 0.0, 1.0));
  }

  // Why a call was cancelled: its caller went away, or the daemon is
  // shutting down and its grace period ran out.
  enum class CancelReason { kCaller, kShutdown };

  // Marks the call cancelled. Safe to call from any thread, any number of
  // times; the first reason given is kept.
  void cancel(CancelReason reason = CancelReason::kCaller) {
    int expected = kNotCancelled;
    cancelled_.compare_exchange_strong(expected, static_cast<int>(reason), std::memory_order_relaxed);
  }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed) != kNotCancelled; }

  // Returns an error once the call should stop: UNAVAILABLE when a shutdown
  // cancelled it, DEADLINE_EXCEEDED once the deadline has passed, CANCELLED
  // when the caller went away.
  // A client whose own deadline fires cancels the call, and that cancel can
  // reach the daemon before the daemon's copy of the deadline passes, since
  // the daemon starts counting when the call arrives. A caller's cancel
  // within a quarter of the call's budget (at least 50 ms) of the deadline
  // therefore counts as the deadline.
  // Tasks call this at safe points, between steps that can be abandoned.
  Status check() const {
    const int cancelled = cancelled_.load(std::memory_order_relaxed);
    if (cancelled == static_cast<int>(CancelReason::kShutdown)) {
      return Error::unavailable("the call was cancelled because heavylift is shutting down; retry it");
    }
    const auto now = Clock::now();
    if (now >= deadline_) return Error::deadline_exceeded("the call's deadline passed");
    if (cancelled != kNotCancelled) {
      if (deadline_ != Clock::time_point::max()) {
        const auto tolerance = std::max<Clock::duration>(std::chrono::milliseconds(50), (deadline_ - created_) / 4);
        if (now >= deadline_ - tolerance) {
          return Error::deadline_exceeded("the call's deadline passed (the caller gave up at its deadline)");
        }
      }
      return Error::cancelled("the call was cancelled by the caller");
    }
    return Status::Ok();
  }

  // Returns a context with no deadline, for tests and command-line use.
  static std::shared_ptr<TaskContext> unbounded(std::string request_id = "local") {
    return std::make_shared<TaskContext>(std::move(request_id), Clock::time_point::max());
  }

 private:
  std::string request_id_;
  Clock::time_point deadline_;
  Clock::time_point created_;
  std::string trace_id_;
  uint32_t attempt_ = 1;
  ProgressCallback progress_;
  static constexpr int kNotCancelled = -1;
  std::atomic<int> cancelled_{kNotCancelled};
};

}  // namespace heavylift
