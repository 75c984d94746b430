// Reads the bytes a BlobRef names: inline request bytes, or a file confined
// under the configured blob root.
//
// Thread-safety: a BlobReader is immutable after construction and may be used
// from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "heavylift/v1/common.pb.h"

namespace heavylift {

// The bytes of a blob. Inline data is borrowed from the request message,
// which must outlive the Blob; the bytes of a file are owned.
struct Blob {
  std::string owned;
  std::string_view borrowed;

  std::string_view bytes() const { return owned.empty() ? borrowed : std::string_view(owned); }
};

// A regular file under the blob root, opened read-only and not yet read.
// Owns its file descriptor, which is positioned at the start of the file.
class BlobFile {
 public:
  BlobFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~BlobFile();
  BlobFile(BlobFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  BlobFile& operator=(BlobFile&&) = delete;
  BlobFile(const BlobFile&) = delete;
  BlobFile& operator=(const BlobFile&) = delete;

  int fd() const { return fd_; }
  // Bytes, from fstat when the file was opened.
  uint64_t size() const { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

class BlobReader {
 public:
  // `root` is the directory that path references are confined to. An empty
  // root disables path references. The root must exist when read() is called.
  explicit BlobReader(std::string root);

  // Returns the bytes of `ref`. `field` is the request field that holds the
  // reference and names it in errors. Errors are INVALID_ARGUMENT, by reason:
  //   MISSING: neither data nor path is set;
  //   EMPTY: zero bytes;
  //   TOO_LARGE: more than `max_bytes` bytes (checked before a file is read);
  //   PATH_OUTSIDE_ROOT: the path leaves the root, through `..`, an absolute
  //     path elsewhere or a symbolic link;
  //   NOT_FOUND, NOT_A_FILE (a directory, FIFO or device),
  //     UNREADABLE (permissions, symbolic link loops, read errors).
  // A path without a configured root is FAILED_PRECONDITION, reason
  // PATHS_DISABLED. A root that cannot be opened, or a kernel without
  // openat2, is INTERNAL.
  Result<Blob> read(const v1::BlobRef& ref, std::string_view field, uint64_t max_bytes) const;

  // Opens the file that the path reference `path` names, with the checks
  // and errors of read() for a path (the confinement to the root, the file
  // kind, EMPTY and TOO_LARGE), without reading it. `field` names the
  // reference, as for read(); errors name `field`.path.
  Result<BlobFile> open_path(const std::string& path, std::string_view field, uint64_t max_bytes) const;

  // Checks that the root, when set, is a directory this process can open.
  // Returns INVALID_ARGUMENT naming blob.root otherwise.
  Status check_root() const;

  const std::string& root() const { return root_; }

 private:
  Result<BlobFile> open_file(const std::string& path, const std::string& field, uint64_t max_bytes) const;

  std::string root_;
};

}  // namespace heavylift
