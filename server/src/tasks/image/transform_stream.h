// The two streaming forms of image.transform, independent of gRPC:
// TransformUpload collects a source that arrives in chunks, and
// TransformOutputStream cuts a transform's outputs into bounded messages.
// grpc/image_service.h runs them in ClientStreamCall and ServerStreamCall.
//
// Thread-safety: an object serves one call, one method call at a time.
#pragma once

#include <optional>
#include <string>

#include "core/blob.h"
#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/image.pb.h"
#include "tasks/image/limits.h"
#include "tasks/image/vips_support.h"

namespace heavylift {

// Receives the messages of one TransformUpload call: the request first,
// then the source's bytes. Once `kHeaderProbeBytes` or the whole header has
// arrived, the header is read and a source over `image.max_input_pixels` is
// rejected before the rest of the stream is received. The stream's total
// size is bounded by the caller (ClientStreamCall's max_call_bytes).
class TransformUpload {
 public:
  // Bytes of a stream's start that are probed for the header. A header
  // that ends later (a TIFF whose directory is at the end) is checked when
  // the stream ends.
  static constexpr size_t kHeaderProbeBytes = 1 << 20;

  // `blobs` reads composite overlays and must outlive the object.
  TransformUpload(const ImageLimits& limits, const BlobReader& blobs) : limits_(limits), blobs_(blobs) {}

  // Takes one message. The first must carry `request` with `input` unset;
  // later ones must not carry a request. Each message's data is at most
  // `image.max_stream_chunk_bytes`. `message` may be moved from.
  Status add(v1::TransformUploadChunk& message, TaskContext& context);

  // Runs the transform on the collected source after the client
  // half-closed, and frees the source.
  Status finish(v1::TransformResponse* response, TaskContext& context);

 private:
  Status open(v1::TransformUploadChunk& message, TaskContext& context);
  Status probe_header();

  ImageLimits limits_;
  const BlobReader& blobs_;
  std::optional<v1::TransformRequest> request_;
  // Counts `image.max_call_ms` from the first message, so receiving the
  // source and transforming it share one budget.
  std::optional<ImageCall> call_;
  std::string source_;
  bool header_checked_ = false;
};

// Runs one transform and returns its outputs as TransformStreamChunk
// messages of at most `image.max_stream_chunk_bytes` of data each. The
// transform runs on the first next(); each output's bytes are freed once
// its last message has been produced.
class TransformOutputStream {
 public:
  // `blobs` must outlive the object.
  TransformOutputStream(v1::TransformRequest request, const ImageLimits& limits, const BlobReader& blobs)
      : request_(std::move(request)), limits_(limits), blobs_(blobs) {}

  // Fills the next message and sets `*last` on the final one. Transform
  // errors are returned by the first call, before any message.
  Status next(v1::TransformStreamChunk* message, bool* last, TaskContext& context);

 private:
  v1::TransformRequest request_;
  ImageLimits limits_;
  const BlobReader& blobs_;
  bool transformed_ = false;
  v1::TransformResponse response_;
  int output_ = 0;
  size_t offset_ = 0;
};

}  // namespace heavylift
