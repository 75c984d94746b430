#include "jobs/redis_bullmq/worker.h"

#include <fmt/format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <msgpack.hpp>
#include <spdlog/spdlog.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "core/logging.h"
#include "core/trace_context.h"
#include "jobs/redis_bullmq/bullmq_scripts_generated.h"
#include "jobs/task_job.h"

namespace heavylift {

namespace gen = bullmq::generated;

namespace {

// BullMQ's cap on the blocking wait: a BZPOPMIN longer than this risks a
// command stuck across a reconnect.
constexpr double kMaxBlockSeconds = 10.0;
// Socket read headroom above a blocking command's own timeout.
constexpr auto kBlockingReadHeadroom = std::chrono::seconds(3);
// BullMQ's maximumRateLimitDelay: a rate-limited worker looks again at
// least this often, so delayed jobs are still promoted.
constexpr int64_t kMaxRateLimitDelayMs = 30000;
// Most progress updates sent per job per second.
constexpr auto kProgressInterval = std::chrono::milliseconds(200);
// Most completions sent to Redis in one pipelined write.
constexpr size_t kMaxPipelinedCompletions = 64;
// Finish lanes: while one lane's scripts run in Redis, the other starts
// the jobs its last replies brought. Each further lane would add a
// connection and a thread; more than two were not measured.
constexpr size_t kFinishLanes = 2;
// Index of moveToFinished's "fetch next?" argument.
constexpr size_t kFetchNextArg = 5;
// How long cancelled jobs may take to stop at the end of a drain.
constexpr auto kCancelledJobsWait = std::chrono::seconds(2);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string reply_text(const redisReply* reply) {
  if (reply == nullptr) return {};
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(reply->integer);
    default:
      return {};
  }
}

int64_t reply_integer(const redisReply* reply) {
  if (reply == nullptr) return 0;
  if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
  const std::string text = reply_text(reply);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string base64(std::string_view input) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < input.size(); i += 3) {
    const uint32_t n = (uint8_t(input[i]) << 16) | (uint8_t(input[i + 1]) << 8) | uint8_t(input[i + 2]);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
  }
  if (i + 1 == input.size()) {
    const uint32_t n = uint8_t(input[i]) << 16;
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == input.size()) {
    const uint32_t n = (uint8_t(input[i]) << 16) | (uint8_t(input[i + 1]) << 8);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// Packs a flat list of field names and values, as bullmq's fieldsToUpdate.
std::string pack_fields(const std::vector<std::string>& fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(static_cast<uint32_t>(fields.size()));
  for (const auto& field : fields) packer.pack(field);
  return std::string(buffer.data(), buffer.size());
}

std::string pack_strings(const std::vector<std::string>& values) { return pack_fields(values); }

void pack_keep_jobs(msgpack::packer<msgpack::sbuffer>& packer, const KeepJobs& keep) {
  packer.pack_map(1 + (keep.age_seconds ? 1 : 0) + (keep.limit ? 1 : 0));
  packer.pack(std::string("count"));
  packer.pack(keep.count);
  if (keep.age_seconds) {
    packer.pack(std::string("age"));
    packer.pack(*keep.age_seconds);
  }
  if (keep.limit) {
    packer.pack(std::string("limit"));
    packer.pack(*keep.limit);
  }
}

// JSON string literal for `text`, for the stacktrace array.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else out += c;
    }
  }
  return out + "\"";
}

// The major version in a queue's meta "version" field ("bullmq:6.7.6").
std::optional<int> bullmq_major(std::string_view version) {
  const size_t colon = version.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view number = version.substr(colon + 1);
  int major = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), major);
  if (ec != std::errc()) return std::nullopt;
  return major;
}

// Reports a negative script result: the job's lock or state changed under us.
std::string finish_error_text(int64_t code) {
  switch (code) {
    case -1: return "the job no longer exists";
    case -2: return "the job's lock expired (another worker may have taken it)";
    case -3: return "the job is no longer active";
    case -4: return "the job has pending children";
    case -6: return "the job's lock belongs to another worker";
    case -9: return "the job has failed children";
    default: return fmt::format("error code {}", code);
  }
}

// The Linux sched_attr of sched_setattr(2), which glibc does not declare.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

// Time slice the fetch and finish threads ask for. They sleep on a socket
// and then run for tens of microseconds. With the default slice, a busy
// machine may let the running task finish its slice before they run, which
// adds up to a scheduler tick to a new job's start.
constexpr uint64_t kLatencySliceNs = 500'000;

// Asks the scheduler for a short time slice for the calling thread, as a
// wake-up latency hint. From Linux 6.12, a SCHED_OTHER thread's
// sched_runtime sets its slice, and a thread with a shorter slice preempts
// the running task when it wakes. Older kernels ignore it. It gives the
// thread no more CPU time and needs no privilege.
// The thread's policy and nice value are kept.
void request_short_time_slice(const char* thread) {
  SchedAttr attr;
  std::memset(&attr, 0, sizeof(attr));
  if (::syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0) != 0 || attr.sched_policy != SCHED_OTHER) return;
  attr.size = sizeof(attr);
  attr.sched_flags = 0;
  attr.sched_runtime = kLatencySliceNs;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
    spdlog::debug("event=bullmq.time_slice_hint_failed thread={} error={}", thread, log_value(std::strerror(errno)));
  }
}

}  // namespace

// One job this worker holds, from moveToActive until it is finished.
struct BullmqWorker::ActiveJob {
  std::string id;
  std::string name;
  std::string token;
  std::string data;
  JobOptions options;
  uint32_t attempts_made = 0;
  const Task* task = nullptr;
  FinishLane* lane = nullptr;
  std::unique_ptr<google::protobuf::Message> request;
  std::unique_ptr<google::protobuf::Message> response;
  std::shared_ptr<TaskContext> context;
  std::atomic<bool> lock_lost{false};
  // Set when its lane starts to write the job's outcome, which releases
  // the lock: a renewal that fails after that is no lost lock.
  std::atomic<bool> finished{false};
  std::mutex progress_mutex;
  std::chrono::steady_clock::time_point last_progress{};
};

struct BullmqWorker::FetchResult {
  std::map<std::string, std::string> fields;
  std::string job_id;
  int64_t rate_limit_delay_ms = 0;
  int64_t delay_until_ms = 0;
};

std::string BullmqWorker::client_name(const std::string& prefix, const std::string& queue,
                                      const std::string& worker_name) {
  return fmt::format("{}:{}:w:{}", prefix, base64(queue), worker_name);
}

