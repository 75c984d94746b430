// gRPC AggregateService: each method only names its task; the
// TaskCallDispatcher runs it with the call's deadline and cancellation.
#pragma once

#include "grpc/task_call.h"
#include "heavylift/v1/aggregate.grpc.pb.h"

namespace heavylift {

class AggregateServiceImpl final : public v1::AggregateService::CallbackService {
 public:
  explicit AggregateServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Aggregate(grpc::CallbackServerContext* context, const v1::AggregateRequest* request,
                                      v1::AggregateResponse* response) override {
    return dispatcher_.dispatch(context, "aggregate.run", request, response);
  }

  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context, const v1::DecodeRequest* request,
                                   v1::DecodeResponse* response) override {
    return dispatcher_.dispatch(context, "aggregate.decode", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
