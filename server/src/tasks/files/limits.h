// Bounds of the file tasks and the upload stream, set from the `files.*`
// settings.
#pragma once

#include <cstdint>
#include <string>

namespace heavylift {

struct ProfileLimits {
  // Widest header accepted; wider input fails with INVALID_ARGUMENT.
  uint32_t max_columns = 4096;
  // Longest CSV field or NDJSON line.
  uint64_t max_field_bytes = 16u << 20;
  // Bad rows returned as examples; all are counted.
  uint32_t max_bad_row_examples = 10;
  // Top values returned per column.
  uint32_t top_values = 10;
};

// The GridFS bucket for uploads with the `gridfs` option. An empty uri disables
// GridFS storage.
struct GridfsSettings {
  // MongoDB connection string (MongoDB or FerretDB).
  std::string uri;
  // Database of the bucket; empty takes the database named in the uri.
  std::string database;
  // Bucket name: files go to <bucket>.files and <bucket>.chunks.
  std::string bucket = "fs";
  // Age in seconds after which chunks that no finished upload owns (left by
  // a daemon killed mid-upload) are deleted; 0 keeps them.
  uint32_t stale_upload_s = 86'400;
};

struct FilesLimits {
  // Bytes one upload call may send; more fails it with INVALID_ARGUMENT.
  uint64_t max_upload_bytes = 64ull << 30;
  // Largest `data` in one upload message.
  uint32_t max_chunk_bytes = 4u << 20;
  // Upload messages received and not yet processed, per call. When this many
  // wait, the call stops reading until the executor catches up.
  uint32_t max_buffered_chunks = 4;
  // Largest blob the unary file tasks read (inline or from a path).
  uint64_t max_input_bytes = 256u << 20;
  // Largest output a unary task returns inline; larger outputs need output_path.
  uint64_t max_inline_output_bytes = 64u << 20;
  // Largest decompressed output; the bound that stops decompression bombs.
  uint64_t max_decompressed_bytes = 1ull << 30;
  ProfileLimits profile;
  GridfsSettings gridfs;
};

}  // namespace heavylift
