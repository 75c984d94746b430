// Client-streaming gRPC calls over the executor, in bounded memory.
//
// API. A service method of the callback API returns
//   ClientStreamCall<Request, Response>::start(server_context, response, options,
//                                             std::make_unique<MyHandler>(...), tracker);
// where MyHandler implements ClientStreamHandler<Request, Response>:
//   on_message(message, context)  once per message, in order;
//   on_end(response, context)     once after the client half-closed.
// Both run on executor threads, one at a time per call, never on a gRPC
// completion thread, so CPU work (hashing, compression, decoding an image
// as it arrives) does not stall other calls. A handler needs no locking.
//
// Flow control. At most one read is outstanding, and at most
// `max_buffered_messages` received messages wait for the handler. When that
// many wait, the call stops reading until the handler takes one, so HTTP/2
// flow control pushes back on the client. Memory per call is therefore about
// (max_buffered_messages + 1) x the largest message, whatever the stream size.
//
// Bounds and errors. A call whose messages add up to more than
// `max_call_bytes` (counted with `payload_bytes`) fails with
// INVALID_ARGUMENT, reason TOO_LARGE, naming `bytes_setting`. A call still
// open `max_call_duration` after it started fails with DEADLINE_EXCEEDED
// naming `duration_setting`, even when the client has stopped sending. The call's
// deadline and the caller's cancellation reach the handler through
// TaskContext::check(), which the adapter calls before every message; a
// handler error, a full executor (RESOURCE_EXHAUSTED with a retry hint) or a
// drain (UNAVAILABLE) finishes the call at once with that status and the
// heavylift-error-bin trailer. Remaining messages are then dropped.
//
// Server-streaming calls (downloads, streamed image outputs) use
// ServerStreamCall of server_stream_call.h with the same tracker. The tracker
// admits a new call of either kind only after the bearer-token check.
//
// Thread-safety: a StreamCallTracker may be used from any thread. A call
// object belongs to gRPC and deletes itself when gRPC reports it done.
#pragma once

#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/executor.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/task_context.h"
#include "grpc/call_context.h"

namespace heavylift {

template <typename Request, typename Response>
class ClientStreamHandler {
 public:
  virtual ~ClientStreamHandler() = default;
  // Processes one message. `message` may be moved from. An error ends the call.
  virtual Status on_message(Request& message, TaskContext& context) = 0;
  // Fills `*response` after the last message. An error ends the call.
  virtual Status on_end(Response* response, TaskContext& context) = 0;
};

struct StreamCallOptions {
  // Method name used in logs and metric labels, for example "files.upload".
  std::string method;
  uint64_t max_call_bytes = UINT64_MAX;
  // Bytes of one message that count toward max_call_bytes. Default: the
  // serialized size of the message.
  std::function<uint64_t(const google::protobuf::Message&)> payload_bytes;
  // The setting that sets max_call_bytes, named in the error.
  std::string bytes_setting;
  uint32_t max_buffered_messages = 4;
  // Time from the call's start to its end, zero for no bound. A handler
  // that is running when it passes finishes its message first.
  std::chrono::milliseconds max_call_duration{0};
  // The setting that sets max_call_duration, named in the error.
  std::string duration_setting;
};

// Tracks live streaming calls for the drain, and records their metrics:
// heavylift_stream_calls_total{method,code}, heavylift_stream_bytes_total{method},
// heavylift_stream_calls_in_flight and heavylift_stream_buffered_messages.
class StreamCallTracker {
 public:
  // `executor`, `metrics` and `draining` must outlive every call.
  StreamCallTracker(Executor& executor, Metrics& metrics, const std::atomic<bool>& draining)
      : executor_(executor), metrics_(metrics), draining_(draining),
        buffered_(metrics.gauge("heavylift_stream_buffered_messages",
                                "Messages of streaming calls received and waiting for a worker, over all calls.")) {
    metrics_.gauge_callback("heavylift_stream_calls_in_flight", "Streaming gRPC calls started and not yet done.",
                            [this] { return static_cast<double>(in_flight()); });
  }

