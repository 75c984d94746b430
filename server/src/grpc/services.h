// gRPC services of heavylift.v1. Each method only names its task; the
// TaskCallDispatcher does the rest.
#pragma once

#include "grpc/crypto_service.h"
#include "grpc/task_call.h"
#include "heavylift/v1/image.grpc.pb.h"

namespace heavylift {

class ImageServiceImpl final : public v1::ImageService::CallbackService {
 public:
  explicit ImageServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Thumbnail(grpc::CallbackServerContext* context,
                                      const v1::ThumbnailRequest* request,
                                      v1::ThumbnailResponse* response) override {
    return dispatcher_.dispatch(context, "image.thumbnail", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
