// The Download pipeline: reads a stored file (under the blob root, or from
// the GridFS bucket) and hands it out one message at a time, optionally
// decompressed. It contains no transport code: the gRPC FileService requests
// the next message only after the previous one was sent.
//
// Memory is bounded whatever the file size: one source read (256 KiB from a
// file, kGridfsReadBatch chunks from GridFS), the decoder's window, and one
// message of at most chunk_bytes + kCodecOutputChunk bytes. The decoder runs
// in steps of at most kCodecOutputChunk output bytes, so even a
// decompression bomb produces one message's worth per call before its bound
// stops it.
//
// Thread-safety: a DownloadPipeline is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/files.pb.h"
#include "tasks/files/blob_store.h"
#include "tasks/files/codec.h"
#include "tasks/files/gridfs_store.h"
#include "tasks/files/limits.h"

namespace heavylift {

// Message size when DownloadRequest.chunk_bytes is zero.
inline constexpr uint32_t kDefaultDownloadChunkBytes = 256 * 1024;

class DownloadPipeline {
 public:
  // Validates `request` (INVALID_ARGUMENT naming the field) and opens the
  // source. `gridfs` contains the FAILED_PRECONDITION to return when a
  // gridfs_id is asked for and GridFS is not configured.
  static Result<std::unique_ptr<DownloadPipeline>> open(const v1::DownloadRequest& request,
                                                        const FilesLimits& limits, const std::string& blob_root,
                                                        const Result<std::shared_ptr<GridfsStore>>& gridfs);

  // Fills the next message; sets *last on the final one.
  Status next(v1::DownloadChunk* message, bool* last, TaskContext& context);

 private:
  DownloadPipeline() = default;
  // Returns the next bytes of the stored file, empty at its end.
  Result<std::string_view> read_source();
  Status start_decoder(std::string_view head);

  v1::DownloadRequest request_;
  uint64_t bound_ = 0;
  std::string bound_name_;
  uint32_t chunk_bytes_ = kDefaultDownloadChunkBytes;
  uint64_t stored_bytes_ = 0;
  std::unique_ptr<BlobFileReader> file_;
  std::unique_ptr<GridfsReader> gridfs_;
  std::string read_buffer_;
  std::unique_ptr<StreamCodec> decoder_;
  v1::CompressionFormat format_ = v1::COMPRESSION_FORMAT_UNSPECIFIED;
  // Source bytes read and not yet given to the decoder or a message.
  std::string_view pending_;
  bool source_done_ = false;
  bool more_output_ = false;
  bool first_ = true;
};

}  // namespace heavylift