  size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return live_.size();
  }

  // Sets the check of a call's credentials (the bearer tokens) that admit()
  // applies to every later call. Call it before the server starts.
  void set_authenticator(std::function<Status(const grpc::CallbackServerContext&)> authenticate) {
    authenticate_ = std::move(authenticate);
  }

  // Decides whether a new call may start: UNAVAILABLE while draining, the
  // authenticator's error (UNAUTHENTICATED) for missing or unknown credentials.
  Status admit(const grpc::CallbackServerContext& server_context) const {
    if (draining()) {
      return Error::unavailable("heavylift is shutting down and takes no new work; retry on another instance");
    }
    if (authenticate_) return authenticate_(server_context);
    return Status::Ok();
  }

  // Cancels every live call, so each finishes at its next message.
  void cancel_all(TaskContext::CancelReason reason) {
    std::lock_guard lock(mutex_);
    for (const auto& context : live_) context->cancel(reason);
  }

  Executor& executor() { return executor_; }
  Gauge& buffered() { return buffered_; }
  bool draining() const { return draining_.load(); }

  void add(const std::shared_ptr<TaskContext>& context) {
    std::lock_guard lock(mutex_);
    live_.insert(context);
  }
  void remove(const std::shared_ptr<TaskContext>& context) {
    std::lock_guard lock(mutex_);
    live_.erase(context);
  }

  void record(const std::string& method, Code code, uint64_t bytes) {
    metrics_.counter("heavylift_stream_calls_total", "Streaming gRPC calls finished, by method and status code.",
                     {{"method", method}, {"code", code_name(code)}})
        .inc();
    metrics_.counter("heavylift_stream_bytes_total", "Bytes received by streaming gRPC calls, by method.",
                     {{"method", method}})
        .inc(static_cast<double>(bytes));
  }

 private:
  Executor& executor_;
  Metrics& metrics_;
  const std::atomic<bool>& draining_;
  Gauge& buffered_;
  mutable std::mutex mutex_;
  std::unordered_set<std::shared_ptr<TaskContext>> live_;
  std::function<Status(const grpc::CallbackServerContext&)> authenticate_;
};

template <typename Request, typename Response>
class ClientStreamCall final : public grpc::ServerReadReactor<Request> {
 public:
  using Handler = ClientStreamHandler<Request, Response>;

  // Starts the call and returns the reactor for gRPC. `response` and
  // `server_context` are gRPC's and live until the call is done.
  static grpc::ServerReadReactor<Request>* start(grpc::CallbackServerContext* server_context, Response* response,
                                                 StreamCallOptions options, std::unique_ptr<Handler> handler,
                                                 StreamCallTracker& tracker) {
    auto* call = new ClientStreamCall(server_context, response, std::move(options), std::move(handler), tracker);
    if (Status admitted = tracker.admit(*server_context); !admitted.ok()) {
      call->finish(admitted);
      return call;
    }
    {
      std::lock_guard lock(call->mutex_);
      call->read_pending_ = true;
    }
    call->arm_duration_alarm();
    call->StartRead(&call->incoming_);
    return call;
  }

  void OnReadDone(bool ok) override {
    bool read_again = false;
    bool submit = false;
    std::optional<Error> failure;
    {
      std::lock_guard lock(mutex_);
      read_pending_ = false;
      if (finished_) return;
      if (!ok) {
        // The client half-closed, or the call was cancelled (OnCancel set
        // the context, so the handler's next check() fails).
        end_of_stream_ = true;
      } else {
        bytes_ += options_.payload_bytes ? options_.payload_bytes(incoming_)
                                         : static_cast<uint64_t>(incoming_.ByteSizeLong());
        if (bytes_ > options_.max_call_bytes) {
          failure = too_many_bytes();
        } else {
          queue_.push_back(std::move(incoming_));
          incoming_.Clear();
          tracker_.buffered().add(1);
          if (queue_.size() < options_.max_buffered_messages) read_again = read_pending_ = true;
        }
      }
      if (!failure) submit = claim_job_locked();
    }
    if (failure) {
      finish(*failure);
      return;
    }
    if (read_again) this->StartRead(&incoming_);
    if (submit) submit_job();
  }

