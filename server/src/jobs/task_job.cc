#include "jobs/task_job.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include "heavylift/v1/common.pb.h"

namespace heavylift {

Result<std::unique_ptr<google::protobuf::Message>> decode_job_request(const Task& task,
                                                                      std::string_view payload,
                                                                      PayloadFormat format) {
  std::unique_ptr<google::protobuf::Message> request(task.request_prototype->New());
  if (format == PayloadFormat::kProtobuf) {
    if (!request->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return Error::invalid("data", "UNDECODABLE_JOB_DATA",
                            fmt::format("job data for task {} is not a valid binary {} message", task.name,
                                        request->GetTypeName()));
    }
    return request;
  }

  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(payload.data(), payload.size()), request.get(), options);
  if (!status.ok()) {
    return Error::invalid("data", "UNDECODABLE_JOB_DATA",
                          fmt::format("job data for task {} is not the proto3 JSON of {}: {}", task.name,
                                      request->GetTypeName(), std::string(status.message())));
  }
  return request;
}

std::string encode_job_result(const google::protobuf::Message& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a valid message to JSON cannot fail for the types heavylift
  // registers (no Any fields with unknown type URLs).
  (void)google::protobuf::util::MessageToJsonString(response, &json, options);
  return json;
}

std::string job_failure_reason(const Error& error) {
  return fmt::format("{}: {}", code_name(error.code), error.message);
}

std::string error_detail_json(const Error& error) {
  v1::ErrorDetail detail;
  detail.set_code(code_name(error.code));
  detail.set_field(error.field);
  detail.set_bound(error.bound);
  detail.set_value(error.value);
  detail.set_reason(error.reason);
  detail.set_retry_after_ms(error.retry_after_ms);
  return encode_job_result(detail);
}

bool is_permanent_failure(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kUnimplemented:
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
    case Code::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

Error unknown_task_error(std::string_view name) {
  Error error;
  error.code = Code::kUnimplemented;
  error.field = "name";
  error.reason = "UNKNOWN_TASK";
  error.value = quote_value(name);
  error.message = fmt::format("no task named {} is registered in this daemon", quote_value(name));
  return error;
}

}  // namespace heavylift
