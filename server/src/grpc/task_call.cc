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

  const std::shared_ptr<TaskContext>& context() const { return context_; }

  // Completes the call. Must be called exactly once.
  void finish(const Status& status) { Finish(to_grpc_status(status, server_context_)); }

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

UnaryCall* TaskCallDispatcher::begin(grpc::CallbackServerContext* server_context, std::string_view task_name,
                                     const Task** task) {
  auto context = make_call_context(*server_context);
  auto* call = new UnaryCall(server_context, context, *this);
  *task = nullptr;

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
