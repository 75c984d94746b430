// The parts of a BullMQ job's options the worker decides on: attempts and
// backoff, removeOnComplete / removeOnFail, and heavylift's per-job timeout.
// BullMQ leaves these decisions to the worker; the rules here follow
// bullmq's Job.shouldRetryJob, Backoffs and getKeepJobs of the pinned version.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace heavylift {

// How many finished jobs to keep (BullMQ's KeepJobs). count -1 keeps all and
// 0 removes the job at once; age, in seconds, and limit are sent only when set.
struct KeepJobs {
  int64_t count = -1;
  std::optional<int64_t> age_seconds;
  std::optional<int64_t> limit;

  bool operator==(const KeepJobs&) const = default;
};

struct Backoff {
  // "fixed", "exponential", or a custom strategy name this worker cannot run.
  std::string type;
  uint64_t delay_ms = 0;
  // Fraction in [0, 1] of the delay that is randomized away.
  double jitter = 0;
};

struct JobOptions {
  // Total attempts, the first run included. BullMQ's default is one.
  uint32_t attempts = 1;
  std::optional<Backoff> backoff;
  bool lifo = false;
  // The job's own removeOnComplete / removeOnFail, absent when not set.
  std::optional<KeepJobs> remove_on_complete;
  std::optional<KeepJobs> remove_on_fail;
  // heavylift's per-job time limit (option "timeout", milliseconds).
  std::optional<uint64_t> timeout_ms;
  // The W3C trace id of the traceparent in BullMQ's telemetry metadata
  // (option "tm"), or empty when there is none or it is invalid.
  std::string trace_id;
};

// Parses the job's stored options JSON (the "opts" field of the job hash).
// Unknown options are ignored, and so is telemetry metadata without a valid
// traceparent, since tracing never fails a job. Fails with INVALID_ARGUMENT (field "opts")
// when the text is not a JSON object or a known option has the wrong type.
Result<JobOptions> parse_job_options(std::string_view json);

// Parses a keep setting: "all" (keep every job) or a count.
Result<KeepJobs> parse_keep_setting(std::string_view text, std::string_view setting);

// Chooses the KeepJobs sent with a finished job: the job's own option when
// set, the worker's otherwise.
KeepJobs merge_keep_jobs(const std::optional<KeepJobs>& job_option, const KeepJobs& worker_default);

// The decision after a failed attempt: no retry, or a retry after `delay_ms`
// (0: back to wait at once).
struct RetryDecision {
  bool retry = false;
  uint64_t delay_ms = 0;
};

// Decides whether a job whose attempt failed is retried. `attempts_made` is
// the number of failed attempts before this one. Permanent failures (a bad
// request, an unknown task) are never retried. `random01` in [0, 1) drives
// the jitter. A custom backoff strategy retries after its delay, since the
// strategy's code runs only in Node.
RetryDecision decide_retry(const JobOptions& options, uint32_t attempts_made, bool permanent, double random01);

}  // namespace heavylift
