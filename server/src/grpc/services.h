// gRPC services of heavylift.v1. Each method only names its task; the
// TaskCallDispatcher does the rest. Services with many methods live in their
// own headers.
#pragma once

#include "grpc/crypto_service.h"
#include "grpc/image_service.h"
#include "grpc/task_call.h"
#include "heavylift/v1/testing.grpc.pb.h"

namespace heavylift {

// Served always; its tasks exist only with --testing-tasks true, so without
// it every call gets UNIMPLEMENTED.
class TestingServiceImpl final : public v1::TestingService::CallbackService {
 public:
  explicit TestingServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Sleep(grpc::CallbackServerContext* context, const v1::SleepRequest* request,
                                  v1::SleepResponse* response) override {
    return dispatcher_.dispatch(context, "testing.sleep", request, response);
  }

  grpc::ServerUnaryReactor* Fail(grpc::CallbackServerContext* context, const v1::FailRequest* request,
                                 v1::FailResponse* response) override {
    return dispatcher_.dispatch(context, "testing.fail", request, response);
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override {
    return dispatcher_.dispatch(context, "testing.echo", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
