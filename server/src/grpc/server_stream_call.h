// Server-streaming gRPC calls over the executor, in bounded memory.
//
// API. A service method of the callback API returns
//   ServerStreamCall<Response>::start(server_context, options,
//                                     std::make_unique<MyProducer>(...), tracker);
// where MyProducer implements ServerStreamProducer<Response>:
//   next(message, last, context)  fills the next message; sets *last on the
//                                 final one (which may be empty).
// next() runs on an executor thread, never on a gRPC completion thread, one
// call at a time per stream, so it may block on files or a database.
//
// Flow control. Exactly one of these is in flight per call: a job producing
// the next message, or the write of the previous one. The next message is
// produced only after gRPC reports the previous write done, which it does
// once HTTP/2 flow control lets the bytes out. A client that stops reading
// therefore stops the producer, and the daemon buffers one message per call.
//
// Ends. The call's deadline and cancellation reach the producer through
// TaskContext::check(), called before every next(). A failed write (client
// gone, call cancelled) or a producer error finishes the call and deletes the
// producer, releasing what it holds. Metrics and the drain go through the
// StreamCallTracker of stream_call.h (the bytes counter counts received
// bytes, so these calls add 0 to it; their log line contains the bytes sent).
//
// NOTE: cancel_all() (the drain) reaches a call only at its next message. A
// client that stops reading without a deadline keeps its call, and one
// message, until it reads, cancels, or the server shuts down.
//
// Thread-safety: a call object belongs to gRPC and deletes itself when gRPC
// reports it done and no job runs.
#pragma once

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "grpc/stream_call.h"

namespace heavylift {

template <typename Response>
class ServerStreamProducer {
 public:
  virtual ~ServerStreamProducer() = default;
  // Fills `*message` (cleared before the call) and sets `*last` when no
  // message follows. An error ends the call.
  virtual Status next(Response* message, bool* last, TaskContext& context) = 0;
};

template <typename Response>
class ServerStreamCall final : public grpc::ServerWriteReactor<Response> {
 public:
  using Producer = ServerStreamProducer<Response>;

  // Starts the call and returns the reactor for gRPC. `method` names it in
  // logs and metrics, for example "files.download".
  static grpc::ServerWriteReactor<Response>* start(grpc::CallbackServerContext* server_context, std::string method,
                                                   std::unique_ptr<Producer> producer, StreamCallTracker& tracker) {
    auto* call = new ServerStreamCall(server_context, std::move(method), std::move(producer), tracker);
    if (Status admitted = tracker.admit(*server_context); !admitted.ok()) {
      call->finish(admitted);
      return call;
    }
    {
      std::lock_guard lock(call->mutex_);
      call->job_active_ = true;
    }
    call->submit_job();
    return call;
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      // The client went away or the call was cancelled.
      finish(Error::cancelled("the client stopped the stream before its end"));
      return;
    }
    if (last_written_) {
      finish(Status::Ok());
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      job_active_ = true;
    }
    submit_job();
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
  ServerStreamCall(grpc::CallbackServerContext* server_context, std::string method,
                   std::unique_ptr<Producer> producer, StreamCallTracker& tracker)
      : server_context_(server_context), method_(std::move(method)), producer_(std::move(producer)),
        tracker_(tracker), context_(make_call_context(*server_context)), started_(std::chrono::steady_clock::now()) {
    tracker_.add(context_);
  }

  void destroy() {
    tracker_.remove(context_);
    delete this;
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

  // Produces one message and starts its write, or finishes the call.
  void run_job() {
    outgoing_.Clear();
    bool last = false;
    Status status = context_->check();
    if (status.ok()) status = producer_->next(&outgoing_, &last, *context_);
    if (!status.ok()) {
      finish(status);
    } else if (last && outgoing_.ByteSizeLong() == 0) {
      finish(Status::Ok());
    } else {
      bytes_ += outgoing_.ByteSizeLong();
      last_written_ = last;
      // The write is now the one thing in flight. gRPC calls OnDone only
      // after Finish, so the call cannot be deleted before StartWrite, and
      // OnWriteDone may start the next job as soon as the write is out.
      {
        std::lock_guard lock(mutex_);
        job_active_ = false;
      }
      this->StartWrite(&outgoing_);
      return;
    }
    release_job();
  }

  // Finishes the call once with `status`, records it and frees the producer.
  void finish(const Status& status) {
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
    }
    const Code code = status.ok() ? Code::kOk : status.error().code;
    tracker_.record(method_, code, 0);
    const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started_)
                                .count();
    if (status.ok()) {
      spdlog::info("event=stream.done method={} request_id={} bytes_sent={} duration_ms={}", method_,
                   context_->request_id(), bytes_, elapsed_ms);
    } else {
      spdlog::warn(
          "event=stream.failed method={} request_id={} bytes_sent={} duration_ms={} code={} reason={} message={}",
          method_, context_->request_id(), bytes_, elapsed_ms, code_name(code), log_value(status.error().reason),
          log_value(status.error().message));
    }
    this->Finish(to_grpc_status(status, server_context_));
  }

  grpc::CallbackServerContext* server_context_;
  const std::string method_;
  std::unique_ptr<Producer> producer_;
  StreamCallTracker& tracker_;
  std::shared_ptr<TaskContext> context_;
  const std::chrono::steady_clock::time_point started_;

  // Touched only by the one job or write in flight.
  Response outgoing_;
  uint64_t bytes_ = 0;
  bool last_written_ = false;

  std::mutex mutex_;
  bool job_active_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace heavylift
