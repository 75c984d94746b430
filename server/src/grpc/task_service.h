// heavylift.v1.TaskService: serves every registered task by name, with the
// request and response carried as binary protobuf. Custom tasks need no
// service of their own; the TaskCallDispatcher gives them the same limits,
// deadlines, metrics, logs and error trailers as the built-in services.
#pragma once

#include "grpc/task_call.h"
#include "heavylift/v1/task.grpc.pb.h"

namespace heavylift {

class TaskServiceImpl final : public v1::TaskService::CallbackService {
 public:
  // `dispatcher` must outlive the service.
  explicit TaskServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, const v1::RunTaskRequest* request,
                                v1::RunTaskResponse* response) override {
    return dispatcher_.dispatch_serialized(context, request->task(), request->request(),
                                           response->mutable_response());
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
