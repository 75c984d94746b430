// heavylift.v1.FileService: the streaming Upload over ClientStreamCall, the
// streaming Download over ServerStreamCall and the unary file tasks over the
// TaskCallDispatcher.
//
// Thread-safety: gRPC calls the methods from any thread; each upload's
// handler runs on one executor thread at a time.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>

#include "grpc/server_stream_call.h"
#include "grpc/stream_call.h"
#include "grpc/task_call.h"
#include "heavylift/v1/files.grpc.pb.h"
#include "tasks/files/download.h"
#include "tasks/files/gridfs_store.h"
#include "tasks/files/limits.h"
#include "tasks/files/upload.h"

namespace heavylift {

// Feeds the messages of one Upload call into an UploadPipeline. The first
// message's options open the pipeline.
class UploadHandler final : public ClientStreamHandler<v1::UploadChunk, v1::UploadResult> {
 public:
  UploadHandler(const FilesLimits& limits, std::string blob_root, Result<std::shared_ptr<GridfsStore>> gridfs)
      : limits_(limits), blob_root_(std::move(blob_root)), gridfs_(std::move(gridfs)) {}

  Status on_message(v1::UploadChunk& message, TaskContext&) override {
    if (!pipeline_) {
      if (Status s = open(message.options()); !s.ok()) return s;
    }
    if (message.data().size() > limits_.max_chunk_bytes) {
      Error error = Error::out_of_range("data", fmt::format("<= {} bytes per message (files.max_chunk_bytes)",
                                                            limits_.max_chunk_bytes),
                                        fmt::format("{} bytes", message.data().size()));
      error.reason = "TOO_LARGE";
      return error;
    }
    return pipeline_->write(message.data());
  }

  Status on_end(v1::UploadResult* response, TaskContext&) override {
    // An upload of zero messages is an empty file with default options.
    if (!pipeline_) {
      if (Status s = open(v1::UploadOptions()); !s.ok()) return s;
    }
    return pipeline_->finish(response);
  }

 private:
  Status open(const v1::UploadOptions& options) {
    Result<std::unique_ptr<UploadPipeline>> pipeline = UploadPipeline::create(options, limits_, blob_root_, gridfs_);
    if (!pipeline.ok()) return pipeline.error();
    pipeline_ = std::move(pipeline).value();
    return Status::Ok();
  }

  FilesLimits limits_;
  std::string blob_root_;
  Result<std::shared_ptr<GridfsStore>> gridfs_;
  std::unique_ptr<UploadPipeline> pipeline_;
};

// Produces the messages of one Download call. The pipeline opens on the
// first message, on the executor, since opening may query MongoDB.
class DownloadProducer final : public ServerStreamProducer<v1::DownloadChunk> {
 public:
  DownloadProducer(v1::DownloadRequest request, const FilesLimits& limits, std::string blob_root,
                   Result<std::shared_ptr<GridfsStore>> gridfs)
      : request_(std::move(request)), limits_(limits), blob_root_(std::move(blob_root)), gridfs_(std::move(gridfs)) {}

  Status next(v1::DownloadChunk* message, bool* last, TaskContext& context) override {
    if (!pipeline_) {
      Result<std::unique_ptr<DownloadPipeline>> pipeline =
          DownloadPipeline::open(request_, limits_, blob_root_, gridfs_);
      if (!pipeline.ok()) return pipeline.error();
      pipeline_ = std::move(pipeline).value();
    }
    return pipeline_->next(message, last, context);
  }

 private:
  v1::DownloadRequest request_;
  FilesLimits limits_;
  std::string blob_root_;
  Result<std::shared_ptr<GridfsStore>> gridfs_;
  std::unique_ptr<DownloadPipeline> pipeline_;
};

class FileServiceImpl final : public v1::FileService::CallbackService {
 public:
  // Every argument must outlive the service.
  FileServiceImpl(TaskCallDispatcher& dispatcher, StreamCallTracker& streams, const FilesLimits& limits,
                  std::string blob_root)
      : dispatcher_(dispatcher), streams_(streams), limits_(limits), blob_root_(std::move(blob_root)),
        gridfs_(GridfsStore::open(limits.gridfs)) {}

  grpc::ServerReadReactor<v1::UploadChunk>* Upload(grpc::CallbackServerContext* context,
                                                   v1::UploadResult* response) override {
    StreamCallOptions options;
    options.method = "files.upload";
    options.max_call_bytes = limits_.max_upload_bytes;
    options.payload_bytes = [](const google::protobuf::Message& message) -> uint64_t {
      return static_cast<const v1::UploadChunk&>(message).data().size();
    };
    options.bytes_setting = "files.max_upload_bytes";
    options.max_buffered_messages = limits_.max_buffered_chunks;
    return ClientStreamCall<v1::UploadChunk, v1::UploadResult>::start(
        context, response, std::move(options), std::make_unique<UploadHandler>(limits_, blob_root_, gridfs_), streams_);
  }

  grpc::ServerWriteReactor<v1::DownloadChunk>* Download(grpc::CallbackServerContext* context,
                                                        const v1::DownloadRequest* request) override {
    return ServerStreamCall<v1::DownloadChunk>::start(
        context, "files.download", std::make_unique<DownloadProducer>(*request, limits_, blob_root_, gridfs_),
        streams_);
  }

  grpc::ServerUnaryReactor* Digest(grpc::CallbackServerContext* context, const v1::DigestRequest* request,
                                   v1::DigestResponse* response) override {
    return dispatcher_.dispatch(context, "files.digest", request, response);
  }
  grpc::ServerUnaryReactor* Compress(grpc::CallbackServerContext* context, const v1::CompressRequest* request,
                                     v1::CompressResponse* response) override {
    return dispatcher_.dispatch(context, "files.compress", request, response);
  }
  grpc::ServerUnaryReactor* Decompress(grpc::CallbackServerContext* context, const v1::DecompressRequest* request,
                                       v1::DecompressResponse* response) override {
    return dispatcher_.dispatch(context, "files.decompress", request, response);
  }
  grpc::ServerUnaryReactor* ProfileCsv(grpc::CallbackServerContext* context, const v1::ProfileCsvRequest* request,
                                       v1::ProfileResponse* response) override {
    return dispatcher_.dispatch(context, "files.profile_csv", request, response);
  }
  grpc::ServerUnaryReactor* ProfileNdjson(grpc::CallbackServerContext* context,
                                          const v1::ProfileNdjsonRequest* request,
                                          v1::ProfileResponse* response) override {
    return dispatcher_.dispatch(context, "files.profile_ndjson", request, response);
  }
  grpc::ServerUnaryReactor* CsvToNdjson(grpc::CallbackServerContext* context, const v1::CsvToNdjsonRequest* request,
                                        v1::CsvToNdjsonResponse* response) override {
    return dispatcher_.dispatch(context, "files.csv_to_ndjson", request, response);
  }

 private:
  TaskCallDispatcher& dispatcher_;
  StreamCallTracker& streams_;
  FilesLimits limits_;
  std::string blob_root_;
  // The GridFS bucket, or the FAILED_PRECONDITION naming the missing setting.
  Result<std::shared_ptr<GridfsStore>> gridfs_;
};

}  // namespace heavylift
