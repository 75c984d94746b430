#include "jobs/redis_bullmq/journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/logging.h"

namespace heavylift {
namespace {

// After this many lines the file is rewritten with only the open entries.
constexpr size_t kCompactAfterLines = 10000;

}  // namespace

Journal::Journal(std::string path) : path_(std::move(path)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

bool Journal::valid_id(const std::string& job_id) {
  if (job_id.empty()) return false;
  for (const char c : job_id) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') return false;
  }
  return true;
}

Result<std::vector<Journal::Entry>> Journal::open() {
  std::vector<Entry> entries;
  if (path_.empty()) return entries;

  // Replay the events: an entry is open when its last event is "+".
  std::map<std::string, std::string> open_entries;
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string op, id, token;
      fields >> op >> id;
      if (op == "+" && (fields >> token)) open_entries[id] = token;
      if (op == "-") open_entries.erase(id);
    }
  }
  for (const auto& [id, token] : open_entries) entries.push_back({id, token});

  std::lock_guard<std::mutex> lock(mutex_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return Error::internal(fmt::format("cannot open the BullMQ journal {}: {}", path_, std::strerror(errno)));
  }
  return entries;
}

void Journal::write_line(const std::string& line) {
  if (fd_ < 0) return;
  const ssize_t written = ::write(fd_, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    spdlog::warn("event=bullmq.journal_write_failed path={} error={}", log_value(path_), log_value(std::strerror(errno)));
  }
  ++lines_;
}

void Journal::add(const std::string& job_id, const std::string& token) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) return;
  open_[job_id] = token;
  write_line(fmt::format("+ {} {}\n", job_id, token));
}

void Journal::remove(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) return;
  open_.erase(job_id);
  write_line(fmt::format("- {}\n", job_id));
  if (lines_ < kCompactAfterLines) return;

  // Rewrite the file with the open entries only; a crash in between leaves
  // either the old file or the new one, both complete.
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string text;
  for (const auto& [id, entry_token] : open_) text += fmt::format("+ {} {}\n", id, entry_token);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::rename(temporary.c_str(), path_.c_str()) != 0) {
    ::close(fd);
    return;
  }
  ::close(fd_);
  fd_ = fd;
  lines_ = open_.size();
}

}  // namespace heavylift
