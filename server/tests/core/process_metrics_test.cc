#include "core/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

namespace heavylift {
namespace {

// Returns the value of the unlabelled series `name` in `text`, or -1.
double value_of(const std::string& text, const std::string& name) {
  const std::regex line("\\n" + name + " ([0-9.e+]+)\\n");
  std::smatch match;
  if (!std::regex_search(text, match, line)) return -1;
  return std::stod(match[1]);
}

TEST(ProcessMetrics, ReportsPlausibleValues) {
  Metrics metrics;
  register_process_metrics(metrics);
  const std::string text = "\n" + metrics.render();

  EXPECT_GT(value_of(text, "process_resident_memory_bytes"), 1 << 20) << text;
  EXPECT_GT(value_of(text, "process_virtual_memory_bytes"), value_of(text, "process_resident_memory_bytes"));
  EXPECT_GE(value_of(text, "process_cpu_seconds_total"), 0);
  EXPECT_GE(value_of(text, "process_open_fds"), 3);
  EXPECT_GE(value_of(text, "process_max_fds"), value_of(text, "process_open_fds"));

  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = value_of(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600) << "a test process started more than a day ago";
}

TEST(ProcessMetrics, ResidentMemoryGrowsWithTouchedPages) {
  Metrics metrics;
  register_process_metrics(metrics);
  const double before = value_of("\n" + metrics.render(), "process_resident_memory_bytes");
  std::string block(64 << 20, 'x');
  const double after = value_of("\n" + metrics.render(), "process_resident_memory_bytes");
  EXPECT_GT(after - before, 32 << 20);
  EXPECT_EQ(block[12345], 'x');
}

}  // namespace
}  // namespace heavylift
