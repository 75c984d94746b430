#include "core/task_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

#include "core/logging.h"
#include "core/trace_context.h"

namespace heavylift {
namespace {

std::string trace_field(const TaskContext& context) { return trace_log_field(context.trace_id()); }

}  // namespace

TaskRunner::TaskRunner(Executor& executor, Metrics& metrics)
    : executor_(executor), metrics_(metrics) {}

void TaskRunner::run(const Task& task, const google::protobuf::Message& request,
                     google::protobuf::Message* response, std::shared_ptr<TaskContext> context,
                     std::function<void(const Status&)> done) {
  const auto queued_at = std::chrono::steady_clock::now();
  auto shared_done = std::make_shared<std::function<void(const Status&)>>(std::move(done));

  Executor::Job job;
  job.context = context;
  job.run = [this, &task, &request, response, context, shared_done, queued_at] {
    Status status;
    try {
      status = task.handler(request, response, *context);
    } catch (const std::exception& e) {
      status = Error::internal(std::string("task failed unexpectedly: ") + e.what());
    } catch (...) {
      status = Error::internal("task failed unexpectedly with a non-standard exception");
    }
    // A result that arrives after the caller's deadline or cancel has no
    // caller left to receive it, so it counts as what ended the call. A shutdown does not void
    // a finished result: it is still sent.
    if (status.ok()) {
      if (Status late = context->check(); !late.ok() && late.error().code != Code::kUnavailable) {
        Error error = late.error();
        error.message += "; the task finished after that and its result was discarded";
        status = error;
      }
    }
    record(task, *context, status,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - queued_at).count());
    (*shared_done)(status);
  };
  job.reject = [this, &task, context, shared_done, queued_at](const Error& error) {
    const Status status(error);
    record(task, *context, status,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - queued_at).count());
    (*shared_done)(status);
  };

  if (Status submitted = executor_.submit(std::move(job)); !submitted.ok()) {
    record(task, *context, submitted, 0.0);
    (*shared_done)(submitted);
  }
}

Counter& TaskRunner::requests(const Task& task, Code code) {
  return metrics_.counter("heavylift_requests_total", "Task calls by task and final gRPC status code.",
                          {{"task", task.name}, {"code", code_name(code)}});
}

Histogram& TaskRunner::duration(const Task& task) {
  return metrics_.histogram("heavylift_request_duration_seconds",
                            "Task call latency from queueing to completion, in seconds.",
                            latency_buckets_seconds(), {{"task", task.name}});
}

void TaskRunner::declare_metrics(const Task& task) {
  requests(task, Code::kOk);
  duration(task);
}

void TaskRunner::record(const Task& task, const TaskContext& context, const Status& status,
                        double seconds) {
  const Code code = status.ok() ? Code::kOk : status.error().code;
  requests(task, code).inc();
  duration(task).observe(seconds);

  if (status.ok()) {
    spdlog::debug("event=task.finished task={} request_id={}{} code=OK duration_ms={:.1f}", task.name,
                  log_value(context.request_id()), trace_field(context), seconds * 1000);
    return;
  }
  const Error& error = status.error();
  const auto level = error.code == Code::kInternal || error.code == Code::kUnknown
                         ? spdlog::level::err
                     : error.code == Code::kResourceExhausted ? spdlog::level::debug
                                                              : spdlog::level::info;
  spdlog::log(level,
              "event=task.failed task={} request_id={}{} code={} reason={} field={} "
              "duration_ms={:.1f} message={}",
              task.name, log_value(context.request_id()), trace_field(context), code_name(error.code),
              log_value(error.reason), log_value(error.field), seconds * 1000,
              log_value(error.message));
}

}  // namespace heavylift
