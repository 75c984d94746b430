#include "grpc/task_call.h"

#include <fmt/format.h>
#include <sodium.h>

#include <chrono>
#include <memory>

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

  const std::shared_ptr<TaskContext>& context() const { return context_; }

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

UnaryCall* TaskCallDispatcher::begin(grpc::CallbackServerContext* server_context, std::string_view task_name,
                                     const Task** task) {
  auto context = std::make_shared<TaskContext>(request_id_of(*server_context),
                                               steady_deadline(*server_context));
  auto* call = new UnaryCall(server_context, context, *this);
  *task = nullptr;
  if (draining_.load()) {
    call->finish(Error::unavailable("heavylift is shutting down and takes no new work; retry on another instance"));
    return call;
  }
  *task = registry_.find(task_name);
  if (*task == nullptr) {
    call->finish(Error{Code::kUnimplemented, fmt::format("no task named {} is registered", task_name),
                       "", "", "", "UNKNOWN_TASK", 0});
  }
  return call;
}

grpc::ServerUnaryReactor* TaskCallDispatcher::dispatch(grpc::CallbackServerContext* server_context,
                                                       std::string_view task_name,
                                                       const google::protobuf::Message* request,
                                                       google::protobuf::Message* response) {
  const Task* task = nullptr;
  UnaryCall* call = begin(server_context, task_name, &task);
  if (task == nullptr) return call;
  runner_.run(*task, *request, response, call->context(), [call](const Status& status) { call->finish(status); });
  return call;
}

grpc::ServerUnaryReactor* TaskCallDispatcher::dispatch_serialized(grpc::CallbackServerContext* server_context,
                                                                  std::string_view task_name,
                                                                  const std::string& request_bytes,
                                                                  std::string* response_bytes) {
  const Task* task = nullptr;
  UnaryCall* call = begin(server_context, task_name, &task);
  if (task == nullptr) return call;
  std::shared_ptr<google::protobuf::Message> request(task->request_prototype->New());
  if (!request->ParseFromString(request_bytes)) {
    call->finish(Error::invalid("request", "UNDECODABLE_REQUEST",
                                fmt::format("request is not a binary {} message", request->GetTypeName()),
                                "binary protobuf of " + request->GetTypeName(),
                                fmt::format("{} bytes", request_bytes.size())));
    return call;
  }
  std::shared_ptr<google::protobuf::Message> response(task->response_prototype->New());
  // The messages live in the completion callback until the task is done.
  runner_.run(*task, *request, response.get(), call->context(),
              [call, request, response, response_bytes](const Status& status) {
                if (status.ok() && !response->SerializeToString(response_bytes)) {
                  call->finish(Error::internal(fmt::format("the {} response could not be serialized",
                                                           response->GetTypeName())));
                  return;
                }
                call->finish(status);
              });
  return call;
}

}  // namespace heavylift
