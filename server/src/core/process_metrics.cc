#include "core/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace heavylift {
namespace {

// Fields of /proc/self/stat after the command name, which may contain
// spaces and so is skipped up to its closing parenthesis. Index 0 is field 3
// of proc(5), the process state.
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double field_as_double(const std::vector<std::string>& fields, size_t proc_field_number) {
  const size_t index = proc_field_number - 3;
  if (index >= fields.size()) return 0;
  return std::stod(fields[index]);
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

void register_process_metrics(Metrics& metrics) {
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // proc(5) field 22, starttime, counts clock ticks since boot.
  const double start_time =
      boot_time_seconds() + field_as_double(stat_fields(), 22) / ticks_per_second;

  metrics.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                         [page_size] { return field_as_double(stat_fields(), 24) * page_size; });
  metrics.gauge_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         [] { return field_as_double(stat_fields(), 23); });
  metrics.gauge_callback("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                         [ticks_per_second] {
                           const auto fields = stat_fields();
                           return (field_as_double(fields, 14) + field_as_double(fields, 15)) / ticks_per_second;
                         });
  metrics.gauge_callback("process_open_fds", "Open file descriptors.", [] {
    std::error_code error;
    double count = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
      ++count;
    }
    return count;
  });
  metrics.gauge_callback("process_max_fds", "Limit on open file descriptors.", [] {
    struct rlimit limit;
    return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<double>(limit.rlim_cur) : 0.0;
  });
  metrics.gauge_callback("process_start_time_seconds", "Start time since the Unix epoch, in seconds.",
                         [start_time] { return start_time; });
}

}  // namespace heavylift
