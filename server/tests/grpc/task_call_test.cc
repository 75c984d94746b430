#include "grpc/task_call.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "loopback_server.h"
#include "grpc/services.h"
#include "heavylift/v1/common.pb.h"

namespace heavylift {
namespace {

using namespace std::chrono_literals;

// An in-process gRPC server on a loopback port whose crypto.argon2id.hash
// task is replaced by `hash_task`, so each test controls what the task does.
class TaskCallTest : public ::testing::Test {
 protected:
  void start(std::function<Status(const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext&)>
                 hash_task,
             Executor::Options executor_options = {2, 4}) {
    executor_ = std::make_unique<Executor>(executor_options, metrics_);
    runner_ = std::make_unique<TaskRunner>(*executor_, metrics_);
    ASSERT_TRUE((registry_.add<v1::Argon2idHashRequest, v1::Argon2idHashResponse>("crypto.argon2id.hash",
                                                                                  std::move(hash_task)))
                    .ok());
    dispatcher_ = std::make_unique<TaskCallDispatcher>(registry_, *runner_, draining_);
    service_ = std::make_unique<CryptoServiceImpl>(*dispatcher_);

    LoopbackServer started = start_loopback_server(service_.get());
    server_ = std::move(started.server);
    channel_ = std::move(started.channel);
    ASSERT_NE(channel_, nullptr);
    stub_ = v1::CryptoService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 5s);
    if (executor_) executor_->shutdown();
  }

  // Returns the ErrorDetail a failed call carried in its trailing metadata.
  static v1::ErrorDetail detail_of(const grpc::ClientContext& context) {
    v1::ErrorDetail detail;
    const auto& trailers = context.GetServerTrailingMetadata();
    const auto it = trailers.find(kErrorDetailKey);
    if (it != trailers.end()) detail.ParseFromString(std::string(it->second.data(), it->second.size()));
    return detail;
  }

  Metrics metrics_;
  TaskRegistry registry_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<TaskRunner> runner_;
  std::unique_ptr<TaskCallDispatcher> dispatcher_;
  std::unique_ptr<CryptoServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CryptoService::Stub> stub_;
};

TEST_F(TaskCallTest, SuccessReturnsResponse) {
  start([](const v1::Argon2idHashRequest& request, v1::Argon2idHashResponse* response, TaskContext&) {
    response->set_hash("hashed:" + request.password());
    return Status::Ok();
  });
  grpc::ClientContext context;
  v1::Argon2idHashRequest request;
  request.set_password("pw");
  v1::Argon2idHashResponse response;
  const grpc::Status status = stub_->Argon2idHash(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.hash(), "hashed:pw");
}

TEST_F(TaskCallTest, ErrorCarriesDetailTrailer) {
  start([](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext&) {
    return Status(Error::out_of_range("memory_cost", "in 8..65536 KiB", "1048576 KiB"));
  });
  grpc::ClientContext context;
  v1::Argon2idHashResponse response;
  const grpc::Status status = stub_->Argon2idHash(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "memory_cost must be in 8..65536 KiB, got 1048576 KiB");
  const v1::ErrorDetail detail = detail_of(context);
  EXPECT_EQ(detail.code(), "INVALID_ARGUMENT");
  EXPECT_EQ(detail.field(), "memory_cost");
  EXPECT_EQ(detail.bound(), "in 8..65536 KiB");
  EXPECT_EQ(detail.value(), "1048576 KiB");
  EXPECT_EQ(detail.reason(), "OUT_OF_RANGE");
}

TEST_F(TaskCallTest, DeadlineReachesRunningTask) {
  // Codes the task saw when it stopped, one per run; -1 while it runs.
  std::atomic<int> runs{0};
  std::atomic<int> seen_by_task{-1};
  start([&](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext& context) {
    seen_by_task = -1;
    ++runs;
    // Work in small steps, checking the context between them, for at most 10 s.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    Status status;
    while ((status = context.check()).ok() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
    seen_by_task = static_cast<int>(status.ok() ? Code::kOk : status.error().code);
    return status;
  });
  ASSERT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() + 10s));

  // On a loaded machine the deadline may pass before the call reaches the
  // task at all; longer deadlines are tried until the task has run.
  for (const auto budget : {1000ms, 3000ms, 8000ms}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + budget);
    v1::Argon2idHashResponse response;
    const grpc::Status status = stub_->Argon2idHash(&context, {}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    if (runs.load() > 0) break;
  }
  ASSERT_GT(runs.load(), 0) << "no call reached the task before its deadline";

