// A local file listing the jobs this worker holds, with their lock tokens.
// After a crash (kill -9, OOM) the restarted worker reads it and hands the
// jobs back to wait at once, instead of waiting for their locks to expire
// and the stalled check to find them.
//
// Format: one line per event, "+ <job id> <token>" when a job starts and
// "- <job id>" when it ends. Job ids and tokens never contain spaces or
// newlines (the worker checks ids). The file is rewritten with only the
// open entries at start-up. Writes go straight to the kernel, so they
// survive the process dying; a machine crash may lose the last lines.
//
// Thread-safety: add() and remove() may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace heavylift {

class Journal {
 public:
  struct Entry {
    std::string job_id;
    std::string token;
  };

  // An empty path makes a journal that records nothing.
  explicit Journal(std::string path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Reads the entries left open by a previous run and truncates the file.
  // Lines that do not parse are skipped. Fails with INTERNAL naming the path
  // when the file cannot be opened for writing.
  Result<std::vector<Entry>> open();

  // Records that `job_id` started with lock `token`, or that it ended.
  // A failed write is logged, never fatal.
  void add(const std::string& job_id, const std::string& token);
  void remove(const std::string& job_id);

  // Reports whether `job_id` can be written to the journal (no whitespace).
  static bool valid_id(const std::string& job_id);

 private:
  void write_line(const std::string& line);

  std::string path_;
  std::mutex mutex_;
  int fd_ = -1;
  size_t lines_ = 0;
  std::map<std::string, std::string> open_;
};

}  // namespace heavylift
