// The bridge between gRPC's callback API and the task runner: one unary call
// becomes one task run on the executor, with the call's deadline, its
// cancellation and its request id carried into the TaskContext.
//
// Thread-safety: a TaskCallDispatcher may be used by every gRPC thread at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/task_registry.h"
#include "core/task_runner.h"

namespace heavylift {

class TaskCallDispatcher {
 public:
  // `registry`, `runner` and `draining` must outlive every call.
  TaskCallDispatcher(const TaskRegistry& registry, TaskRunner& runner,
                     const std::atomic<bool>& draining);

  // Runs task `task_name` for one unary call and returns the reactor gRPC
  // expects from a callback handler. The reactor finishes the call with the
  // task's status; errors carry a serialized heavylift.v1.ErrorDetail in the
  // trailing metadata entry "heavylift-error-bin". While draining, calls
  // fail with UNAVAILABLE without running.
  grpc::ServerUnaryReactor* dispatch(grpc::CallbackServerContext* server_context,
                                     std::string_view task_name,
                                     const google::protobuf::Message* request,
                                     google::protobuf::Message* response);

  // Calls dispatched and not yet done, counted until gRPC reports each done.
  int in_flight() const { return in_flight_.load(); }

  // Cancels the context of every call still running or queued, so each
  // stops at its next safe point and finishes with the status that `reason`
  // maps to (UNAVAILABLE for a shutdown).
  void cancel_all(TaskContext::CancelReason reason);

 private:
  const TaskRegistry& registry_;
  TaskRunner& runner_;
  const std::atomic<bool>& draining_;
  std::atomic<int> in_flight_{0};
  std::mutex contexts_mutex_;
  // Contexts of dispatched calls; entries expire when their call is done.
  std::vector<std::weak_ptr<TaskContext>> contexts_;
};

// Trailing metadata key of the serialized heavylift.v1.ErrorDetail.
inline constexpr char kErrorDetailKey[] = "heavylift-error-bin";

}  // namespace heavylift
