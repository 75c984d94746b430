// Files written under the blob root: uploads stored by digest and task
// outputs at a caller-chosen path. Every file is opened through openat2 with
// RESOLVE_BENEATH, so nothing is written outside the root.
//
// Stored uploads live at `files/sha256/<first two hex digits>/<sha256><ext>`.
// Every file is written without a name (O_TMPFILE, in `files/tmp/` for an
// upload and in the output's directory for a task output) and linked to its
// final name only when complete. A file at its final name is therefore always
// complete, and a failed upload, or a daemon killed mid-write, leaves no file.
// When the name exists already, an upload is deduplicated and an output fails
// with ALREADY_EXISTS.
//
// NOTE: on a file system without O_TMPFILE, or without /proc/self/fd, the
// writer falls back to a named temporary file (`files/tmp/upload-<random>`,
// or `.heavylift-<random>` beside an output). A daemon killed mid-write
// leaves that file behind.
//
// Thread-safety: separate objects may be used from separate threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace heavylift {

// Makes BlobWriter use the named fallback even where O_TMPFILE works (false),
// or the unnamed file again (true, the default). For tests of the fallback.
void set_unnamed_blob_files(bool enabled);

// A file being written under the blob root, without a name until committed.
// Discarded on destruction unless committed.
class BlobWriter {
 public:
  BlobWriter() = default;
  ~BlobWriter();
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&& other) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Creates the file of an upload under `root`/files/tmp. Returns
  // FAILED_PRECONDITION when `root` is empty (no blob.root is set) and
  // INTERNAL on file system errors.
  static Result<BlobWriter> create_temporary(const std::string& root);

  // Creates the file of a task output that commit_output() names
  // `relative_path` under `root`. Errors name `field`: INVALID_ARGUMENT for
  // PATH_OUTSIDE_ROOT, ALREADY_EXISTS, NOT_FOUND (a missing directory) and
  // NOT_A_FILE (a path that names a directory), FAILED_PRECONDITION for
  // PATHS_DISABLED.
  static Result<BlobWriter> create_output(const std::string& root, const std::string& relative_path,
                                          const std::string& field);

  Status write(std::string_view bytes);

  // Links the upload's file to files/sha256/<xx>/<sha256_hex><extension>
  // and returns that path relative to the root, with *deduplicated true when
  // the name existed already.
  Result<std::string> commit_by_digest(const std::string& sha256_hex, const std::string& extension,
                                       bool* deduplicated);

  // Links the output's file to the path given to create_output().
  // ALREADY_EXISTS when another file took that name meanwhile.
  Status commit_output();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  // Opens the file in `directory` (beneath root_fd_, checked or built by us):
  // unnamed where the file system allows, else under a random name that
  // starts with `fallback_prefix`.
  Status open_file(const std::string& directory, const std::string& fallback_prefix);
  // Gives the written file the name `name` beneath `dir_fd`. Returns 0, or
  // the errno of linkat.
  int link_as(int dir_fd, const std::string& name) const;
  // Closes the file, returning INTERNAL naming `description` when close fails.
  Status close_file(const char* description);

  int root_fd_ = -1;
  int fd_ = -1;
  // The named fallback file relative to root_fd_, empty for an unnamed file.
  std::string named_path_;
  // For an output: its directory, the name in it, the caller's path and field.
  int output_dir_fd_ = -1;
  std::string output_name_;
  std::string output_path_;
  std::string field_;
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
