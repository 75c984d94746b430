#include "core/executor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace heavylift {

Executor::Executor(Options options, Metrics& metrics)
    : options_(options),
      thread_count_(options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency())),
      metrics_(metrics),
      rejections_(metrics.counter("heavylift_executor_rejections_total",
                                  "Jobs rejected because the executor queue was full.")),
      expired_(metrics.counter("heavylift_executor_expired_total",
                               "Queued jobs dropped because their deadline passed or their call "
                               "was cancelled before a worker took them.")) {
  const size_t threads = thread_count_;
  metrics_.gauge_callback("heavylift_executor_queue_depth", "Jobs waiting for a worker.",
                          [this] { return static_cast<double>(queue_depth()); });
  metrics_.gauge_callback("heavylift_executor_running", "Jobs running on a worker.",
                          [this] { return static_cast<double>(running()); });
  metrics_.gauge("heavylift_executor_threads", "Worker threads of the CPU executor.")
      .set(static_cast<double>(threads));
  metrics_.gauge("heavylift_executor_queue_capacity", "Jobs that may wait for a worker.")
      .set(static_cast<double>(options_.queue_capacity));

  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

Executor::~Executor() { shutdown(); }

Status Executor::submit(Job job) {
  std::unique_lock lock(mutex_);
  if (stopping_) return Error::unavailable("heavylift is shutting down and takes no new work");

  // A job may start at once when a worker is idle, even with a zero-capacity queue.
  const size_t idle = thread_count_ - std::min(thread_count_, running_ + queue_.size());
  if (queue_.size() >= options_.queue_capacity && idle == 0) {
    const uint32_t retry_ms = retry_hint_ms();
    lock.unlock();
    rejections_.inc();
    return Error::resource_exhausted(
        fmt::format("the executor queue is full ({} jobs waiting for {} workers); retry in {} ms",
                    options_.queue_capacity, thread_count_, retry_ms),
        retry_ms);
  }
  queue_.push_back(std::move(job));
  lock.unlock();
  available_.notify_one();
  return Status::Ok();
}

uint32_t Executor::retry_hint_ms() const {
  // Expected time until a queue slot frees: the jobs ahead of a new one,
  // spread over the workers, at the recent average duration.
  const double ahead = static_cast<double>(queue_.size() + running_);
  const double estimate = average_run_ms_ * ahead / static_cast<double>(thread_count_);
  return static_cast<uint32_t>(std::clamp(std::ceil(estimate), 10.0, 60000.0));
}

void Executor::work() {
  for (;;) {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();

    if (Status status = job.context->check(); !status.ok()) {
      expired_.inc();
      if (job.reject) job.reject(status.error());
    } else {
      const auto started = std::chrono::steady_clock::now();
      job.run();
      const double run_ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - started)
                                .count();
      lock.lock();
      average_run_ms_ = 0.9 * average_run_ms_ + 0.1 * run_ms;
      lock.unlock();
    }

    lock.lock();
    --running_;
  }
}

void Executor::shutdown() {
  std::lock_guard shutdown_lock(shutdown_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  available_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

size_t Executor::reject_expired() {
  std::vector<std::pair<Job, Error>> expired;
  {
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (Status status = it->context->check(); !status.ok()) {
        expired.emplace_back(std::move(*it), status.error());
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [job, error] : expired) {
    expired_.inc();
    if (job.reject) job.reject(error);
  }
  return expired.size();
}

size_t Executor::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

size_t Executor::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace heavylift
