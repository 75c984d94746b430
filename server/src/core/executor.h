// A bounded CPU executor: a fixed set of worker threads fed from a queue of
// fixed capacity. A full queue rejects new work at once instead of growing, so
// overload reaches the caller as RESOURCE_EXHAUSTED with a retry hint.
//
// Thread-safety: submit(), queue_depth() and shutdown() may be called from any
// thread. A job's functions run on one worker thread each.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "core/task_context.h"

namespace heavylift {

class Executor {
 public:
  struct Options {
    // Worker threads. Zero means one per core (std::thread::hardware_concurrency).
    size_t threads = 0;
    // Jobs that may wait for a worker. Submissions beyond it are rejected.
    size_t queue_capacity = 64;
  };

  struct Job {
    // The call the job belongs to. A job whose deadline passed or whose call
    // was cancelled while queued is not run: `reject` receives the reason.
    std::shared_ptr<TaskContext> context;
    // The work. Runs at most once, on a worker thread.
    std::function<void()> run;
    // Called instead of `run` when the job is dropped before it starts.
    std::function<void(const Error&)> reject;
  };

  // Starts the workers. `metrics` must outlive the executor.
  Executor(Options options, Metrics& metrics);
  // Runs shutdown() if it has not run.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `job`. Returns RESOURCE_EXHAUSTED, with a retry hint from the
  // recent job durations, when the queue is full, and UNAVAILABLE after
  // shutdown() began. On error the job is not kept and none of its
  // functions is called.
  Status submit(Job job);

  // Stops accepting jobs, lets the workers finish every queued and running
  // job, and joins them. Jobs whose calls are cancelled meanwhile are
  // rejected quickly, which is how a drain deadline cuts the wait short.
  void shutdown();

  // Removes every queued job whose call was cancelled or whose deadline
  // passed, and calls its `reject` on this thread. Returns how many it removed.
  size_t reject_expired();

  size_t queue_depth() const;
  size_t running() const;
  size_t threads() const { return thread_count_; }

 private:
  void work();
  uint32_t retry_hint_ms() const;

  const Options options_;
  const size_t thread_count_;
  Metrics& metrics_;
  Counter& rejections_;
  Counter& expired_;

  // Serializes shutdown() calls; held while joining, so never with mutex_.
  std::mutex shutdown_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::deque<Job> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  // Exponential moving average of job run time, in milliseconds.
  double average_run_ms_ = 10.0;
  std::vector<std::thread> workers_;
};

}  // namespace heavylift
