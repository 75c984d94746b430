#include "tasks/files/blob_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace heavylift {
namespace {

int open_beneath(int root_fd, const std::string& relative, uint64_t flags, uint64_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC | O_NOCTTY;
  how.mode = mode;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  for (;;) {
    const int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) return fd;
  }
}

// Creates each directory of `relative` (a path we built from hex digits)
// beneath `root_fd`, accepting ones that exist.
Status make_directories(int root_fd, const std::string& relative) {
  size_t slash = 0;
  while ((slash = relative.find('/', slash + 1)) != std::string::npos) {
    const std::string directory = relative.substr(0, slash);
    if (::mkdirat(root_fd, directory.c_str(), 0750) != 0 && errno != EEXIST) {
      return Error::internal(fmt::format("cannot create {} under the blob root: {}", directory, std::strerror(errno)));
    }
  }
  return Status::Ok();
}

Result<int> open_root(const std::string& root) {
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::internal(fmt::format("the blob root {} cannot be opened: {}", quote_value(root), std::strerror(errno)));
  }
  return fd;
}

// Checks that a blob root is configured and `relative_path` is relative.
// `verb` ("read", "written") completes the PATHS_DISABLED message.
Status check_relative_path(const std::string& root, const std::string& relative_path, const std::string& field,
                           const char* verb) {
  if (root.empty()) {
    return Error{Code::kFailedPrecondition,
                 fmt::format("{} cannot be {}: no blob root is configured; start heavylift with --blob-root", field,
                             verb),
                 field, "", "", "PATHS_DISABLED", 0};
  }
  if (relative_path.empty() || relative_path.front() == '/') {
    return Error::invalid(field, "PATH_OUTSIDE_ROOT",
                          fmt::format("{} must be a relative path under the blob root, got {}", field,
                                      quote_value(relative_path)),
                          "a relative path", quote_value(relative_path));
  }
  return Status::Ok();
}

// The PATH_OUTSIDE_ROOT error of an openat2 that failed with EXDEV or ELOOP.
Error outside_root(const std::string& field, const std::string& relative_path) {
  return Error::invalid(field, "PATH_OUTSIDE_ROOT",
                        fmt::format("{} {} resolves outside the blob root or through a symbolic link", field,
                                    quote_value(relative_path)),
                        "inside the blob root", quote_value(relative_path));
}

}  // namespace

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && root_fd_ >= 0 && !relative_path_.empty()) ::unlinkat(root_fd_, relative_path_.c_str(), 0);
  if (root_fd_ >= 0) ::close(root_fd_);
}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : root_fd_(other.root_fd_), fd_(other.fd_), relative_path_(std::move(other.relative_path_)),
      committed_(other.committed_), bytes_written_(other.bytes_written_) {
  other.root_fd_ = -1;
  other.fd_ = -1;
  other.relative_path_.clear();
}

Result<BlobWriter> BlobWriter::create_temporary(const std::string& root) {
  if (root.empty()) {
    return Error{Code::kFailedPrecondition, "options.store needs a blob root; start heavylift with --blob-root",
                 "options.store", "", "", "PATHS_DISABLED", 0};
  }
  Result<int> root_fd = open_root(root);
  if (!root_fd.ok()) return root_fd.error();
  BlobWriter writer;
  writer.root_fd_ = root_fd.value();
  writer.relative_path_ = fmt::format("files/tmp/upload-{:08x}{:08x}", randombytes_random(), randombytes_random());
  if (Status s = make_directories(writer.root_fd_, writer.relative_path_); !s.ok()) return s.error();
  writer.fd_ = open_beneath(writer.root_fd_, writer.relative_path_, O_WRONLY | O_CREAT | O_EXCL, 0640);
  if (writer.fd_ < 0) {
    const std::string reason = std::strerror(errno);
    writer.relative_path_.clear();
    return Error::internal(fmt::format("cannot create a temporary upload file under the blob root: {}", reason));
  }
  return writer;
}

