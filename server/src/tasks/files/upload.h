// The single-pass upload pipeline: every byte of an upload goes once through
// the digests, the content-type sniffer, the optional compressor, the
// optional store and the optional CSV profiler. It contains no transport
// code: the gRPC FileService feeds it chunks on an executor thread.
//
// Memory is bounded whatever the upload size: the digest states, 4 KiB of
// head for sniffing, the compressor's window and output buffer, and one
// CSV field.
//
// Thread-safety: an UploadPipeline is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "heavylift/v1/files.pb.h"
#include "tasks/files/blob_store.h"
#include "tasks/files/codec.h"
#include "tasks/files/digest.h"
#include "tasks/files/gridfs_store.h"
#include "tasks/files/limits.h"
#include "tasks/files/profile.h"

namespace heavylift {

class UploadPipeline {
 public:
  // Validates `options` (INVALID_ARGUMENT names the field under "options.")
  // and opens a temporary file under `blob_root` when options.store is set,
  // and a GridFS writer on `gridfs` when options.gridfs is set (`gridfs`
  // contains the FAILED_PRECONDITION to return when GridFS is not configured).
  static Result<std::unique_ptr<UploadPipeline>> create(const v1::UploadOptions& options, const FilesLimits& limits,
                                                        const std::string& blob_root,
                                                        const Result<std::shared_ptr<GridfsStore>>& gridfs = GridfsStore::open(GridfsSettings{}));

  // Processes the next bytes. Fails with INVALID_ARGUMENT, reason TOO_LARGE,
  // once the total passes files.max_upload_bytes or options.expected_bytes.
  Status write(std::string_view bytes);

  // Completes the upload and fills `*out`. Call once, after the last write.
  // A failed or abandoned pipeline removes its temporary file.
  Status finish(v1::UploadResult* out);

  uint64_t bytes() const { return bytes_; }

 private:
  UploadPipeline() = default;
  // Writes stored (possibly compressed) bytes to every requested store.
  Status store(std::string_view bytes);

  v1::UploadOptions options_;
  FilesLimits limits_;
  std::unique_ptr<StreamDigester> digester_;
  std::unique_ptr<StreamCodec> encoder_;
  std::optional<BlobWriter> writer_;
  std::unique_ptr<GridfsWriter> gridfs_writer_;
  std::unique_ptr<CsvProfiler> profiler_;
  std::string head_;
  uint64_t bytes_ = 0;
};

}  // namespace heavylift