  // The task and then the runner finish on the worker after the client has
  // its status, so wait for both.
  const std::string counted = "heavylift_requests_total{task=\"crypto.argon2id.hash\",code=\"DEADLINE_EXCEEDED\"}";
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while ((seen_by_task.load() == -1 || metrics_.render().find(counted) == std::string::npos) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(seen_by_task.load(), static_cast<int>(Code::kDeadlineExceeded));
  EXPECT_NE(metrics_.render().find(counted), std::string::npos) << metrics_.render();
}

TEST_F(TaskCallTest, ClientCancellationReachesTask) {
  std::promise<void> started;
  std::promise<Code> seen_by_task;
  start([&](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext& context) {
    started.set_value();
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!context.cancelled() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    seen_by_task.set_value(context.cancelled() ? Code::kCancelled : Code::kOk);
    return context.check();
  });
  grpc::ClientContext context;
  v1::Argon2idHashResponse response;
  std::thread canceller([&] {
    started.get_future().wait();
    context.TryCancel();
  });
  const grpc::Status status = stub_->Argon2idHash(&context, {}, &response);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  auto task_outcome = seen_by_task.get_future();
  ASSERT_EQ(task_outcome.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(task_outcome.get(), Code::kCancelled);
}

TEST_F(TaskCallTest, CancelWhileDrainingIsUnavailableInTask) {
  std::promise<void> started;
  std::promise<Code> seen_by_task;
  start([&](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext& context) {
    started.set_value();
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!context.cancelled() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    const Status status = context.check();
    seen_by_task.set_value(status.ok() ? Code::kOk : status.error().code);
    return status;
  });
  grpc::ClientContext context;
  v1::Argon2idHashResponse response;
  std::thread canceller([&] {
    started.get_future().wait();
    // The call started before the drain; a cancellation during the drain
    // stands for the shutdown deadline cutting it off.
    draining_.store(true);
    context.TryCancel();
  });
  stub_->Argon2idHash(&context, {}, &response);
  canceller.join();
  auto task_outcome = seen_by_task.get_future();
  ASSERT_EQ(task_outcome.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(task_outcome.get(), Code::kUnavailable);
}

TEST_F(TaskCallTest, RequestIdComesFromMetadata) {
  std::string seen_id;
  start([&seen_id](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext& context) {
    seen_id = context.request_id();
    return Status::Ok();
  });

  // A valid id reaches the task as sent.
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "upload-42.a_b");
    v1::Argon2idHashResponse response;
    ASSERT_TRUE(stub_->Argon2idHash(&context, {}, &response).ok());
    EXPECT_EQ(seen_id, "upload-42.a_b");
  }

  // An id with spaces or quotes is replaced by 16 random hex digits.
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "has spaces and \"quotes\"");
    v1::Argon2idHashResponse response;
    ASSERT_TRUE(stub_->Argon2idHash(&context, {}, &response).ok());
    EXPECT_EQ(seen_id.size(), 16u);
    EXPECT_EQ(seen_id.find(' '), std::string::npos);
  }
}

TEST_F(TaskCallTest, FullQueueIsResourceExhaustedWithRetryHint) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<bool> first{true};
  start(
      [&](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext&) {
        if (first.exchange(false)) {
          started.set_value();
          released.wait();
        }
        return Status::Ok();
      },
      {1, 0});

  auto blocked = std::async(std::launch::async, [this] {
    grpc::ClientContext context;
    v1::Argon2idHashResponse response;
    return stub_->Argon2idHash(&context, {}, &response).error_code();
  });
  started.get_future().wait();

  grpc::ClientContext context;
  v1::Argon2idHashResponse response;
  const grpc::Status status = stub_->Argon2idHash(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  const v1::ErrorDetail detail = detail_of(context);
  EXPECT_EQ(detail.reason(), "QUEUE_FULL");
  EXPECT_GT(detail.retry_after_ms(), 0u);

  release.set_value();
  EXPECT_EQ(blocked.get(), grpc::StatusCode::OK);
}

TEST_F(TaskCallTest, DrainingRejectsNewCalls) {
  std::atomic<bool> ran{false};
  start([&ran](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext&) {
    ran = true;
    return Status::Ok();
  });
  draining_.store(true);
  grpc::ClientContext context;
  v1::Argon2idHashResponse response;
  const grpc::Status status = stub_->Argon2idHash(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(detail_of(context).reason(), "SHUTTING_DOWN");
  EXPECT_FALSE(ran.load());
}

TEST_F(TaskCallTest, UnregisteredTaskIsUnimplemented) {
  start([](const v1::Argon2idHashRequest&, v1::Argon2idHashResponse*, TaskContext&) { return Status::Ok(); });
  grpc::ClientContext context;
  v1::Argon2idVerifyResponse response;
  const grpc::Status status = stub_->Argon2idVerify(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("crypto.argon2id.verify"), std::string::npos);
}

}  // namespace
}  // namespace heavylift