BullmqWorker::BullmqWorker(BullmqSettings settings, const TaskRegistry& registry, TaskRunner& runner,
                           size_t executor_threads, Metrics& metrics)
    : settings_(std::move(settings)),
      registry_(registry),
      runner_(runner),
      metrics_(metrics),
      concurrency_(settings_.concurrency > 0 ? settings_.concurrency : std::max<size_t>(1, executor_threads)),
      journal_(settings_.journal_path),
      random_(std::random_device{}()) {
  worker_name_ = settings_.worker_name;
  if (worker_name_.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    worker_name_ = fmt::format("heavylift-{}-{}", host, ::getpid());
  }
  token_prefix_ = fmt::format("{:016x}{:016x}", random_(), random_());
}

BullmqWorker::~BullmqWorker() {
  const bool lanes_running =
      std::any_of(lanes_.begin(), lanes_.end(), [](const auto& lane) { return lane->thread.joinable(); });
  if (fetch_thread_.joinable() || lock_thread_.joinable() || lanes_running) {
    drain(std::chrono::steady_clock::now());
  }
}

std::string BullmqWorker::key(std::string_view suffix) const {
  std::string out;
  out.reserve(key_prefix_.size() + suffix.size());
  out.append(key_prefix_).append(suffix);
  return out;
}

// Builds a script's KEYS from the roles in the committed table: a queue key
// suffix, or "job", "lock", "finished" and "metrics" for the job's own keys.
std::vector<std::string> BullmqWorker::keys_for(const std::string_view* roles, size_t count,
                                                const std::string& job_id,
                                                const std::string& finished_target) const {
  std::vector<std::string> keys;
  keys.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string_view role = roles[i];
    if (role == "job") keys.push_back(key(job_id));
    else if (role == "lock") keys.push_back(key(job_id) + ":lock");
    else if (role == "finished") keys.push_back(key(finished_target));
    else if (role == "metrics") keys.push_back(key("metrics:" + finished_target));
    else keys.push_back(key(role));
  }
  return keys;
}

std::string BullmqWorker::worker_opts_msgpack(const std::string& token) const {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  const bool limited = settings_.limiter_max > 0;
  packer.pack_map(limited ? 4 : 3);
  packer.pack(std::string("token"));
  packer.pack(token);
  packer.pack(std::string("lockDuration"));
  packer.pack(settings_.lock_duration_ms);
  packer.pack(std::string("name"));
  packer.pack(worker_name_);
  if (limited) pack_limiter(packer);
  return std::string(buffer.data(), buffer.size());
}

// Packs the "limiter" entry of a worker's options: {max, duration}.
void BullmqWorker::pack_limiter(msgpack::packer<msgpack::sbuffer>& packer) const {
  packer.pack(std::string("limiter"));
  packer.pack_map(2);
  packer.pack(std::string("max"));
  packer.pack(settings_.limiter_max);
  packer.pack(std::string("duration"));
  packer.pack(settings_.limiter_duration_ms);
}

Counter& BullmqWorker::jobs_counter(const std::string& task, const std::string& outcome) {
  return metrics_.counter("heavylift_bullmq_jobs_total",
                          "BullMQ jobs finished by this worker, by task (the job name) and outcome: completed, "
                          "failed, retried, handed_back or lock_lost.",
                          {{"task", task}, {"outcome", outcome}});
}

Counter& BullmqWorker::job_outcome_counter(const ActiveJob& job, const std::string& outcome) {
  const std::string task = job.task != nullptr ? job.task->name : "unknown";
  if (const auto it = outcome_counters_.find({task, outcome}); it != outcome_counters_.end()) return *it->second;
  return jobs_counter(task, outcome);
}

Status BullmqWorker::start() {
  key_prefix_ = fmt::format("{}:{}:", settings_.prefix, settings_.queue);
  auto endpoint = parse_redis_url(settings_.redis_url, "bullmq.redis_url");
  if (!endpoint.ok()) return endpoint.error();
  endpoint_ = endpoint.value();
  auto keep_completed = parse_keep_setting(settings_.keep_completed, "bullmq.keep_completed");
  if (!keep_completed.ok()) return keep_completed.error();
  keep_completed_ = keep_completed.value();
  auto keep_failed = parse_keep_setting(settings_.keep_failed, "bullmq.keep_failed");
  if (!keep_failed.ok()) return keep_failed.error();
  keep_failed_ = keep_failed.value();

  const std::string name = client_name(settings_.prefix, settings_.queue, worker_name_);
  // Only the fetch connection carries the BullMQ worker name, so
  // getWorkers() counts this process once; the others are named
  // "heavylift:<role>:<worker name>" for CLIENT LIST readers.
  const auto helper_name = [this](const char* role) { return fmt::format("heavylift:{}:{}", role, worker_name_); };
  fetch_ = std::make_unique<RedisConnection>(endpoint_, "fetch", name);
  blocking_ = std::make_unique<RedisConnection>(endpoint_, "blocking", helper_name("blocking"));
  lock_ = std::make_unique<RedisConnection>(endpoint_, "lock", helper_name("lock"));
  std::vector<RedisConnection*> connections = {fetch_.get(), blocking_.get(), lock_.get()};
  for (size_t i = 0; i < std::min(kFinishLanes, concurrency_); ++i) {
    // Every lane's connection has the role "finish" in logs and metrics.
    auto lane = std::make_unique<FinishLane>();
    lane->connection = std::make_unique<RedisConnection>(
        endpoint_, "finish", helper_name(i == 0 ? "finish" : fmt::format("finish{}", i + 1).c_str()));
    connections.push_back(lane->connection.get());
    lanes_.push_back(std::move(lane));
  }
  for (RedisConnection* connection : connections) {
    Counter& reconnects = metrics_.counter("heavylift_bullmq_redis_reconnects_total",
                                           "Reconnects to Redis after a lost connection, by worker connection.",
                                           {{"connection", connection->role()}});
    connection->set_reconnect_callback([&reconnects] { reconnects.inc(); });
  }

  metrics_.gauge_callback("heavylift_bullmq_active_jobs", "BullMQ jobs this worker holds (fetched, not yet finished).",
                          [this] { return static_cast<double>(active_.load()); });
  metrics_.gauge("heavylift_bullmq_concurrency", "Most BullMQ jobs this worker holds at once.").set(static_cast<double>(concurrency_));
  stalled_jobs_ = &metrics_.counter("heavylift_bullmq_stalled_jobs_total",
                                    "Jobs this worker's stalled check moved back to wait or failed (their worker "
                                    "stopped renewing the lock).");
  restarted_jobs_ = &metrics_.counter("heavylift_bullmq_restarted_jobs_total",
                                      "Jobs fetched that had started before without finishing (stalled, handed back "
                                      "or their worker died), so their task may run more than once.");
  lock_renewals_ok_ = &metrics_.counter("heavylift_bullmq_lock_renewals_total",
                                        "Job lock renewals, by result: ok, or lost (another worker took the job).",
                                        {{"result", "ok"}});
  lock_renewals_lost_ = &metrics_.counter("heavylift_bullmq_lock_renewals_total",
                                          "Job lock renewals, by result: ok, or lost (another worker took the job).",
                                          {{"result", "lost"}});
  for (const std::string& task : registry_.names()) {
    for (const char* outcome : {"completed", "failed", "retried"}) {
      outcome_counters_[{task, outcome}] = &jobs_counter(task, outcome);
    }
  }

  if (Status s = check_server(); !s.ok()) return s;

  // Jobs a previous run of this worker still held go back to wait at once.
  auto left_over = journal_.open();
  if (!left_over.ok()) return left_over.error();
  for (const auto& entry : left_over.value()) {
    auto reply = fetch_->eval_script(gen::kMoveJobFromActiveToWaitSource, gen::kMoveJobFromActiveToWaitSha1,
                                     keys_for(gen::kMoveJobFromActiveToWaitKeys.data(),
                                              gen::kMoveJobFromActiveToWaitKeys.size(), entry.job_id, ""),
                                     {entry.job_id, entry.token, key(entry.job_id)});
    if (!reply.ok()) return reply.error();
    const int64_t code = reply_integer(reply.value().get());
    spdlog::info("event=bullmq.job_recovered job_id={} result={}", log_value(entry.job_id),
                 code >= 0 ? "moved_to_wait" : finish_error_text(code));
  }

  spdlog::info("event=bullmq.worker_started queue={} prefix={} worker={} concurrency={} lock_duration_ms={} "
               "bullmq_version={} redis={}:{} journal={}",
               log_value(settings_.queue), log_value(settings_.prefix), log_value(worker_name_), concurrency_,
               settings_.lock_duration_ms, gen::kBullmqVersion, endpoint_.host, endpoint_.port,
               log_value(settings_.journal_path.empty() ? "off" : settings_.journal_path));
  for (auto& lane : lanes_) {
    FinishLane* raw = lane.get();
    lane->thread = std::thread([this, raw] { finish_loop(*raw); });
  }
  lock_thread_ = std::thread([this] { lock_loop(); });
  fetch_thread_ = std::thread([this] { fetch_loop(); });
  return Status::Ok();
}

