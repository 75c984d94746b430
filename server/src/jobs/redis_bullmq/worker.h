// heavylift as a BullMQ worker. It takes jobs from a BullMQ queue in Redis
// and runs the task named by each job through the task registry and
// TaskRunner (the same executor, limits and metrics as gRPC). It finishes
// each job with the pinned bullmq version's own Lua scripts, so BullMQ's
// Queue, QueueEvents, Job and dashboards see an ordinary worker.
//
// A job's name is the task name, its data the proto3 JSON of the task's
// request, its returnvalue the proto3 JSON of the result. A failed job's
// failedReason is "<CODE>: <message>" and its stacktrace holds the
// heavylift.v1.ErrorDetail JSON. Unknown job names, undecodable data and
// other permanent failures fail at once, without retries.
//
// Redis connections, each on its own thread: fetching (moveToActive,
// start-up checks), the blocking wait for a job marker (BZPOPMIN), lock
// renewal and the stalled check, and one per finish lane (moveToFinished,
// retries, progress). On a busy queue, the moveToFinished that finishes a
// job also takes the next one, as a Node Worker's does, so a job costs one
// script call. Each job belongs to one finish lane, which sends its
// results in order. With two lanes, one lane's scripts can run in Redis
// while the other starts the jobs it got back, so Redis need not sit idle
// during the worker's side of each round trip. Each connection reconnects with
// backoff after a lost connection; finished jobs wait in memory until
// Redis is back, so none is lost.
//
// Thread-safety: start() and drain() are called once each, from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include <msgpack.hpp>

#include "core/error.h"
#include "core/metrics.h"
#include "core/task_registry.h"
#include "core/task_runner.h"
#include "jobs/redis_bullmq/job_options.h"
#include "jobs/redis_bullmq/journal.h"
#include "jobs/redis_bullmq/redis_connection.h"
#include "jobs/redis_bullmq/settings.h"

namespace heavylift {

// Oldest Redis the pinned bullmq's scripts run on.
inline constexpr int kMinRedisMajor = 6;
inline constexpr int kMinRedisMinor = 2;

class BullmqWorker {
 public:
  // `registry`, `runner` and `metrics` must outlive the worker.
  // `executor_threads` is the default concurrency.
  BullmqWorker(BullmqSettings settings, const TaskRegistry& registry, TaskRunner& runner,
               size_t executor_threads, Metrics& metrics);
  ~BullmqWorker();

  // Connects, runs the start-up checks and starts fetching. Fails, with
  // nothing started, when the settings are invalid, Redis cannot be reached,
  // Redis is older than 6.2, or the queue was written by another bullmq major
  // version. Jobs left in the journal by a previous run are handed back to
  // wait first. A maxmemory-policy other than noeviction is only logged.
  Status start();

  // Stops fetching, lets active jobs finish until `deadline`, then cancels the
  // rest and hands them back to wait, and closes the connections.
  void drain(std::chrono::steady_clock::time_point deadline);

  size_t active_jobs() const { return active_.load(); }

  // The CLIENT SETNAME of the worker's fetch connection, as bullmq's
  // Queue.getWorkers() looks for: "<prefix>:<base64(queue)>:w:<worker name>".
  static std::string client_name(const std::string& prefix, const std::string& queue, const std::string& worker_name);

 private:
  struct ActiveJob;
  struct FetchResult;
  // An item for a finish lane: `run`, or the completion of `completed`
  // with `result_json`.
  struct FinishWork {
    std::function<void()> run;
    std::shared_ptr<ActiveJob> completed;
    std::string result_json;
  };
  // A thread and a Redis connection that finish jobs: the lane's work runs
  // in the order it was posted.
  struct FinishLane {
    std::unique_ptr<RedisConnection> connection;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<FinishWork> queue;
    // Retry jitter, drawn by the lane's thread only.
    std::mt19937_64 random{std::random_device{}()};
  };

  // Threads.
  void fetch_loop();
  void lock_loop();
  void finish_loop(FinishLane& lane);

  // Fetching.
  Status check_server();
  Result<FetchResult> move_to_active(const std::string& token);
  static FetchResult parse_fetch_reply(const redisReply* reply, const std::string& token);
  void recover_uncertain_fetches();
  void mark_uncertain(const std::string& token);
  void pause_fetching(int64_t delay_ms);
  void wait_for_marker();
  // Runs on the thread that fetched the job, whose connection reads the
  // job's Redis blobs.
  // `lane` finishes the job.
  void dispatch(std::map<std::string, std::string> fields, std::string job_id, RedisConnection& connection,
                FinishLane& lane);
  Result<std::string> resolve_redis_blobs(const std::string& data, RedisConnection& connection);
  void run_job(std::shared_ptr<ActiveJob> job);

