// gRPC services of heavylift.v1. Each method only names its task; the
// TaskCallDispatcher does the rest.
#pragma once

#include "grpc/image_service.h"
#include "grpc/task_call.h"
#include "heavylift/v1/crypto.grpc.pb.h"

namespace heavylift {

class CryptoServiceImpl final : public v1::CryptoService::CallbackService {
 public:
  explicit CryptoServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Argon2idHash(grpc::CallbackServerContext* context,
                                         const v1::Argon2idHashRequest* request,
                                         v1::Argon2idHashResponse* response) override {
    return dispatcher_.dispatch(context, "crypto.argon2id.hash", request, response);
  }

  grpc::ServerUnaryReactor* Argon2idVerify(grpc::CallbackServerContext* context,
                                           const v1::Argon2idVerifyRequest* request,
                                           v1::Argon2idVerifyResponse* response) override {
    return dispatcher_.dispatch(context, "crypto.argon2id.verify", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
