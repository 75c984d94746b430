// Reads a task message's AMQP properties into a job envelope: which task to
// run, how its body is encoded, which attempt this delivery is and where the
// result goes. The message body itself is decoded later by task_job.h.
//
// The properties a publisher sets (amqplib names in brackets):
//   content_type [contentType]   "application/json" (the default when absent,
//                                 parameters such as "; charset=utf-8" allowed)
//                                 or "application/x-protobuf"
//   content_encoding             absent or "identity"; compressed bodies are
//                                 not accepted
//   headers["x-heavylift-task"]  the task name, for example "image.thumbnail";
//                                 the `type` property is read when it is absent
//   headers["x-heavylift-attempt"] which attempt this delivery is, from 1;
//                                 set by the worker when it schedules a retry
//   headers["x-heavylift-redelivered"] true on a copy the worker made of a
//                                 message whose attempt was interrupted
//   headers["traceparent"]       W3C trace context; its trace id becomes the
//                                 run's trace_id (ignored when not valid)
//   correlation_id, reply_to, message_id: copied into the envelope
//
// Thread-safety: the functions here are pure and safe from any thread.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "jobs/task_job.h"

namespace heavylift {

// Header names the worker reads and writes.
inline constexpr char kTaskHeader[] = "x-heavylift-task";
inline constexpr char kAttemptHeader[] = "x-heavylift-attempt";
inline constexpr char kStatusHeader[] = "x-heavylift-status";
inline constexpr char kRedeliveredHeader[] = "x-heavylift-redelivered";
inline constexpr char kErrorHeader[] = "x-heavylift-error";
inline constexpr char kErrorCodeHeader[] = "x-heavylift-error-code";
inline constexpr char kErrorDetailHeader[] = "x-heavylift-error-detail";
inline constexpr char kDeadReasonHeader[] = "x-heavylift-dead-reason";
inline constexpr char kTraceparentHeader[] = "traceparent";

// Longest task name accepted, in bytes.
inline constexpr size_t kMaxTaskNameBytes = 256;
// Largest attempt number accepted in the attempt header.
inline constexpr uint32_t kMaxAttemptNumber = 1'000'000;

struct JobEnvelope {
  std::string task;
  PayloadFormat format = PayloadFormat::kJson;
  uint32_t attempt = 1;
  std::string message_id;
  std::string correlation_id;
  std::string reply_to;
  // Trace id of a valid traceparent header, else "".
  std::string trace_id;
  // True when an earlier attempt of this message was interrupted (the
  // x-heavylift-redelivered header), so the task may have run before.
  bool redelivered_before = false;
};

// Builds the envelope of a message with `properties`. Fails with
// INVALID_ARGUMENT naming the property or header at fault:
//   content_type     reason UNSUPPORTED_CONTENT_TYPE for other media types
//   content_encoding reason UNSUPPORTED_CONTENT_ENCODING
//   headers.x-heavylift-task    reason MISSING_TASK_NAME when neither the
//                    header nor `type` names a task, OUT_OF_RANGE when longer
//                    than kMaxTaskNameBytes, WRONG_TYPE when not a string
//   headers.x-heavylift-attempt reason WRONG_TYPE when not an integer,
//                    OUT_OF_RANGE outside 1..kMaxAttemptNumber
// The envelope's strings are copies; `properties` may be freed afterwards.
Result<JobEnvelope> parse_job_envelope(const amqp_basic_properties_t& properties);

// Returns the value of the header `key` in `table`, or nullptr. When the key
// repeats, the first entry wins.
const amqp_field_value_t* find_header(const amqp_table_t& table, std::string_view key);

// Returns the bytes of a string property when its flag is set, else "".
std::string property_text(const amqp_basic_properties_t& properties, amqp_flags_t flag,
                          const amqp_bytes_t& value);

}  // namespace heavylift
