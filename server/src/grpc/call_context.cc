#include "grpc/call_context.h"

#include <fmt/format.h>
#include <sodium.h>

#include <chrono>
#include <string>

#include "core/trace_context.h"
#include "grpc/task_call.h"
#include "heavylift/v1/common.pb.h"

namespace heavylift {
namespace {

// Caps on what goes into trailing metadata, which gRPC limits to 8 KiB in
// total by default: a larger trailer fails the call with RESOURCE_EXHAUSTED
// on the client and loses the real status.
constexpr size_t kMaxDetailFieldBytes = 256;
constexpr size_t kMaxStatusMessageBytes = 1024;

std::string capped(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  return text.substr(0, max_bytes) + "...";
}

// Converts the call's wall-clock deadline to a steady-clock one. Calls
// without a deadline get TaskContext::Clock::time_point::max().
TaskContext::Clock::time_point steady_deadline(const grpc::CallbackServerContext& server_context) {
  const auto deadline = server_context.deadline();
  const auto now = std::chrono::system_clock::now();
  // gRPC reports "no deadline" as a time far in the future.
  if (deadline - now > std::chrono::hours(24 * 365)) return TaskContext::Clock::time_point::max();
  return TaskContext::Clock::now() +
         std::chrono::duration_cast<TaskContext::Clock::duration>(deadline - now);
}

// Returns the caller's x-request-id when it is 1..64 characters of
// [A-Za-z0-9._-], otherwise a new random 16-hex-digit id.
std::string request_id_of(const grpc::CallbackServerContext& server_context) {
  const auto& metadata = server_context.client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    const std::string_view id(it->second.data(), it->second.size());
    bool valid = !id.empty() && id.size() <= 64;
    for (char c : id) {
      valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    }
    if (valid) return std::string(id);
  }
  return fmt::format("{:016x}", (static_cast<uint64_t>(randombytes_random()) << 32) | randombytes_random());
}

}  // namespace

std::string trace_id_of(const grpc::CallbackServerContext& server_context) {
  const auto& metadata = server_context.client_metadata();
  const auto it = metadata.find("traceparent");
  if (it == metadata.end()) return "";
  const auto parent = parse_traceparent(std::string_view(it->second.data(), it->second.size()));
  return parent ? parent->trace_id : "";
}

std::shared_ptr<TaskContext> make_call_context(const grpc::CallbackServerContext& server_context) {
  auto context = std::make_shared<TaskContext>(request_id_of(server_context), steady_deadline(server_context));
  context->set_trace_id(trace_id_of(server_context));
  return context;
}

grpc::Status to_grpc_status(const Status& status, grpc::CallbackServerContext* server_context) {
  if (status.ok()) return grpc::Status::OK;
  const Error& error = status.error();
  v1::ErrorDetail detail;
  detail.set_code(code_name(error.code));
  detail.set_field(capped(error.field, kMaxDetailFieldBytes));
  detail.set_bound(capped(error.bound, kMaxDetailFieldBytes));
  detail.set_value(capped(error.value, kMaxDetailFieldBytes));
  detail.set_reason(capped(error.reason, kMaxDetailFieldBytes));
  detail.set_retry_after_ms(error.retry_after_ms);
  server_context->AddTrailingMetadata(kErrorDetailKey, detail.SerializeAsString());
  return grpc::Status(static_cast<grpc::StatusCode>(error.code), capped(error.message, kMaxStatusMessageBytes));
}

}  // namespace heavylift
