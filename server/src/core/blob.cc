#include "core/blob.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace heavylift {
namespace {

// Owns a file descriptor and closes it on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Gives up ownership and returns the descriptor.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens `relative` beneath the directory `root_fd`. The kernel rejects any
// resolution that would leave the root (`..`, absolute symbolic links,
// symbolic links pointing outside) with EXDEV, so no check-then-open race is
// possible.
int open_beneath(int root_fd, const std::string& relative) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  // O_NONBLOCK keeps a FIFO or device in the root from blocking the open.
  // It has no effect on regular files, the only kind the caller accepts.
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how));
    // openat2(2): EAGAIN means a concurrent rename raced the resolution; retry.
    if (fd >= 0 || errno != EAGAIN) return fd;
  }
}

// Returns true when the `..` components of the relative path `path` climb
// above its start, whether or not the directories named before them exist.
bool leaves_root_lexically(std::string_view path) {
  int depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component == "..") {
      if (--depth < 0) return true;
    } else if (!component.empty() && component != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return false;
}

// Reads all `file.size()` bytes of `file`. `path` and `field` name it in errors.
Result<Blob> read_whole(const BlobFile& file, const std::string& path, const std::string& field) {
  const uint64_t size = file.size();
  Blob blob;
  blob.owned.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(file.fd(), blob.owned.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Error::invalid(field, "UNREADABLE",
                            fmt::format("{} {} could not be read to the end: {}", field,
                                        quote_value(path), n == 0 ? "file shrank" : std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return blob;
}

}  // namespace

BlobFile::~BlobFile() {
  if (fd_ >= 0) ::close(fd_);
}

BlobReader::BlobReader(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Status BlobReader::check_root() const {
  if (root_.empty()) return Status::Ok();
  FileDescriptor root_fd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.get() < 0) {
    return Error::invalid("blob.root", "INVALID_SETTING",
                          fmt::format("the blob root {} is not an accessible directory: {}",
                                      quote_value(root_), std::strerror(errno)));
  }
  return Status::Ok();
}

Result<Blob> BlobReader::read(const v1::BlobRef& ref, std::string_view field,
                              uint64_t max_bytes) const {
  switch (ref.source_case()) {
    case v1::BlobRef::kData: {
      const std::string data_field = fmt::format("{}.data", field);
      if (ref.data().empty()) {
        return Error::invalid(data_field, "EMPTY", fmt::format("{} is empty (0 bytes)", data_field),
                              ">= 1 byte", "0 bytes");
      }
      if (ref.data().size() > max_bytes) {
        Error error = Error::out_of_range(data_field, fmt::format("<= {} bytes", max_bytes),
                                          fmt::format("{} bytes", ref.data().size()));
        error.reason = "TOO_LARGE";
        return error;
      }
      return Blob{{}, ref.data()};
    }
    case v1::BlobRef::kPath: {
      const std::string path_field = fmt::format("{}.path", field);
      auto file = open_file(ref.path(), path_field, max_bytes);
      if (!file.ok()) return file.error();
      return read_whole(file.value(), ref.path(), path_field);
    }
    case v1::BlobRef::SOURCE_NOT_SET:
      break;
  }
  return Error::invalid(std::string(field), "MISSING",
                        fmt::format("{} is missing: set {}.data or {}.path", field, field, field));
}

Result<BlobFile> BlobReader::open_path(const std::string& path, std::string_view field,
                                       uint64_t max_bytes) const {
  return open_file(path, fmt::format("{}.path", field), max_bytes);
}

Result<BlobFile> BlobReader::open_file(const std::string& path, const std::string& field,
                                       uint64_t max_bytes) const {
  if (root_.empty()) {
    return Error{Code::kFailedPrecondition,
                 fmt::format("{} {} cannot be read: no blob root is configured; start heavylift with --blob-root",
                             field, quote_value(path)),
                 field, "", "", "PATHS_DISABLED", 0};
  }
  if (path.empty()) {
    return Error::invalid(field, "EMPTY", fmt::format("{} is empty", field), "a file name", "\"\"");
  }

  // An absolute path is accepted when it names a file inside the root.
  std::string relative = path;
  if (!relative.empty() && relative.front() == '/') {
    const std::string prefix = root_ == "/" ? "/" : root_ + "/";
    if (relative.compare(0, prefix.size(), prefix) != 0) {
      Error error = Error::invalid(field, "PATH_OUTSIDE_ROOT",
                                   fmt::format("{} {} is outside the blob root {}", field,
                                               quote_value(path), quote_value(root_)));
      error.bound = fmt::format("inside {}", root_);
      error.value = quote_value(path);
      return error;
    }
    relative = relative.substr(prefix.size());
  }
  if (leaves_root_lexically(relative)) {
    return Error::invalid(field, "PATH_OUTSIDE_ROOT",
                          fmt::format("{} {} leaves the blob root through '..'", field, quote_value(path)),
                          fmt::format("inside {}", root_), quote_value(path));
  }

  FileDescriptor root_fd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.get() < 0) {
    return Error::internal(fmt::format("the blob root {} cannot be opened: {}", quote_value(root_),
                                       std::strerror(errno)));
  }
  FileDescriptor fd(open_beneath(root_fd.get(), relative));
  if (fd.get() < 0) {
    const int open_errno = errno;
    if (open_errno == ENOSYS || open_errno == EPERM) {
      // The kernel or a seccomp filter lacks openat2: a host problem, not the caller's.
      return Error::internal(fmt::format("openat2 is unavailable ({}), so path blob references cannot be "
                                         "confined; use inline data or a newer kernel",
                                         std::strerror(open_errno)));
    }
    if (open_errno == EXDEV) {
      Error error = Error::invalid(field, "PATH_OUTSIDE_ROOT",
                                   fmt::format("{} {} resolves outside the blob root", field,
                                               quote_value(path)));
      error.bound = fmt::format("inside {}", root_);
      error.value = quote_value(path);
      return error;
    }
    if (open_errno == ELOOP) {
      return Error::invalid(field, "UNREADABLE",
                            fmt::format("{} {} cannot be opened: a symbolic link loop or a /proc "
                                        "magic link is in the way",
                                        field, quote_value(path)));
    }
    if (open_errno == ENOENT || open_errno == ENOTDIR) {
      return Error::invalid(field, "NOT_FOUND",
                            fmt::format("{} {} was not found under the blob root", field,
                                        quote_value(path)));
    }
    return Error::invalid(field, "UNREADABLE",
                          fmt::format("{} {} cannot be opened: {}", field, quote_value(path),
                                      std::strerror(open_errno)));
  }

  struct stat info;
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return Error::invalid(field, "NOT_A_FILE",
                          fmt::format("{} {} is not a regular file", field, quote_value(path)));
  }
  const auto size = static_cast<uint64_t>(info.st_size);
  if (size == 0) {
    return Error::invalid(field, "EMPTY",
                          fmt::format("{} {} is an empty file (0 bytes)", field, quote_value(path)),
                          ">= 1 byte", "0 bytes");
  }
  if (size > max_bytes) {
    Error error = Error::out_of_range(field, fmt::format("<= {} bytes", max_bytes),
                                      fmt::format("{} bytes", size));
    error.reason = "TOO_LARGE";
    return error;
  }

  return BlobFile(fd.release(), size);
}

}  // namespace heavylift
