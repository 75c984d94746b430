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
#include <unordered_set>

#include "core/bearer_tokens.h"
#include "core/task_registry.h"
#include "core/task_runner.h"

namespace heavylift {

class UnaryCall;

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

  // Requires every later call to carry one of `tokens` in its `authorization`
  // metadata (UNAUTHENTICATED otherwise). `tokens` must outlive every call;
  // nullptr turns the check off again.
  void set_bearer_tokens(const BearerTokens* tokens) { tokens_.store(tokens); }

  // Checks the call's `authorization` metadata against the bearer tokens, if
  // any are set. Other adapters on the same server (streaming calls) use it
  // too.
  Status authenticate(const grpc::CallbackServerContext& server_context) const;
  // Runs task `task_name` on `request_bytes`, the binary protobuf of the
  // task's request type, and on success stores the binary response in
  // `*response_bytes`. Otherwise behaves as dispatch(); a request that does
  // not parse fails with INVALID_ARGUMENT (field "request", reason
  // UNDECODABLE_REQUEST) without running. `request_bytes` and
  // `response_bytes` belong to the gRPC call and outlive it.
  grpc::ServerUnaryReactor* dispatch_serialized(grpc::CallbackServerContext* server_context,
                                                std::string_view task_name, const std::string& request_bytes,
                                                std::string* response_bytes);

  // Calls dispatched and not yet done, counted until gRPC reports each done.
  size_t in_flight() const;

  // Cancels the context of every call still running or queued, so each
  // stops at its next safe point and finishes with the status that `reason`
  // maps to (UNAVAILABLE for a shutdown).
  void cancel_all(TaskContext::CancelReason reason);

 private:
  friend class UnaryCall;

  // Starts a call for `task_name` and sets `*task` to its task. When the
  // call cannot run (draining, unknown task), finishes it and sets nullptr.
  UnaryCall* begin(grpc::CallbackServerContext* server_context, std::string_view task_name, const Task** task);

  const TaskRegistry& registry_;
  TaskRunner& runner_;
  const std::atomic<bool>& draining_;
  std::atomic<const BearerTokens*> tokens_{nullptr};
  mutable std::mutex live_mutex_;
  // Contexts of the calls dispatched and not yet done. A call adds its own
  // when it starts and removes it when gRPC reports it done.
  std::unordered_set<std::shared_ptr<TaskContext>> live_;
};

// Trailing metadata key of the serialized heavylift.v1.ErrorDetail.
inline constexpr char kErrorDetailKey[] = "heavylift-error-bin";

}  // namespace heavylift
