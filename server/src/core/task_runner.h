// Runs registered tasks on the executor and records what every transport
// needs recorded once: per-task request counts by status code, latency
// histograms and one log line per failed call.
//
// Thread-safety: run() may be called from any thread.
#pragma once

#include <functional>
#include <memory>

#include "core/executor.h"
#include "core/metrics.h"
#include "core/task_registry.h"

namespace heavylift {

class TaskRunner {
 public:
  // `executor` and `metrics` must outlive the runner.
  TaskRunner(Executor& executor, Metrics& metrics);

  // Creates the task's request counter and latency histogram at zero, so a
  // scrape lists them before the first call.
  void declare_metrics(const Task& task);

  // Queues `task` with `request`, filling `response`. `done` is called exactly
  // once with the outcome: on a worker thread after the task ran or was
  // dropped, or on the calling thread when the executor rejects the job.
  // `request` and `response` must stay valid until `done` is called, and
  // must not be touched by the caller before then.
  void run(const Task& task, const google::protobuf::Message& request,
           google::protobuf::Message* response, std::shared_ptr<TaskContext> context,
           std::function<void(const Status&)> done);

 private:
  void record(const Task& task, const TaskContext& context, const Status& status,
              double seconds);
  Counter& requests(const Task& task, Code code);
  Histogram& duration(const Task& task);

  Executor& executor_;
  Metrics& metrics_;
};

}  // namespace heavylift