Status BullmqWorker::check_server() {
  // Redis version.
  auto info = fetch_->command({"INFO", "server"});
  if (!info.ok()) return info.error();
  const std::string text = reply_text(info.value().get());
  if (info.value()->type == REDIS_REPLY_ERROR) {
    return Error::unavailable(fmt::format("Redis rejected INFO: {}", text));
  }
  const size_t at = text.find("redis_version:");
  int major = 0, minor = 0;
  if (at != std::string::npos) {
    const char* begin = text.data() + at + 14;
    const char* end = text.data() + text.size();
    auto parsed = std::from_chars(begin, end, major);
    if (parsed.ptr < end && *parsed.ptr == '.') std::from_chars(parsed.ptr + 1, end, minor);
  }
  if (major < kMinRedisMajor || (major == kMinRedisMajor && minor < kMinRedisMinor)) {
    return Error{Code::kFailedPrecondition,
                 fmt::format("Redis at {}:{} is version {}.{}; the BullMQ worker needs Redis {}.{} or newer",
                             endpoint_.host, endpoint_.port, major, minor, kMinRedisMajor, kMinRedisMinor)};
  }

  // Eviction silently deletes job keys.
  auto policy = fetch_->command({"CONFIG", "GET", "maxmemory-policy"});
  if (policy.ok() && policy.value()->type == REDIS_REPLY_ARRAY && policy.value()->elements == 2) {
    const std::string value = reply_text(policy.value()->element[1]);
    if (value != "noeviction") {
      spdlog::warn("event=bullmq.eviction_policy policy={} message={}", log_value(value),
                   log_value("Redis may evict keys under memory pressure and lose jobs; set maxmemory-policy noeviction"));
    }
  }

  // A queue written by another bullmq major version has other keys and fields.
  auto version = fetch_->command({"HGET", key("meta"), "version"});
  if (!version.ok()) return version.error();
  const std::string queue_version = reply_text(version.value().get());
  if (!queue_version.empty()) {
    const auto queue_major = bullmq_major(queue_version);
    const auto pinned_major = bullmq_major(fmt::format("bullmq:{}", gen::kBullmqVersion));
    if (queue_version.rfind("bullmq:", 0) == 0 && queue_major && pinned_major && *queue_major != *pinned_major) {
      return Error{Code::kFailedPrecondition,
                   fmt::format("queue {} was written by {}, but this worker speaks bullmq {}; use the same bullmq "
                               "major version on both sides",
                               key("meta"), queue_version, gen::kBullmqVersion)};
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Fetching

Result<BullmqWorker::FetchResult> BullmqWorker::move_to_active(const std::string& token) {
  auto reply = fetch_->eval_script(
      gen::kMoveToActiveSource, gen::kMoveToActiveSha1,
      keys_for(gen::kMoveToActiveKeys.data(), gen::kMoveToActiveKeys.size(), "", ""),
      {key(""), std::to_string(now_ms()), worker_opts_msgpack(token)});
  if (!reply.ok()) return reply.error();
  const redisReply* r = reply.value().get();
  if (r->type == REDIS_REPLY_ERROR) return Error::internal(fmt::format("moveToActive failed: {}", reply_text(r)));
  return parse_fetch_reply(r, token);
}

// Reads the {job fields, job id, rate limit delay, next delayed timestamp}
// reply of moveToActive, which moveToFinished also returns when it fetched
// the next job. Any other reply means no job.
BullmqWorker::FetchResult BullmqWorker::parse_fetch_reply(const redisReply* r, const std::string& token) {
  FetchResult result;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) return result;
  result.rate_limit_delay_ms = reply_integer(r->element[2]);
  result.delay_until_ms = reply_integer(r->element[3]);
  const redisReply* data = r->element[0];
  if (data->type == REDIS_REPLY_ARRAY && data->elements > 0) {
    for (size_t i = 0; i + 1 < data->elements; i += 2) {
      result.fields[reply_text(data->element[i])] = reply_text(data->element[i + 1]);
    }
    result.job_id = reply_text(r->element[1]);
    result.fields["token"] = token;
  }
  return result;
}

void BullmqWorker::wait_for_marker() {
  double timeout = settings_.drain_delay_ms / 1000.0;
  if (block_until_ms_ > 0) {
    const double until = static_cast<double>(block_until_ms_ - now_ms()) / 1000.0;
    if (until <= 0) return;
    timeout = std::clamp(until, 0.001, kMaxBlockSeconds);
  }
  timeout = std::min(timeout, kMaxBlockSeconds);
  const auto read_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)) + kBlockingReadHeadroom;
  auto reply = blocking_->command({"BZPOPMIN", key("marker"), fmt::format("{:.3f}", timeout)}, read_timeout);
  if (!reply.ok()) {
    // The connection is down: back off before the next attempt.
    if (!stopping_.load()) blocking_->ensure_connected();
    return;
  }
  const redisReply* r = reply.value().get();
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
    const int64_t score = reply_integer(r->element[2]);
    block_until_ms_ = score;
  } else {
    block_until_ms_ = 0;
  }
}

