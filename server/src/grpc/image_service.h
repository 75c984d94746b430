// gRPC ImageService: each method only names its image task; the
// TaskCallDispatcher does the rest.
#pragma once

#include "grpc/task_call.h"
#include "heavylift/v1/image.grpc.pb.h"

namespace heavylift {

class ImageServiceImpl final : public v1::ImageService::CallbackService {
 public:
  explicit ImageServiceImpl(TaskCallDispatcher& dispatcher) : dispatcher_(dispatcher) {}

  grpc::ServerUnaryReactor* Thumbnail(grpc::CallbackServerContext* context, const v1::ThumbnailRequest* request,
                                      v1::ThumbnailResponse* response) override {
    return dispatcher_.dispatch(context, "image.thumbnail", request, response);
  }

  grpc::ServerUnaryReactor* Transform(grpc::CallbackServerContext* context, const v1::TransformRequest* request,
                                      v1::TransformResponse* response) override {
    return dispatcher_.dispatch(context, "image.transform", request, response);
  }

  grpc::ServerUnaryReactor* Metadata(grpc::CallbackServerContext* context, const v1::MetadataRequest* request,
                                     v1::MetadataResponse* response) override {
    return dispatcher_.dispatch(context, "image.metadata", request, response);
  }

  grpc::ServerUnaryReactor* Analyze(grpc::CallbackServerContext* context, const v1::AnalyzeRequest* request,
                                    v1::AnalyzeResponse* response) override {
    return dispatcher_.dispatch(context, "image.analyze", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
};

}  // namespace heavylift
