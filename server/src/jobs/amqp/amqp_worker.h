// The AMQP 0-9-1 worker: consumes task messages from a RabbitMQ queue, runs
// each through the task registry and TaskRunner (the executor, limits and
// metrics gRPC calls use), publishes the outcome with publisher confirms, and
// acknowledges a message only after the broker confirmed everything published
// for it.
//
// Topology, declared (idempotently) on every connect, all durable:
//   <queue>         the task queue; broker-side rejects dead-letter to <queue>.dead
//   <queue>.retry   holds failed attempts for retry_delay_ms (x-message-ttl),
//                   then dead-letters them back to <queue>
//   <queue>.dead    messages that cannot run: undecodable, unknown task,
//                   permanent failure, or attempts used up; headers give the reason
//   results exchange (topic) receives the outcome of messages with no reply_to,
//                   routed by task name
//
// Outcome of one delivery:
//   success          result JSON to reply_to (or the results exchange); ack
//   retryable error, attempts left
//                    copy with x-heavylift-attempt + 1 to <queue>.retry; ack
//   other errors     failure reply (ErrorDetail JSON) to reply_to or the results
//                    exchange, and a copy to <queue>.dead with the reason; ack
// The ack is sent only after every publish above was confirmed (basic.ack
// from the broker). A nack from the broker puts the message back (basic.nack
// with requeue), so it runs again instead of being lost.
//   redelivered      (the broker's flag: an earlier delivery was not acked,
//                    because a daemon crashed or lost its connection) counts as
//                    an interrupted attempt: a copy with x-heavylift-attempt + 1
//                    to <queue>.retry, or, with no attempts left, a failure
//                    outcome and a copy to <queue>.dead (MAX_ATTEMPTS); ack.
//                    The message does not run in that delivery.
// Messages the worker gives back while draining are republished to <queue>
// unchanged and acked, so a shutdown does not use up an attempt.
//
// Each connection runs on its own thread with one channel; its prefetch is
// `concurrency`, so at most that many of its messages run at once. A lost
// connection is reopened with exponential backoff; the broker redelivers the
// messages that were not acknowledged, and results of runs from the lost
// connection are dropped, never acknowledged on the new one.
//
// Thread-safety: start() and drain() are called once each, from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "core/task_registry.h"
#include "core/task_runner.h"

namespace heavylift {

struct AmqpOptions {
  // amqp://user:password@host:port/vhost; empty disables the worker.
  std::string url;
  std::string queue = "heavylift.tasks";
  std::string results_exchange = "heavylift.results";
  // Connections, each with its own thread and channel.
  uint32_t connections = 1;
  // Messages one connection runs at once (its prefetch). 0: executor threads.
  uint32_t concurrency = 0;
  // Runs of one message, including the first, before it is dead-lettered.
  uint32_t max_attempts = 3;
  // How long a failed attempt waits in the retry queue.
  uint32_t retry_delay_ms = 5000;
  // Deadline of one run.
  uint32_t job_timeout_ms = 300000;
  // Largest message body accepted; larger ones are rejected to <queue>.dead.
  uint64_t max_message_bytes = 64ull << 20;
  // AMQP heartbeat interval requested from the broker.
  uint32_t heartbeat_s = 30;
  // Upper bound of the reconnect backoff.
  uint32_t reconnect_max_ms = 5000;
};

class AmqpConnectionLoop;
struct AmqpMetrics;

class AmqpWorker {
 public:
  // `registry`, `runner` and `metrics` must outlive the worker. `executor_threads`
  // is used when options.concurrency is 0.
  AmqpWorker(AmqpOptions options, const TaskRegistry& registry, TaskRunner& runner, Metrics& metrics,
             uint32_t executor_threads);
  ~AmqpWorker();

  AmqpWorker(const AmqpWorker&) = delete;
  AmqpWorker& operator=(const AmqpWorker&) = delete;

  // Checks the URL and starts the connection threads. They keep trying to
  // connect until drain(), so a broker that is down at start is not an error.
  // Fails with INVALID_ARGUMENT (field amqp.url) when the URL does not parse.
  Status start();

  // Stops consuming, lets running messages finish and their results be
  // confirmed until `deadline`, cancels what is left, then closes the
  // connections, which returns unacknowledged messages to the broker.
  // Returns once every connection thread has stopped.
  void drain(std::chrono::steady_clock::time_point deadline);

 private:
  AmqpOptions options_;
  const TaskRegistry& registry_;
  TaskRunner& runner_;
  Metrics& metrics_;
  // Registers gauges read at scrape time: the worker must outlive scrapes of `metrics`.
  std::unique_ptr<AmqpMetrics> worker_metrics_;
  std::vector<std::unique_ptr<AmqpConnectionLoop>> loops_;
  std::vector<std::thread> threads_;
};

// Checks that `url` parses as an amqp:// URL. `setting` names the setting.
Status check_amqp_url(const std::string& setting, const std::string& url);

}  // namespace heavylift