void BullmqWorker::fetch_loop() {
  request_short_time_slice("fetch");
  while (!stopping_.load()) {
    // Wait for a free slot.
    {
      std::unique_lock<std::mutex> lock(jobs_mutex_);
      slot_freed_.wait(lock, [this] { return stopping_.load() || active_.load() < concurrency_; });
    }
    if (stopping_.load()) break;

    // A rate-limited queue is not asked again before the limit expires, nor
    // is any queue while the executor's queue is full.
    if (const int64_t paused_ms = fetch_paused_until_ms_.load() - now_ms(); paused_ms > 0) {
      limited_until_ = std::max(limited_until_, std::chrono::steady_clock::now() + std::chrono::milliseconds(paused_ms));
    }
    if (std::chrono::steady_clock::now() < limited_until_) {
      std::unique_lock<std::mutex> lock(jobs_mutex_);
      slot_freed_.wait_until(lock, limited_until_, [this] { return stopping_.load(); });
      continue;
    }

    if (drained_) {
      wait_for_marker();
      if (stopping_.load()) break;
    }

    recover_uncertain_fetches();
    const std::string token = fmt::format("{}:{}", token_prefix_, token_counter_.fetch_add(1) + 1);
    auto fetched = move_to_active(token);
    if (!fetched.ok()) {
      if (fetched.error().code == Code::kUnavailable) {
        // Redis may have run the script and lost only the reply, leaving a
        // job active under this token; it is looked for after reconnecting.
        mark_uncertain(token);
        fetch_->ensure_connected();
      } else {
        spdlog::error("event=bullmq.fetch_failed message={}", log_value(fetched.error().message));
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      drained_ = false;
      continue;
    }
    FetchResult& result = fetched.value();
    if (!result.job_id.empty()) {
      drained_ = false;
      block_until_ms_ = 0;
      dispatch(std::move(result.fields), std::move(result.job_id), *fetch_, next_lane());
      continue;
    }
    drained_ = true;
    block_until_ms_ = result.delay_until_ms;
    if (result.rate_limit_delay_ms > 0) {
      pause_fetching(std::min(result.rate_limit_delay_ms, kMaxRateLimitDelayMs));
      drained_ = false;
    }
  }
}

// Hands back the jobs that a moveToActive whose reply was lost left active
// under one of this worker's tokens, so they do not wait for the lock to
// expire and the stalled check.
void BullmqWorker::recover_uncertain_fetches() {
  std::set<std::string> tokens;
  {
    std::lock_guard<std::mutex> lock(uncertain_mutex_);
    if (uncertain_tokens_.empty()) return;
    tokens = uncertain_tokens_;
  }
  auto active = fetch_->command({"LRANGE", key("active"), "0", "-1"});
  if (!active.ok() || active.value()->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < active.value()->elements; ++i) {
    const std::string job_id = reply_text(active.value()->element[i]);
    auto lock = fetch_->command({"GET", key(job_id) + ":lock"});
    if (!lock.ok()) return;
    const std::string token = reply_text(lock.value().get());
    if (tokens.count(token) == 0) continue;
    auto reply = fetch_->eval_script(gen::kMoveJobFromActiveToWaitSource, gen::kMoveJobFromActiveToWaitSha1,
                                     keys_for(gen::kMoveJobFromActiveToWaitKeys.data(),
                                              gen::kMoveJobFromActiveToWaitKeys.size(), job_id, ""),
                                     {job_id, token, key(job_id)});
    if (!reply.ok()) return;
    const int64_t code = reply_integer(reply.value().get());
    spdlog::info("event=bullmq.job_handed_back job_id={} why=fetch_reply_lost result={}", log_value(job_id),
                 code >= 0 ? "moved_to_wait" : finish_error_text(code));
  }
  std::lock_guard<std::mutex> lock(uncertain_mutex_);
  for (const auto& token : tokens) uncertain_tokens_.erase(token);
}

void BullmqWorker::mark_uncertain(const std::string& token) {
  std::lock_guard<std::mutex> lock(uncertain_mutex_);
  uncertain_tokens_.insert(token);
}

void BullmqWorker::pause_fetching(int64_t delay_ms) {
  const int64_t until = now_ms() + delay_ms;
  int64_t current = fetch_paused_until_ms_.load();
  while (current < until && !fetch_paused_until_ms_.compare_exchange_weak(current, until)) {
  }
}

void BullmqWorker::dispatch(std::map<std::string, std::string> fields, std::string job_id,
                            RedisConnection& connection, FinishLane& lane) {
  auto job = std::make_shared<ActiveJob>();
  job->lane = &lane;
  job->id = std::move(job_id);
  job->name = fields["name"];
  job->token = fields["token"];
  job->data = fields["data"];
  {
    const std::string& atm = fields.count("atm") ? fields["atm"] : fields["attemptsMade"];
    std::from_chars(atm.data(), atm.data() + atm.size(), job->attempts_made);
  }
  uint32_t attempts_started = 0;
  std::from_chars(fields["ats"].data(), fields["ats"].data() + fields["ats"].size(), attempts_started);

  active_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(jobs_mutex_);
    active_jobs_[job->id] = job;
  }
  if (Journal::valid_id(job->id)) journal_.add(job->id, job->token);

  // A start without a recorded outcome before this one means the task may
  // run a second time: its worker died, stalled or handed it back.
  if (attempts_started > job->attempts_made + 1) {
    restarted_jobs_->inc();
    spdlog::warn("event=bullmq.job_restarted job_id={} task={} attempts_started={} attempts_made={}",
                 log_value(job->id), log_value(job->name), attempts_started, job->attempts_made);
  }

  // Jobs marked to fail on their next fetch (a stalled job past
  // maxStalledCount, a failed child with failParentOnFailure) fail at once.
  if (auto it = fields.find("defa"); it != fields.end()) {
    Error error{Code::kFailedPrecondition, it->second};
    error.reason = "DEFERRED_FAILURE";
    job->options.attempts = 1;
    post(job, [this, job, error] { fail(job, error); });
    return;
  }

  auto options = parse_job_options(fields["opts"]);
  if (!options.ok()) {
    post(job, [this, job, error = options.error()] { fail(job, error); });
    return;
  }
  job->options = options.value();
  job->task = registry_.find(job->name);
  if (job->task == nullptr) {
    post(job, [this, job, error = unknown_task_error(job->name)] { fail(job, error); });
    return;
  }
  auto data = resolve_redis_blobs(job->data, connection);
  if (!data.ok()) {
    post(job, [this, job, error = data.error()] { fail(job, error); });
    return;
  }
  auto request = decode_job_request(*job->task, data.value(), PayloadFormat::kJson);
  if (!request.ok()) {
    post(job, [this, job, error = request.error()] { fail(job, error); });
    return;
  }
  job->request = std::move(request).value();
  run_job(job);
}

