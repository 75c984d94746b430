// gRPC ImageService: the unary methods only name their image task and the
// TaskCallDispatcher does the rest. TransformUpload runs over
// ClientStreamCall and TransformStream over ServerStreamCall.
#pragma once

#include <chrono>
#include <memory>

#include "core/blob.h"
#include "grpc/server_stream_call.h"
#include "grpc/stream_call.h"
#include "grpc/task_call.h"
#include "heavylift/v1/image.grpc.pb.h"
#include "tasks/image/limits.h"
#include "tasks/image/transform_stream.h"

namespace heavylift {

// Feeds the messages of one TransformUpload call into a TransformUpload.
// `allowed` is the call's bearer-token check: when it failed, the first
// message or the end of the stream finishes the call with it.
class TransformUploadHandler final : public ClientStreamHandler<v1::TransformUploadChunk, v1::TransformResponse> {
 public:
  TransformUploadHandler(const ImageLimits& limits, const BlobReader& blobs, Status allowed)
      : upload_(limits, blobs), allowed_(std::move(allowed)) {}

  Status on_message(v1::TransformUploadChunk& message, TaskContext& context) override {
    if (!allowed_.ok()) return allowed_;
    return upload_.add(message, context);
  }
  Status on_end(v1::TransformResponse* response, TaskContext& context) override {
    if (!allowed_.ok()) return allowed_;
    return upload_.finish(response, context);
  }

 private:
  TransformUpload upload_;
  Status allowed_;
};

// Produces the messages of one TransformStream call. `allowed` is the
// call's bearer-token check: when it failed, the call ends with it before
// the transform runs.
class TransformStreamProducer final : public ServerStreamProducer<v1::TransformStreamChunk> {
 public:
  TransformStreamProducer(v1::TransformRequest request, const ImageLimits& limits, const BlobReader& blobs,
                          Status allowed)
      : stream_(std::move(request), limits, blobs), allowed_(std::move(allowed)) {}

  Status next(v1::TransformStreamChunk* message, bool* last, TaskContext& context) override {
    if (!allowed_.ok()) return allowed_;
    return stream_.next(message, last, context);
  }

 private:
  TransformOutputStream stream_;
  Status allowed_;
};

class ImageServiceImpl final : public v1::ImageService::CallbackService {
 public:
  // Every argument must outlive the service.
  ImageServiceImpl(TaskCallDispatcher& dispatcher, StreamCallTracker& streams, const ImageLimits& limits,
                   const BlobReader& blobs)
      : dispatcher_(dispatcher), streams_(streams), limits_(limits), blobs_(blobs) {}

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

  grpc::ServerReadReactor<v1::TransformUploadChunk>* TransformUpload(grpc::CallbackServerContext* context,
                                                                     v1::TransformResponse* response) override {
    StreamCallOptions options;
    options.method = "image.transform_upload";
    options.max_call_bytes = limits_.max_stream_input_bytes;
    options.payload_bytes = [](const google::protobuf::Message& message) -> uint64_t {
      return static_cast<const v1::TransformUploadChunk&>(message).data().size();
    };
    options.bytes_setting = "image.max_stream_input_bytes";
    // The bound covers the whole upload, so a client that sends the request
    // and then stops sending is cut off too.
    options.max_call_duration = std::chrono::milliseconds(limits_.max_call_ms);
    options.duration_setting = "image.max_call_ms";
    auto handler = std::make_unique<TransformUploadHandler>(limits_, blobs_, dispatcher_.authenticate(*context));
    return ClientStreamCall<v1::TransformUploadChunk, v1::TransformResponse>::start(
        context, response, std::move(options), std::move(handler), streams_);
  }

  grpc::ServerWriteReactor<v1::TransformStreamChunk>* TransformStream(grpc::CallbackServerContext* context,
                                                                      const v1::TransformRequest* request) override {
    auto producer =
        std::make_unique<TransformStreamProducer>(*request, limits_, blobs_, dispatcher_.authenticate(*context));
    return ServerStreamCall<v1::TransformStreamChunk>::start(context, "image.transform_stream", std::move(producer),
                                                             streams_);
  }

 private:
  TaskCallDispatcher& dispatcher_;
  StreamCallTracker& streams_;
  ImageLimits limits_;
  const BlobReader& blobs_;
};

}  // namespace heavylift
