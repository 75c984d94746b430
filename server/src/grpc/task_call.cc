#include "grpc/task_call.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sodium.h>

#include <chrono>
#include <memory>

#include "core/logging.h"
#include "core/trace_context.h"
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

}  // namespace

// Owns one call from its start until gRPC reports it done, then deletes
// itself. While it lives, its context is in the dispatcher's live set.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(grpc::CallbackServerContext* server_context, std::shared_ptr<TaskContext> context,
            TaskCallDispatcher& dispatcher)
      : server_context_(server_context), context_(std::move(context)), dispatcher_(dispatcher) {
    std::lock_guard lock(dispatcher_.live_mutex_);
    dispatcher_.live_.insert(context_);
  }

  // Completes the call. Must be called exactly once.
  void finish(const Status& status) {
    if (status.ok()) {
      Finish(grpc::Status::OK);
      return;
    }
    const Error& error = status.error();
    v1::ErrorDetail detail;
    detail.set_code(code_name(error.code));
    detail.set_field(capped(error.field, kMaxDetailFieldBytes));
    detail.set_bound(capped(error.bound, kMaxDetailFieldBytes));
    detail.set_value(capped(error.value, kMaxDetailFieldBytes));
    detail.set_reason(capped(error.reason, kMaxDetailFieldBytes));
    detail.set_retry_after_ms(error.retry_after_ms);
    server_context_->AddTrailingMetadata(kErrorDetailKey, detail.SerializeAsString());
    Finish(grpc::Status(static_cast<grpc::StatusCode>(error.code), capped(error.message, kMaxStatusMessageBytes)));
  }

  // gRPC cancels a call when its caller goes away, its deadline passes, or
  // the server's shutdown deadline passes; the last happens only while draining.
  void OnCancel() override {
    context_->cancel(dispatcher_.draining_.load() ? TaskContext::CancelReason::kShutdown
                                                  : TaskContext::CancelReason::kCaller);
  }
  void OnDone() override {
    {
      std::lock_guard lock(dispatcher_.live_mutex_);
      dispatcher_.live_.erase(context_);
    }
    delete this;
  }

 private:
  grpc::CallbackServerContext* server_context_;
  std::shared_ptr<TaskContext> context_;
  TaskCallDispatcher& dispatcher_;
};

namespace {

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

Status TaskCallDispatcher::authenticate(const grpc::CallbackServerContext& server_context) const {
  const BearerTokens* tokens = tokens_.load();
  if (tokens == nullptr) return Status::Ok();
  const auto& metadata = server_context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return tokens->check(false, "");
  return tokens->check(true, std::string_view(it->second.data(), it->second.size()));
}

TaskCallDispatcher::TaskCallDispatcher(const TaskRegistry& registry, TaskRunner& runner,
                                       const std::atomic<bool>& draining)
    : registry_(registry), runner_(runner), draining_(draining) {}

size_t TaskCallDispatcher::in_flight() const {
  std::lock_guard lock(live_mutex_);
  return live_.size();
}

void TaskCallDispatcher::cancel_all(TaskContext::CancelReason reason) {
  std::lock_guard lock(live_mutex_);
  for (const auto& context : live_) context->cancel(reason);
}

grpc::ServerUnaryReactor* TaskCallDispatcher::dispatch(grpc::CallbackServerContext* server_context,
                                                       std::string_view task_name,
                                                       const google::protobuf::Message* request,
                                                       google::protobuf::Message* response) {
  auto context = std::make_shared<TaskContext>(request_id_of(*server_context),
                                               steady_deadline(*server_context));
  context->set_trace_id(trace_id_of(*server_context));
  auto* call = new UnaryCall(server_context, context, *this);

  if (Status allowed = authenticate(*server_context); !allowed.ok()) {
    spdlog::info("event=call.unauthenticated task={} request_id={} peer={} reason={}", task_name,
                 log_value(context->request_id()), log_value(server_context->peer()),
                 log_value(allowed.error().reason));
    call->finish(allowed);
    return call;
  }

  if (draining_.load()) {
    call->finish(Error::unavailable("heavylift is shutting down and takes no new work; retry on another instance"));
    return call;
  }
  const Task* task = registry_.find(task_name);
  if (task == nullptr) {
    call->finish(Error{Code::kUnimplemented, fmt::format("no task named {} is registered", task_name),
                       "", "", "", "UNKNOWN_TASK", 0});
    return call;
  }
  runner_.run(*task, *request, response, context, [call](const Status& status) { call->finish(status); });
  return call;
}

}  // namespace heavylift