// Replaces every {"redisKey": "<key>"} object in a job's data with
// {"data": "<base64 of the key's value>"}, the proto3 JSON of an inline
// BlobRef, so large inputs need not travel as base64 inside the job.
// NOTE: the data is re-rendered through google.protobuf.Struct, whose numbers
// are doubles, so integers above 2^53 in the same job lose precision (proto3
// JSON sends 64-bit integers as strings, which are kept). The key is read on
// `connection` by the thread that fetched the job, which waits for it.
Result<std::string> BullmqWorker::resolve_redis_blobs(const std::string& data, RedisConnection& connection) {
  if (data.find("\"redisKey\"") == std::string::npos) return data;
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(data, &root).ok()) return data;  // decode reports it

  const std::string namespace_prefix = key("blob:");
  std::function<Status(google::protobuf::Value&, const std::string&)> visit;
  visit = [&](google::protobuf::Value& value, const std::string& path) -> Status {
    if (value.has_list_value()) {
      auto* values = value.mutable_list_value()->mutable_values();
      for (int i = 0; i < values->size(); ++i) {
        if (Status s = visit(*values->Mutable(i), fmt::format("{}[{}]", path, i)); !s.ok()) return s;
      }
      return Status::Ok();
    }
    if (!value.has_struct_value()) return Status::Ok();
    auto* fields = value.mutable_struct_value()->mutable_fields();
    const auto reference = fields->find("redisKey");
    if (reference == fields->end()) {
      for (auto& [name, child] : *fields) {
        if (Status s = visit(child, path.empty() ? name : path + "." + name); !s.ok()) return s;
      }
      return Status::Ok();
    }

    const std::string field = path.empty() ? "redisKey" : path + ".redisKey";
    if (fields->size() != 1 || !reference->second.has_string_value()) {
      return Error::invalid(field, "INVALID_BLOB_KEY", fmt::format("{} must be the only field of its object, a string", field));
    }
    const std::string blob_key = reference->second.string_value();
    if (blob_key.rfind(namespace_prefix, 0) != 0) {
      return Error::invalid(field, "BLOB_KEY_OUTSIDE_QUEUE",
                            fmt::format("{} must name a key under {}, got {}", field, namespace_prefix, quote_value(blob_key)),
                            "under " + namespace_prefix, blob_key);
    }
    auto length = connection.command({"STRLEN", blob_key});
    if (!length.ok()) return length.error();
    const int64_t bytes = reply_integer(length.value().get());
    if (bytes > 0 && static_cast<uint64_t>(bytes) > settings_.max_blob_bytes) {
      return Error::out_of_range(field, fmt::format("<= {} bytes (bullmq.max_blob_bytes)", settings_.max_blob_bytes),
                                 fmt::format("{} bytes", bytes));
    }
    auto blob = connection.command({"GET", blob_key});
    if (!blob.ok()) return blob.error();
    if (blob.value()->type != REDIS_REPLY_STRING) {
      return Error::invalid(field, "BLOB_NOT_FOUND",
                            fmt::format("{} names {}, which does not exist (its TTL may have expired)", field,
                                        quote_value(blob_key)));
    }
    fields->clear();
    (*fields)["data"].set_string_value(base64(std::string_view(blob.value()->str, blob.value()->len)));
    return Status::Ok();
  };

  google::protobuf::Value top;
  *top.mutable_struct_value() = std::move(root);
  if (Status s = visit(top, ""); !s.ok()) return s.error();
  std::string resolved;
  if (!google::protobuf::util::MessageToJsonString(top.struct_value(), &resolved).ok()) {
    return Error::internal("cannot render the job data after resolving its Redis blobs");
  }
  return resolved;
}

void BullmqWorker::run_job(std::shared_ptr<ActiveJob> job) {
  const uint64_t timeout_ms = job->options.timeout_ms.value_or(settings_.job_timeout_ms);
  const auto deadline = timeout_ms > 0 ? TaskContext::Clock::now() + std::chrono::milliseconds(timeout_ms)
                                       : TaskContext::Clock::time_point::max();
  job->context = std::make_shared<TaskContext>(fmt::format("bullmq:{}", job->id), deadline);
  job->context->set_attempt(job->attempts_made + 1);
  job->context->set_trace_id(job->options.trace_id);

  // Progress goes to Redis from the finish thread, at most every
  // kProgressInterval per job, and always at 100 %.
  std::weak_ptr<ActiveJob> weak = job;
  job->context->set_progress_callback([this, weak](double fraction) {
    auto held = weak.lock();
    if (!held || held->finished.load()) return;
    {
      std::lock_guard<std::mutex> lock(held->progress_mutex);
      const auto now = std::chrono::steady_clock::now();
      if (fraction < 1.0 && now - held->last_progress < kProgressInterval) return;
      held->last_progress = now;
    }
    const std::string progress = fmt::format("{:.4g}", fraction * 100);
    post(held, [this, held, progress] {
      if (held->finished.load()) return;
      auto reply = run_finish_script(*held->lane->connection, "updateProgress",
                                     keys_for(gen::kUpdateProgressKeys.data(), gen::kUpdateProgressKeys.size(), held->id, ""),
                                     {held->id, progress});
      if (reply.ok() && reply.value()->type == REDIS_REPLY_ERROR) {
        spdlog::warn("event=bullmq.progress_failed job_id={} message={}", log_value(held->id),
                     log_value(reply_text(reply.value().get())));
      }
    });
  });

  job->response.reset(job->task->response_prototype->New());
  runner_.run(*job->task, *job->request, job->response.get(), job->context, [this, job](const Status& status) {
    if (status.ok()) {
      std::string result = encode_job_result(*job->response);
      post_completion(job, std::move(result));
    } else {
      post(job, [this, job, error = status.error()] { fail(job, error); });
    }
  });
}

// ---------------------------------------------------------------------------
// Finishing

BullmqWorker::FinishLane& BullmqWorker::next_lane() {
  return *lanes_[lane_counter_.fetch_add(1) % lanes_.size()];
}

void BullmqWorker::post(const std::shared_ptr<ActiveJob>& job, std::function<void()> work) {
  FinishLane& lane = *job->lane;
  {
    std::lock_guard<std::mutex> lock(lane.mutex);
    lane.queue.push_back(FinishWork{std::move(work), nullptr, {}});
  }
  lane.ready.notify_one();
}

void BullmqWorker::post_completion(std::shared_ptr<ActiveJob> job, std::string result_json) {
  FinishLane& lane = *job->lane;
  {
    std::lock_guard<std::mutex> lock(lane.mutex);
    lane.queue.push_back(FinishWork{nullptr, std::move(job), std::move(result_json)});
  }
  lane.ready.notify_one();
}