  // Finishing, on the job's finish lane.
  FinishLane& next_lane();
  void post(const std::shared_ptr<ActiveJob>& job, std::function<void()> work);
  void post_completion(std::shared_ptr<ActiveJob> job, std::string result_json);
  std::vector<std::string> complete_args(const ActiveJob& job, const std::string& result_json, bool fetch_next) const;
  void complete(const std::shared_ptr<ActiveJob>& job, const std::string& result_json, bool allow_fetch_next = true);
  void complete_batch(const std::vector<FinishWork>& completions);
  void after_complete(const std::shared_ptr<ActiveJob>& job, const Result<RedisReply>& reply);
  void fail(const std::shared_ptr<ActiveJob>& job, const Error& error);
  void hand_back(RedisConnection& connection, const std::string& job_id, const std::string& token,
                 const std::string& why);
  void release(const std::shared_ptr<ActiveJob>& job, const std::string& outcome);
  bool may_fetch_next() const;
  void take_next_job(FinishLane& lane, const Result<RedisReply>& reply, const std::string& token, bool reply_lost);
  Result<RedisReply> run_finish_script(RedisConnection& connection, const char* script,
                                       const std::vector<std::string>& keys, std::vector<std::string> args,
                                       bool* reply_lost = nullptr);

  // Lock renewal and stalled check, on the lock thread.
  void renew_locks();
  void check_stalled();

  std::string key(std::string_view suffix) const;
  std::vector<std::string> keys_for(const std::string_view* roles, size_t count, const std::string& job_id,
                                    const std::string& finished_target) const;
  std::string worker_opts_msgpack(const std::string& token) const;
  void pack_limiter(msgpack::packer<msgpack::sbuffer>& packer) const;
  std::string finished_opts_msgpack(const ActiveJob& job, const KeepJobs& keep) const;
  Counter& jobs_counter(const std::string& task, const std::string& outcome);
  // jobs_counter() for a job's task, from a table filled at start.
  Counter& job_outcome_counter(const ActiveJob& job, const std::string& outcome);

  BullmqSettings settings_;
  RedisEndpoint endpoint_;
  const TaskRegistry& registry_;
  TaskRunner& runner_;
  Metrics& metrics_;
  size_t concurrency_;
  std::string worker_name_;
  // "<prefix>:<queue>:", the start of every key of the queue.
  std::string key_prefix_;
  std::string token_prefix_;
  KeepJobs keep_completed_;
  KeepJobs keep_failed_;
  Journal journal_;

  std::unique_ptr<RedisConnection> fetch_;
  std::unique_ptr<RedisConnection> blocking_;
  std::unique_ptr<RedisConnection> lock_;
  std::vector<std::unique_ptr<FinishLane>> lanes_;
  std::atomic<size_t> lane_counter_{0};

  std::thread fetch_thread_;
  std::thread lock_thread_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> finish_stop_{false};
  std::atomic<uint64_t> token_counter_{0};
  std::atomic<size_t> active_{0};
  // Wall-clock ms until which fetching waits: the executor was full or the
  // queue is rate-limited. Both the fetch and the finish threads fetch jobs.
  std::atomic<int64_t> fetch_paused_until_ms_{0};

  // Guards active_jobs_ and wakes the fetch thread when a slot frees.
  std::mutex jobs_mutex_;
  std::condition_variable slot_freed_;
  std::map<std::string, std::shared_ptr<ActiveJob>> active_jobs_;

  // The heavylift_bullmq_jobs_total counter of each registered task and
  // outcome; read-only once the threads run.
  std::map<std::pair<std::string, std::string>, Counter*> outcome_counters_;

  // Wakes the lock thread for shutdown.
  std::mutex lock_mutex_;
  std::condition_variable lock_wake_;

  // Tokens of fetches whose reply was lost, whose jobs the fetch thread
  // hands back.
  std::mutex uncertain_mutex_;
  std::set<std::string> uncertain_tokens_;

  // Fetch state, used by the fetch thread only.
  bool drained_ = false;
  int64_t block_until_ms_ = 0;
  std::chrono::steady_clock::time_point limited_until_{};

  std::mt19937_64 random_;

  Counter* stalled_jobs_ = nullptr;
  Counter* restarted_jobs_ = nullptr;
  Counter* lock_renewals_ok_ = nullptr;
  Counter* lock_renewals_lost_ = nullptr;
};

}  // namespace heavylift
