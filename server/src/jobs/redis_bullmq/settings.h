// Settings of the BullMQ worker, filled from the bullmq.* configuration keys.
#pragma once

#include <cstdint>
#include <string>

namespace heavylift {

struct BullmqSettings {
  // redis://[[user]:password@]host[:port][/db]. Empty disables the worker.
  std::string redis_url;
  // The BullMQ queue name and key prefix, as given to `new Queue(name, {prefix})`.
  std::string queue = "heavylift";
  std::string prefix = "bull";
  // Worker name shown by Queue.getWorkers() and stored as the job's
  // processedBy. Empty means "heavylift-<hostname>-<pid>".
  std::string worker_name;
  // Jobs processed at once. 0 means one per executor thread.
  uint32_t concurrency = 0;
  // How long a job's lock lives without renewal; it is renewed every half.
  uint32_t lock_duration_ms = 30000;
  // How often active jobs with expired locks are looked for and moved back
  // to wait, and how many times a job may stall before it fails.
  uint32_t stalled_interval_ms = 30000;
  uint32_t max_stalled_count = 1;
  // Maximum blocking wait for a new job marker, which bounds the idle
  // command rate.
  uint32_t drain_delay_ms = 5000;
  // Per-job time limit; the task gets DEADLINE_EXCEEDED. 0 means none.
  uint32_t job_timeout_ms = 0;
  // Worker rate limit: at most `limiter_max` jobs per `limiter_duration_ms`.
  // 0 disables it.
  uint32_t limiter_max = 0;
  uint32_t limiter_duration_ms = 1000;
  // Finished jobs to keep: "all" or a count, used when a job sets no
  // removeOnComplete / removeOnFail of its own.
  std::string keep_completed = "all";
  std::string keep_failed = "all";
  // Largest blob a job may reference by Redis key ({"redisKey": ...} in
  // place of a BlobRef); the key must be under "<prefix>:<queue>:blob:".
  uint64_t max_blob_bytes = 64ull << 20;
  // File listing this worker's in-flight jobs, so that a restarted worker
  // hands them back to wait at once. Empty disables the journal.
  std::string journal_path;
};

}  // namespace heavylift