void BullmqWorker::finish_loop(FinishLane& lane) {
  request_short_time_slice("finish");
  std::vector<FinishWork> completions;
  while (true) {
    FinishWork work;
    completions.clear();
    {
      std::unique_lock<std::mutex> lock(lane.mutex);
      lane.ready.wait(lock, [this, &lane] { return finish_stop_.load() || !lane.queue.empty(); });
      if (lane.queue.empty()) return;
      // Completions queued one after another go to Redis together.
      while (!lane.queue.empty() && lane.queue.front().completed != nullptr &&
             completions.size() < kMaxPipelinedCompletions) {
        completions.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      if (completions.empty()) {
        work = std::move(lane.queue.front());
        lane.queue.pop_front();
      }
    }
    if (completions.size() == 1) complete(completions[0].completed, completions[0].result_json);
    else if (!completions.empty()) complete_batch(completions);
    else work.run();
  }
}

// Runs a script on the finish connection, retrying through Redis outages
// until Redis replies or the worker is stopped for good. A moveToFinished
// whose reply was lost may have fetched a job that this worker never
// starts. Its retry fetches no job, and the caller hands that job back by
// its token.
Result<RedisReply> BullmqWorker::run_finish_script(RedisConnection& connection, const char* script,
                                                   const std::vector<std::string>& keys, std::vector<std::string> args,
                                                   bool* reply_lost) {
  std::string_view source, sha1;
  const std::string_view name = script;
  if (name == "moveToFinished") source = gen::kMoveToFinishedSource, sha1 = gen::kMoveToFinishedSha1;
  else if (name == "moveToDelayed") source = gen::kMoveToDelayedSource, sha1 = gen::kMoveToDelayedSha1;
  else if (name == "retryJob") source = gen::kRetryJobSource, sha1 = gen::kRetryJobSha1;
  else if (name == "updateProgress") source = gen::kUpdateProgressSource, sha1 = gen::kUpdateProgressSha1;
  else source = gen::kMoveJobFromActiveToWaitSource, sha1 = gen::kMoveJobFromActiveToWaitSha1;
  while (true) {
    auto reply = connection.eval_script(source, sha1, keys, args);
    if (reply.ok() || finish_stop_.load()) return reply;
    if (name == "moveToFinished" && args.size() > kFetchNextArg && args[kFetchNextArg] == "1") {
      args[kFetchNextArg] = "0";
      if (reply_lost != nullptr) *reply_lost = true;
    }
    connection.ensure_connected();
    if (finish_stop_.load()) return reply;
  }
}

void BullmqWorker::release(const std::shared_ptr<ActiveJob>& job, const std::string& outcome) {
  job->finished.store(true);
  if (Journal::valid_id(job->id)) journal_.remove(job->id);
  job_outcome_counter(*job, outcome).inc();
  size_t still_active = 0;
  {
    std::lock_guard<std::mutex> lock(jobs_mutex_);
    active_jobs_.erase(job->id);
    still_active = active_.fetch_sub(1) - 1;
  }
  // A job whose moveToFinished took the next one frees no slot, and waking
  // the fetch thread for it would cost two context switches per job.
  if (still_active < concurrency_) slot_freed_.notify_all();
}

// The opts argument of moveToFinished: the lock token, retention and the
// flow flags, which are off since heavylift jobs have no parents.
std::string BullmqWorker::finished_opts_msgpack(const ActiveJob& job, const KeepJobs& keep) const {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  const bool limited = settings_.limiter_max > 0;
  packer.pack_map(limited ? 10 : 9);
  packer.pack(std::string("token"));
  packer.pack(job.token);
  packer.pack(std::string("name"));
  packer.pack(worker_name_);
  packer.pack(std::string("keepJobs"));
  pack_keep_jobs(packer, keep);
  packer.pack(std::string("lockDuration"));
  packer.pack(settings_.lock_duration_ms);
  packer.pack(std::string("attempts"));
  packer.pack(job.options.attempts);
  packer.pack(std::string("maxMetricsSize"));
  packer.pack(std::string());
  for (const char* flag : {"fpof", "idof", "rdof"}) {
    packer.pack(std::string(flag));
    packer.pack(false);
  }
  // The next job fetched in the same call counts against the rate limit.
  if (limited) pack_limiter(packer);
  return std::string(buffer.data(), buffer.size());
}

// Reports whether a job's moveToFinished may also take the next job, as a
// Node Worker's does on a busy queue: not while stopping, rate-limited or
// paused for a full executor.
bool BullmqWorker::may_fetch_next() const {
  return !stopping_.load() && fetch_paused_until_ms_.load() <= now_ms() && active_.load() <= concurrency_;
}

// Starts the job that a moveToFinished with fetch next returned, or pauses
// fetching for the rate limit it reported instead. Runs before the finished
// job is released, so the fetch thread does not see a free slot meanwhile.
void BullmqWorker::take_next_job(FinishLane& lane, const Result<RedisReply>& reply, const std::string& token,
                                 bool reply_lost) {
  if (reply_lost) mark_uncertain(token);
  if (!reply.ok()) return;
  FetchResult next = parse_fetch_reply(reply.value().get(), token);
  if (!next.job_id.empty()) {
    dispatch(std::move(next.fields), std::move(next.job_id), *lane.connection, lane);
  } else if (next.rate_limit_delay_ms > 0) {
    pause_fetching(std::min(next.rate_limit_delay_ms, kMaxRateLimitDelayMs));
  }
}

std::vector<std::string> BullmqWorker::complete_args(const ActiveJob& job, const std::string& result_json,
                                                    bool fetch_next) const {
  return {job.id, std::to_string(now_ms()), "returnvalue", result_json, "completed", fetch_next ? "1" : "0", key(""),
          finished_opts_msgpack(job, merge_keep_jobs(job.options.remove_on_complete, keep_completed_))};
}

void BullmqWorker::complete(const std::shared_ptr<ActiveJob>& job, const std::string& result_json,
                            bool allow_fetch_next) {
  job->finished.store(true);
  const bool fetch_next = allow_fetch_next && may_fetch_next();
  bool reply_lost = false;
  auto reply = run_finish_script(
      *job->lane->connection, "moveToFinished",
      keys_for(gen::kMoveToFinishedKeys.data(), gen::kMoveToFinishedKeys.size(), job->id, "completed"),
      complete_args(*job, result_json, fetch_next), &reply_lost);
  if (fetch_next) take_next_job(*job->lane, reply, job->token, reply_lost);
  after_complete(job, reply);
}

// Completes several jobs with one pipelined write and read, so a busy
// worker pays one round trip (and one wake-up of each side) per batch.
// When Redis does not reply to them all, or has lost its script cache, the
// jobs are completed one by one instead. A job that may have run its
// script has its token handed back like a lost fetch.
void BullmqWorker::complete_batch(const std::vector<FinishWork>& completions) {
  std::vector<std::vector<std::string>> commands;
  std::vector<bool> fetch_next;
  commands.reserve(completions.size());
  for (const auto& item : completions) {
    item.completed->finished.store(true);
    fetch_next.push_back(may_fetch_next());
    std::vector<std::string> argv = {"EVALSHA", std::string(gen::kMoveToFinishedSha1),
                                     std::to_string(gen::kMoveToFinishedKeys.size())};
    const auto keys = keys_for(gen::kMoveToFinishedKeys.data(), gen::kMoveToFinishedKeys.size(), item.completed->id,
                               "completed");
    argv.insert(argv.end(), keys.begin(), keys.end());
    const auto args = complete_args(*item.completed, item.result_json, fetch_next.back());
    argv.insert(argv.end(), args.begin(), args.end());
    commands.push_back(std::move(argv));
  }
  FinishLane& lane = *completions.front().completed->lane;
  auto replies = lane.connection->pipeline(commands);
  for (size_t i = 0; i < completions.size(); ++i) {
    const auto& job = completions[i].completed;
    const redisReply* r = replies.ok() ? replies.value()[i].get() : nullptr;
    if (r == nullptr || (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT")) {
      // Without fetching, so that no running job has the token when the
      // fetch thread looks for jobs left under it.
      complete(job, completions[i].result_json, /*allow_fetch_next=*/false);
      if (r == nullptr && fetch_next[i]) mark_uncertain(job->token);
      continue;
    }
    Result<RedisReply> reply = std::move(replies.value()[i]);
    if (fetch_next[i]) take_next_job(lane, reply, job->token, false);
    after_complete(job, reply);
  }
}

// Logs and releases a job after its moveToFinished to completed.
void BullmqWorker::after_complete(const std::shared_ptr<ActiveJob>& job, const Result<RedisReply>& reply) {
  const int64_t code = reply.ok() ? reply_integer(reply.value().get()) : 0;
  if (!reply.ok() || code < 0 || reply.value()->type == REDIS_REPLY_ERROR) {
    const std::string message = !reply.ok() ? reply.error().message
                                : reply.value()->type == REDIS_REPLY_ERROR ? reply_text(reply.value().get())
                                                                           : finish_error_text(code);
    spdlog::warn("event=bullmq.complete_failed job_id={} task={} message={}", log_value(job->id), log_value(job->name),
                 log_value(message));
    release(job, "lock_lost");
    return;
  }
  spdlog::debug("event=bullmq.job_completed job_id={} task={}{}", log_value(job->id), log_value(job->name),
                trace_log_field(job->options.trace_id));
  release(job, "completed");
}

void BullmqWorker::fail(const std::shared_ptr<ActiveJob>& job, const Error& error) {
  job->finished.store(true);
  // A job cancelled by the drain goes back to wait for another worker.
  if (stopping_.load() && error.code == Code::kUnavailable && job->context && job->context->cancelled()) {
    hand_back(*job->lane->connection, job->id, job->token, "shutdown");
    release(job, "handed_back");
    return;
  }
  // The executor's queue was full: the job goes back to wait, untouched,
  // and fetching pauses for the executor's retry hint.
  if (error.code == Code::kResourceExhausted && error.reason == "QUEUE_FULL") {
    const uint32_t pause_ms = std::max<uint32_t>(error.retry_after_ms, 50);
    pause_fetching(pause_ms);
    hand_back(*job->lane->connection, job->id, job->token, "executor_queue_full");
    release(job, "handed_back");
    return;
  }

  RedisConnection& connection = *job->lane->connection;
  const std::string reason = job_failure_reason(error);
  const std::vector<std::string> fields = {"failedReason", reason, "stacktrace",
                                           "[" + json_string(error_detail_json(error)) + "]"};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const RetryDecision decision = decide_retry(job->options, job->attempts_made, is_permanent_failure(error.code) ||
                                              error.reason == "DEFERRED_FAILURE", uniform(job->lane->random));
  const std::string task_name = job->task != nullptr ? job->task->name : "unknown";

  Result<RedisReply> reply = Error::internal("not sent");
  std::string outcome;
  if (decision.retry && decision.delay_ms > 0) {
    outcome = "retried";
    reply = run_finish_script(connection, "moveToDelayed",
                              keys_for(gen::kMoveToDelayedKeys.data(), gen::kMoveToDelayedKeys.size(), job->id, ""),
                              {key(""), std::to_string(now_ms()), job->id, job->token, std::to_string(decision.delay_ms),
                               "0", pack_fields(fields), "0"});
  } else if (decision.retry) {
    outcome = "retried";
    reply = run_finish_script(connection, "retryJob", keys_for(gen::kRetryJobKeys.data(), gen::kRetryJobKeys.size(), job->id, ""),
                              {key(""), std::to_string(now_ms()), job->options.lifo ? "RPUSH" : "LPUSH", job->id,
                               job->token, pack_fields(fields)});
  } else {
    outcome = "failed";
    const bool fetch_next = may_fetch_next();
    bool reply_lost = false;
    reply = run_finish_script(
        connection, "moveToFinished",
        keys_for(gen::kMoveToFinishedKeys.data(), gen::kMoveToFinishedKeys.size(), job->id, "failed"),
        {job->id, std::to_string(now_ms()), "failedReason", reason, "failed", fetch_next ? "1" : "0", key(""),
         finished_opts_msgpack(*job, merge_keep_jobs(job->options.remove_on_fail, keep_failed_)),
         pack_fields({"stacktrace", fields[3]})},
        &reply_lost);
    if (fetch_next) take_next_job(*job->lane, reply, job->token, reply_lost);
  }

  const int64_t code = reply.ok() ? reply_integer(reply.value().get()) : 0;
  if (!reply.ok() || code < 0 || reply.value()->type == REDIS_REPLY_ERROR) {
    const std::string message = !reply.ok() ? reply.error().message
                                : reply.value()->type == REDIS_REPLY_ERROR ? reply_text(reply.value().get())
                                                                           : finish_error_text(code);
    spdlog::warn("event=bullmq.fail_failed job_id={} task={} message={}", log_value(job->id), log_value(task_name),
                 log_value(message));
    release(job, "lock_lost");
    return;
  }
  spdlog::info("event=bullmq.job_failed job_id={} task={}{} attempt={} outcome={} retry_delay_ms={} reason={}",
               log_value(job->id), log_value(task_name), trace_log_field(job->options.trace_id),
               job->attempts_made + 1, outcome, decision.delay_ms, log_value(reason));
  release(job, outcome);
}

void BullmqWorker::hand_back(RedisConnection& connection, const std::string& job_id, const std::string& token,
                             const std::string& why) {
  auto reply = run_finish_script(
      connection, "moveJobFromActiveToWait",
      keys_for(gen::kMoveJobFromActiveToWaitKeys.data(), gen::kMoveJobFromActiveToWaitKeys.size(), job_id, ""),
      {job_id, token, key(job_id)});
  const int64_t code = reply.ok() ? reply_integer(reply.value().get()) : -100;
  spdlog::info("event=bullmq.job_handed_back job_id={} why={} result={}", log_value(job_id), why,
               code >= 0 ? "moved_to_wait" : reply.ok() ? finish_error_text(code) : reply.error().message);
}

// ---------------------------------------------------------------------------
// Lock renewal and the stalled check

void BullmqWorker::renew_locks() {
  std::vector<std::shared_ptr<ActiveJob>> jobs;
  {
    std::lock_guard<std::mutex> lock(jobs_mutex_);
    for (const auto& [id, job] : active_jobs_) {
      if (!job->lock_lost.load()) jobs.push_back(job);
    }
  }
  if (jobs.empty()) return;
  std::vector<std::string> ids, tokens;
  for (const auto& job : jobs) {
    ids.push_back(job->id);
    tokens.push_back(job->token);
  }
  auto reply = lock_->eval_script(gen::kExtendLocksSource, gen::kExtendLocksSha1,
                                  keys_for(gen::kExtendLocksKeys.data(), gen::kExtendLocksKeys.size(), "", ""),
                                  {key(""), pack_strings(tokens), pack_strings(ids),
                                   std::to_string(settings_.lock_duration_ms)});
  if (!reply.ok() || reply.value()->type != REDIS_REPLY_ARRAY) {
    spdlog::warn("event=bullmq.lock_renewal_failed jobs={} message={}", jobs.size(),
                 log_value(reply.ok() ? reply_text(reply.value().get()) : reply.error().message));
    return;
  }
  std::vector<std::string> failed;
  for (size_t i = 0; i < reply.value()->elements; ++i) failed.push_back(reply_text(reply.value()->element[i]));
  lock_renewals_ok_->inc(static_cast<double>(jobs.size() - failed.size()));
  for (const auto& id : failed) {
    for (const auto& job : jobs) {
      // A job that finished meanwhile released its lock; that is no loss.
      if (job->id != id || job->finished.load()) continue;
      lock_renewals_lost_->inc();
      job->lock_lost.store(true);
      spdlog::error("event=bullmq.lock_lost job_id={} task={} message={}", log_value(id), log_value(job->name),
                    log_value("the job's lock expired or was taken; its result will be rejected"));
    }
  }
}

void BullmqWorker::check_stalled() {
  auto reply = lock_->eval_script(
      gen::kMoveStalledJobsToWaitSource, gen::kMoveStalledJobsToWaitSha1,
      keys_for(gen::kMoveStalledJobsToWaitKeys.data(), gen::kMoveStalledJobsToWaitKeys.size(), "", ""),
      {std::to_string(settings_.max_stalled_count), key(""), std::to_string(now_ms()),
       std::to_string(settings_.stalled_interval_ms)});
  if (!reply.ok() || reply.value()->type == REDIS_REPLY_ERROR) {
    spdlog::warn("event=bullmq.stalled_check_failed message={}",
                 log_value(reply.ok() ? reply_text(reply.value().get()) : reply.error().message));
    return;
  }
  if (reply.value()->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < reply.value()->elements; ++i) {
    stalled_jobs_->inc();
    spdlog::warn("event=bullmq.job_stalled job_id={}", log_value(reply_text(reply.value()->element[i])));
  }
}

void BullmqWorker::lock_loop() {
  const auto renew_every = std::chrono::milliseconds(std::max<uint32_t>(1, settings_.lock_duration_ms / 2));
  const auto stalled_every = std::chrono::milliseconds(settings_.stalled_interval_ms);
  auto next_renewal = std::chrono::steady_clock::now() + renew_every;
  auto next_stalled_check = std::chrono::steady_clock::now();
  while (!finish_stop_.load() && (!stopping_.load() || active_.load() > 0)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_renewal) {
      renew_locks();
      next_renewal = now + renew_every;
    }
    if (!stopping_.load() && now >= next_stalled_check) {
      check_stalled();
      next_stalled_check = now + stalled_every;
    }
    if (!lock_->ensure_connected().ok()) continue;  // waited the backoff
    std::unique_lock<std::mutex> lock(lock_mutex_);
    lock_wake_.wait_until(lock, std::min(next_renewal, stopping_.load() ? next_renewal : next_stalled_check),
                          [this] { return finish_stop_.load(); });
    if (finish_stop_.load()) break;
  }
}

// ---------------------------------------------------------------------------
// Drain

void BullmqWorker::drain(std::chrono::steady_clock::time_point deadline) {
  if (!fetch_thread_.joinable()) return;
  spdlog::info("event=bullmq.draining active={}", active_.load());

  // Stop fetching: break the blocking wait and wake the fetch thread.
  stopping_.store(true);
  blocking_->stop(true);
  fetch_->stop(false);
  slot_freed_.notify_all();
  fetch_thread_.join();

  // Let active jobs finish within the grace period.
  while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // Cancel the rest: each stops at its next safe point and is handed back.
  if (active_.load() > 0) {
    std::vector<std::shared_ptr<ActiveJob>> jobs;
    {
      std::lock_guard<std::mutex> lock(jobs_mutex_);
      for (const auto& [id, job] : active_jobs_) jobs.push_back(job);
    }
    spdlog::warn("event=bullmq.grace_expired active={}", jobs.size());
    for (const auto& job : jobs) {
      if (job->context) job->context->cancel(TaskContext::CancelReason::kShutdown);
    }
    const auto cancel_deadline = std::chrono::steady_clock::now() + kCancelledJobsWait;
    while (active_.load() > 0 && std::chrono::steady_clock::now() < cancel_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Close: the lock thread renews until the last job is released.
  finish_stop_.store(true);
  for (auto& lane : lanes_) {
    // Under the lane's mutex, so a lane between its check and its wait
    // does not miss the wake-up.
    std::lock_guard<std::mutex> lock(lane->mutex);
    lane->ready.notify_all();
  }
  lock_wake_.notify_all();
  if (active_.load() > 0) {
    // NOTE: jobs whose tasks ignore cancellation stay active in Redis until
    // their lock expires. The journal hands them back when the worker starts
    // again, or another worker's stalled check does.
    spdlog::warn("event=bullmq.jobs_left_active count={}", active_.load());
  }
  for (auto& lane : lanes_) lane->connection->stop(true);
  lock_->stop(true);
  for (auto& lane : lanes_) lane->thread.join();
  lock_thread_.join();
  spdlog::info("event=bullmq.stopped");
}

}  // namespace heavylift