Result<BlobWriter> BlobWriter::create_output(const std::string& root, const std::string& relative_path,
                                             const std::string& field) {
  if (Status s = check_relative_path(root, relative_path, field, "written"); !s.ok()) return s.error();
  Result<int> root_fd = open_root(root);
  if (!root_fd.ok()) return root_fd.error();
  BlobWriter writer;
  writer.root_fd_ = root_fd.value();
  writer.fd_ = open_beneath(writer.root_fd_, relative_path, O_WRONLY | O_CREAT | O_EXCL, 0640);
  if (writer.fd_ < 0) {
    const int open_errno = errno;
    if (open_errno == EXDEV || open_errno == ELOOP) return outside_root(field, relative_path);
    if (open_errno == EEXIST) {
      return Error::invalid(field, "ALREADY_EXISTS",
                            fmt::format("{} {} exists already; choose a new name", field, quote_value(relative_path)));
    }
    if (open_errno == ENOENT || open_errno == ENOTDIR) {
      return Error::invalid(field, "NOT_FOUND",
                            fmt::format("the directory of {} {} does not exist under the blob root", field,
                                        quote_value(relative_path)));
    }
    return Error::internal(fmt::format("cannot create {} {}: {}", field, quote_value(relative_path),
                                       std::strerror(open_errno)));
  }
  writer.relative_path_ = relative_path;
  return writer;
}

Status BlobWriter::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Error::internal(fmt::format("writing under the blob root failed: {}", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(written));
    bytes_written_ += static_cast<uint64_t>(written);
  }
  return Status::Ok();
}

Result<std::string> BlobWriter::commit_by_digest(const std::string& sha256_hex, const std::string& extension,
                                                 bool* deduplicated) {
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Error::internal(fmt::format("closing an upload file failed: {}", std::strerror(errno)));
  }
  fd_ = -1;
  const std::string final_path = fmt::format("files/sha256/{}/{}{}", sha256_hex.substr(0, 2), sha256_hex, extension);
  if (Status s = make_directories(root_fd_, final_path); !s.ok()) return s.error();
  // linkat fails with EEXIST rather than replacing a stored file, which makes
  // the store idempotent under concurrent uploads of the same bytes.
  *deduplicated = false;
  if (::linkat(root_fd_, relative_path_.c_str(), root_fd_, final_path.c_str(), 0) != 0) {
    if (errno != EEXIST) {
      return Error::internal(fmt::format("storing the upload as {} failed: {}", final_path, std::strerror(errno)));
    }
    *deduplicated = true;
  }
  ::unlinkat(root_fd_, relative_path_.c_str(), 0);
  relative_path_.clear();
  committed_ = true;
  return final_path;
}

BlobFileReader::~BlobFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<BlobFileReader> BlobFileReader::open(const std::string& root, const std::string& relative_path,
                                            const std::string& field) {
  if (Status s = check_relative_path(root, relative_path, field, "read"); !s.ok()) return s.error();
  Result<int> root_fd = open_root(root);
  if (!root_fd.ok()) return root_fd.error();
  BlobFileReader reader;
  reader.fd_ = open_beneath(root_fd.value(), relative_path, O_RDONLY | O_NONBLOCK, 0);
  const int open_errno = errno;
  ::close(root_fd.value());
  if (reader.fd_ < 0) {
    if (open_errno == EXDEV || open_errno == ELOOP) return outside_root(field, relative_path);
    if (open_errno == ENOENT || open_errno == ENOTDIR) {
      return Error::invalid(field, "NOT_FOUND",
                            fmt::format("{} {} does not exist under the blob root", field, quote_value(relative_path)));
    }
    return Error::internal(fmt::format("cannot open {} {}: {}", field, quote_value(relative_path),
                                       std::strerror(open_errno)));
  }
  struct stat info;
  if (::fstat(reader.fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    return Error::invalid(field, "NOT_A_FILE",
                          fmt::format("{} {} is not a regular file", field, quote_value(relative_path)));
  }
  reader.size_ = static_cast<uint64_t>(info.st_size);
  return reader;
}

Result<size_t> BlobFileReader::read(char* buffer, size_t capacity) {
  for (;;) {
    const ssize_t got = ::read(fd_, buffer, capacity);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) {
      return Error::internal(fmt::format("reading under the blob root failed: {}", std::strerror(errno)));
    }
  }
}

Status BlobWriter::commit_output() {
  const int result = ::close(fd_);
  fd_ = -1;
  if (result != 0) return Error::internal(fmt::format("closing an output file failed: {}", std::strerror(errno)));
  committed_ = true;
  return Status::Ok();
}

}  // namespace heavylift
