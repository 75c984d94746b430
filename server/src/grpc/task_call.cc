#include "grpc/task_call.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "core/logging.h"
#include "grpc/call_context.h"

namespace heavylift {

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
    Finish(to_grpc_status(status, server_context_));
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
  auto context = make_call_context(*server_context);
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
