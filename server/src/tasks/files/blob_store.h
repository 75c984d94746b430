// Files written under the blob root: uploads stored by digest and task
// outputs at a caller-chosen path. Every file is opened through openat2 with
// RESOLVE_BENEATH, so nothing is written outside the root.
//
// Stored uploads live at `files/sha256/<first two hex digits>/<sha256><ext>`.
// A new upload is written to `files/tmp/` and linked into place when it
// completes; when the name exists already the upload is deduplicated and its
// temporary file removed. A file at its final name is therefore always
// complete.
//
// Thread-safety: separate objects may be used from separate threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace heavylift {

// A file being written under the blob root. Removed on destruction unless
// committed.
class BlobWriter {
 public:
  BlobWriter() = default;
  ~BlobWriter();
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&& other) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Creates a temporary file under `root`/files/tmp for an upload. Returns
  // FAILED_PRECONDITION when `root` is empty (no blob.root is set) and
  // INTERNAL on file system errors.
  static Result<BlobWriter> create_temporary(const std::string& root);

  // Creates `relative_path` under `root` for a task output; the file must
  // not exist. Errors name `field`: INVALID_ARGUMENT for PATH_OUTSIDE_ROOT,
  // ALREADY_EXISTS and NOT_FOUND (a missing directory), FAILED_PRECONDITION
  // for PATHS_DISABLED.
  static Result<BlobWriter> create_output(const std::string& root, const std::string& relative_path,
                                          const std::string& field);

  Status write(std::string_view bytes);

  // Links the temporary file to files/sha256/<xx>/<sha256_hex><extension>
  // and returns that path relative to the root, with *deduplicated true when
  // the name existed already.
  Result<std::string> commit_by_digest(const std::string& sha256_hex, const std::string& extension,
                                       bool* deduplicated);

  // Keeps an output file created by create_output().
  Status commit_output();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  int root_fd_ = -1;
  int fd_ = -1;
  std::string relative_path_;
  bool committed_ = false;
  uint64_t bytes_written_ = 0;
};

// A file under the blob root opened for reading, closed on destruction.
class BlobFileReader {
 public:
  BlobFileReader() = default;
  ~BlobFileReader();
  BlobFileReader(BlobFileReader&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  BlobFileReader& operator=(BlobFileReader&&) = delete;
  BlobFileReader(const BlobFileReader&) = delete;
  BlobFileReader& operator=(const BlobFileReader&) = delete;

  // Opens `relative_path` beneath `root`. Errors name `field`: INVALID_ARGUMENT
  // for PATH_OUTSIDE_ROOT, NOT_FOUND and NOT_A_FILE, FAILED_PRECONDITION for
  // PATHS_DISABLED.
  static Result<BlobFileReader> open(const std::string& root, const std::string& relative_path,
                                     const std::string& field);

  uint64_t size() const { return size_; }

  // Reads up to `capacity` bytes into `buffer`; 0 at the end.
  Result<size_t> read(char* buffer, size_t capacity);

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace heavylift
