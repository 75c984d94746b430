// The standard Prometheus process metrics, read from /proc/self at each
// scrape: process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_max_fds and
// process_start_time_seconds.
#pragma once

#include "core/metrics.h"

namespace heavylift {

// Registers the process metrics in `metrics`. Linux only: on a system
// without /proc the values read as 0.
void register_process_metrics(Metrics& metrics);

}  // namespace heavylift
