// Encoding shared by the queue adapters (BullMQ and AMQP). A job names a
// task and carries the task's request message as proto3 JSON or as binary
// protobuf. A completed job's result is the response message as proto3 JSON.
// A failed job keeps the task's gRPC code, message and error details.
//
// Thread-safety: every function here is safe to call from any thread.
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/task_registry.h"

namespace heavylift {

enum class PayloadFormat { kJson, kProtobuf };

// Parses `payload` into a new request message of `task`'s request type.
// JSON accepts both proto field names and their lowerCamelCase forms, and
// rejects unknown fields. Fails with INVALID_ARGUMENT (field "data", reason
// UNDECODABLE_JOB_DATA) and the parser's message when the payload does not
// parse. The caller owns the returned message.
Result<std::unique_ptr<google::protobuf::Message>> decode_job_request(const Task& task,
                                                                      std::string_view payload,
                                                                      PayloadFormat format);

// Renders `response` as proto3 JSON with lowerCamelCase field names, printing
// fields that hold their default value too (so `{"match": false}` is not an
// empty object). Bytes fields are base64, as proto3 JSON requires.
std::string encode_job_result(const google::protobuf::Message& response);

// Returns the failure text of a job that failed with `error`:
// "<CODE>: <message>", for example "INVALID_ARGUMENT: widths[0] must be ...".
// The SDK reads the code back from the text before the first colon.
std::string job_failure_reason(const Error& error);

// Renders `error` as the proto3 JSON of heavylift.v1.ErrorDetail.
std::string error_detail_json(const Error& error);

// Reports whether a job that failed with `code` would fail the same way on
// every retry (a bad request, an unknown task), so attempts left are skipped.
bool is_permanent_failure(Code code);

// Builds the UNIMPLEMENTED error (reason UNKNOWN_TASK) for a job whose name
// is not a registered task, the code gRPC callers get for the same mistake.
Error unknown_task_error(std::string_view name);

}  // namespace heavylift