  void OnCancel() override {
    context_->cancel(tracker_.draining() ? TaskContext::CancelReason::kShutdown : TaskContext::CancelReason::kCaller);
  }

  void OnDone() override {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
      // A running job deletes the call when it returns.
      if (job_active_) return;
    }
    destroy();
  }

 private:
  ClientStreamCall(grpc::CallbackServerContext* server_context, Response* response, StreamCallOptions options,
                   std::unique_ptr<Handler> handler, StreamCallTracker& tracker)
      : server_context_(server_context), response_(response), options_(std::move(options)),
        handler_(std::move(handler)), tracker_(tracker), context_(make_call_context(*server_context)),
        started_(std::chrono::steady_clock::now()) {
    tracker_.add(context_);
  }

  // The alarm's callback may run after the call is deleted, so it reaches
  // the call only through this link, which destroy() clears.
  struct AlarmLink {
    std::mutex mutex;
    ClientStreamCall* call = nullptr;
  };

  void arm_duration_alarm() {
    if (options_.max_call_duration.count() <= 0) return;
    alarm_link_ = std::make_shared<AlarmLink>();
    alarm_link_->call = this;
    alarm_.Set(std::chrono::system_clock::now() + options_.max_call_duration,
               [link = alarm_link_](bool fired) {
                 if (fired) on_duration_passed(*link);
               });
  }

  // Finishes the call with call_too_long() unless it already finished. A
  // running job finishes it instead, once its message is handled.
  static void on_duration_passed(AlarmLink& link) {
    ClientStreamCall* call = nullptr;
    {
      std::lock_guard link_lock(link.mutex);
      call = link.call;
      if (call == nullptr) return;
      std::lock_guard lock(call->mutex_);
      call->duration_passed_ = true;
      if (call->finished_ || call->done_ || call->job_active_) return;
      // Holding the job slot keeps OnDone from deleting the call.
      call->job_active_ = true;
    }
    call->finish(call->call_too_long());
    call->release_job();
  }

  Error call_too_long() const {
    const auto limit_ms = options_.max_call_duration.count();
    Error error = Error::deadline_exceeded(fmt::format("the {} call ran longer than {} ({} ms) and was stopped",
                                                       options_.method, options_.duration_setting, limit_ms));
    error.field = options_.duration_setting;
    error.bound = fmt::format("<= {} ms", limit_ms);
    return error;
  }

  void destroy() {
    if (alarm_link_) {
      std::lock_guard lock(alarm_link_->mutex);
      alarm_link_->call = nullptr;
    }
    tracker_.remove(context_);
    delete this;
  }

  Error too_many_bytes() const {
    Error error = Error::invalid(
        options_.bytes_setting, "TOO_LARGE",
        fmt::format("the {} stream exceeds {} = {} bytes", options_.method, options_.bytes_setting,
                    options_.max_call_bytes),
        fmt::format("<= {} bytes", options_.max_call_bytes), fmt::format("> {} bytes", options_.max_call_bytes));
    return error;
  }

  // Marks a job active when there is work and none runs. Needs mutex_.
  bool claim_job_locked() {
    if (job_active_ || finished_ || (queue_.empty() && !end_of_stream_)) return false;
    job_active_ = true;
    return true;
  }

  void submit_job() {
    Executor::Job job;
    job.context = context_;
    job.run = [this] { run_job(); };
    job.reject = [this](const Error& error) {
      finish(error);
      release_job();
    };
    if (Status s = tracker_.executor().submit(std::move(job)); !s.ok()) {
      finish(s);
      release_job();
    }
  }

  // Clears job_active_ and deletes the call when gRPC already reported it done.
  void release_job() {
    bool destroy_now = false;
    {
      std::lock_guard lock(mutex_);
      job_active_ = false;
      destroy_now = done_;
    }
    if (destroy_now) destroy();
  }

  // Feeds queued messages to the handler until the queue is empty.
  void run_job() {
    for (;;) {
      Request message;
      bool have_message = false;
      bool read_again = false;
      bool exit = false;
      bool destroy_now = false;
      bool too_long = false;
      {
        std::lock_guard lock(mutex_);
        if (!finished_ && duration_passed_) {
          // The duration alarm fired while this job ran and left the call to it.
          too_long = true;
        } else if (finished_ || (queue_.empty() && !end_of_stream_)) {
          // Clearing the flag under the lock hands the next message to the
          // job that OnReadDone submits.
          job_active_ = false;
          destroy_now = done_;
          exit = true;
        } else if (!queue_.empty()) {
          message = std::move(queue_.front());
          queue_.pop_front();
          tracker_.buffered().add(-1);
          have_message = true;
          if (!read_pending_ && !end_of_stream_ && queue_.size() < options_.max_buffered_messages) {
            read_again = read_pending_ = true;
          }
        }
      }
      if (too_long) {
        finish(call_too_long());
        release_job();
        return;
      }
      if (exit) {
        if (destroy_now) destroy();
        return;
      }
      if (read_again) this->StartRead(&incoming_);

      Status status = context_->check();
      // A read that fails because the client cancelled looks like a
      // half-close, and OnCancel may not have run yet. The end of input
      // counts only when gRPC does not know the call as cancelled, so a
      // cancelled upload is never completed and stored.
      if (status.ok() && !have_message && server_context_->IsCancelled()) {
        status = Error::cancelled("the call was cancelled by the caller");
      }
      if (status.ok()) {
        status = have_message ? handler_->on_message(message, *context_) : handler_->on_end(response_, *context_);
      }
      if (!status.ok() || !have_message) finish(status);
    }
  }

  // Finishes the call once with `status` and records it.
  void finish(const Status& status) {
    uint64_t bytes = 0;
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
      tracker_.buffered().add(-static_cast<double>(queue_.size()));
      queue_.clear();
      bytes = bytes_;
    }
    const Code code = status.ok() ? Code::kOk : status.error().code;
    tracker_.record(options_.method, code, bytes);
    const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started_)
                                .count();
    if (status.ok()) {
      spdlog::info("event=stream.done method={} request_id={} bytes={} duration_ms={}", options_.method,
                   context_->request_id(), bytes, elapsed_ms);
    } else {
      spdlog::warn("event=stream.failed method={} request_id={} bytes={} duration_ms={} code={} reason={} message={}",
                   options_.method, context_->request_id(), bytes, elapsed_ms, code_name(code),
                   log_value(status.error().reason), log_value(status.error().message));
    }
    this->Finish(to_grpc_status(status, server_context_));
  }

  grpc::CallbackServerContext* server_context_;
  Response* response_;
  const StreamCallOptions options_;
  std::unique_ptr<Handler> handler_;
  StreamCallTracker& tracker_;
  std::shared_ptr<TaskContext> context_;
  const std::chrono::steady_clock::time_point started_;

  std::mutex mutex_;
  // The message being read; only touched by gRPC while read_pending_.
  Request incoming_;
  std::deque<Request> queue_;
  uint64_t bytes_ = 0;
  bool read_pending_ = false;
  bool end_of_stream_ = false;
  bool job_active_ = false;
  bool finished_ = false;
  bool done_ = false;
  bool duration_passed_ = false;
  std::shared_ptr<AlarmLink> alarm_link_;
  grpc::Alarm alarm_;
};

}  // namespace heavylift
