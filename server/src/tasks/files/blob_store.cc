#include "tasks/files/blob_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
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

std::atomic<bool> unnamed_files_enabled{true};

// The ALREADY_EXISTS error of an output path that names an existing file.
Error already_exists(const std::string& field, const std::string& relative_path) {
  return Error::invalid(field, "ALREADY_EXISTS",
                        fmt::format("{} {} exists already; choose a new name", field, quote_value(relative_path)));
}

}  // namespace

void set_unnamed_blob_files(bool enabled) { unnamed_files_enabled.store(enabled); }

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !named_path_.empty()) ::unlinkat(root_fd_, named_path_.c_str(), 0);
  if (output_dir_fd_ >= 0) ::close(output_dir_fd_);
  if (root_fd_ >= 0) ::close(root_fd_);
}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : root_fd_(other.root_fd_), fd_(other.fd_), named_path_(std::move(other.named_path_)),
      output_dir_fd_(other.output_dir_fd_), output_name_(std::move(other.output_name_)),
      output_path_(std::move(other.output_path_)), field_(std::move(other.field_)), committed_(other.committed_),
      bytes_written_(other.bytes_written_) {
  other.root_fd_ = -1;
  other.fd_ = -1;
  other.output_dir_fd_ = -1;
  other.named_path_.clear();
}

Status BlobWriter::open_file(const std::string& directory, const std::string& fallback_prefix) {
  // Linking an unnamed file needs its /proc/self/fd entry.
  static const bool proc_fd_available = ::access("/proc/self/fd", X_OK) == 0;
  if (proc_fd_available && unnamed_files_enabled.load()) {
    fd_ = open_beneath(root_fd_, directory, O_TMPFILE | O_WRONLY, 0640);
    if (fd_ >= 0) return Status::Ok();
    // Kernels before 3.11, which lack O_TMPFILE, fail with EISDIR. File
    // systems without it fail with EOPNOTSUPP.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return Error::internal(fmt::format("cannot create a file in {} under the blob root: {}", directory,
                                         std::strerror(errno)));
    }
  }
  const std::string path = fmt::format("{}/{}{:08x}{:08x}", directory, fallback_prefix, randombytes_random(),
                                       randombytes_random());
  fd_ = open_beneath(root_fd_, path, O_WRONLY | O_CREAT | O_EXCL, 0640);
  if (fd_ < 0) {
    return Error::internal(fmt::format("cannot create a file in {} under the blob root: {}", directory,
                                       std::strerror(errno)));
  }
  named_path_ = path;
  return Status::Ok();
}

int BlobWriter::link_as(int dir_fd, const std::string& name) const {
  int result = 0;
  if (named_path_.empty()) {
    const std::string self = fmt::format("/proc/self/fd/{}", fd_);
    result = ::linkat(AT_FDCWD, self.c_str(), dir_fd, name.c_str(), AT_SYMLINK_FOLLOW);
  } else {
    result = ::linkat(root_fd_, named_path_.c_str(), dir_fd, name.c_str(), 0);
  }
  return result == 0 ? 0 : errno;
}

Status BlobWriter::close_file(const char* description) {
  const int result = ::close(fd_);
  fd_ = -1;
  if (result != 0) return Error::internal(fmt::format("closing {} failed: {}", description, std::strerror(errno)));
  return Status::Ok();
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
  if (Status s = make_directories(writer.root_fd_, "files/tmp/"); !s.ok()) return s.error();
  if (Status s = writer.open_file("files/tmp", "upload-"); !s.ok()) return s.error();
  return writer;
}

Result<BlobWriter> BlobWriter::create_output(const std::string& root, const std::string& relative_path,
                                             const std::string& field) {
  if (Status s = check_relative_path(root, relative_path, field, "written"); !s.ok()) return s.error();
  const size_t slash = relative_path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : relative_path.substr(0, slash);
  const std::string name = slash == std::string::npos ? relative_path : relative_path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return Error::invalid(field, "NOT_A_FILE",
                          fmt::format("{} {} names a directory; give a file name", field, quote_value(relative_path)),
                          "a file name", quote_value(relative_path));
  }

  Result<int> root_fd = open_root(root);
  if (!root_fd.ok()) return root_fd.error();
  BlobWriter writer;
  writer.root_fd_ = root_fd.value();
  writer.output_dir_fd_ = open_beneath(writer.root_fd_, directory, O_RDONLY | O_DIRECTORY, 0);
  if (writer.output_dir_fd_ < 0) {
    const int open_errno = errno;
    if (open_errno == EXDEV || open_errno == ELOOP) return outside_root(field, relative_path);
    if (open_errno == ENOENT || open_errno == ENOTDIR) {
      return Error::invalid(field, "NOT_FOUND",
                            fmt::format("the directory of {} {} does not exist under the blob root", field,
                                        quote_value(relative_path)));
    }
    return Error::internal(fmt::format("cannot open the directory of {} {}: {}", field, quote_value(relative_path),
                                       std::strerror(open_errno)));
  }
  // Checked here so that a taken name fails before any work. commit_output()
  // checks again, because linkat never replaces a file.
  struct stat existing;
  if (::fstatat(writer.output_dir_fd_, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    return already_exists(field, relative_path);
  }
  writer.output_name_ = name;
  writer.output_path_ = relative_path;
  writer.field_ = field;
  if (Status s = writer.open_file(directory, ".heavylift-"); !s.ok()) return s.error();
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
  const std::string final_path = fmt::format("files/sha256/{}/{}{}", sha256_hex.substr(0, 2), sha256_hex, extension);
  if (Status s = make_directories(root_fd_, final_path); !s.ok()) return s.error();
  // linkat fails with EEXIST rather than replacing a stored file, which makes
  // the store idempotent under concurrent uploads of the same bytes.
  *deduplicated = false;
  if (const int link_errno = link_as(root_fd_, final_path); link_errno != 0) {
    if (link_errno != EEXIST) {
      return Error::internal(fmt::format("storing the upload as {} failed: {}", final_path, std::strerror(link_errno)));
    }
    *deduplicated = true;
  }
  if (Status s = close_file("an upload file"); !s.ok()) {
    // The close may report a failed write, so the linked file is not kept.
    if (!*deduplicated) ::unlinkat(root_fd_, final_path.c_str(), 0);
    return s.error();
  }
  committed_ = true;
  if (!named_path_.empty()) ::unlinkat(root_fd_, named_path_.c_str(), 0);
  named_path_.clear();
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
  if (const int link_errno = link_as(output_dir_fd_, output_name_); link_errno != 0) {
    if (link_errno == EEXIST) return already_exists(field_, output_path_);
    return Error::internal(fmt::format("storing the output as {} failed: {}", quote_value(output_path_),
                                       std::strerror(link_errno)));
  }
  if (Status s = close_file("an output file"); !s.ok()) {
    // The close may report a failed write, so the linked file is not kept.
    ::unlinkat(output_dir_fd_, output_name_.c_str(), 0);
    return s.error();
  }
  committed_ = true;
  if (!named_path_.empty()) ::unlinkat(root_fd_, named_path_.c_str(), 0);
  named_path_.clear();
  return Status::Ok();
}

}  // namespace heavylift
