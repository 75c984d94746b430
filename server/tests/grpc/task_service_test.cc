#include "grpc/task_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "loopback_server.h"
#include "heavylift/v1/common.pb.h"
#include "heavylift/v1/testing.pb.h"

namespace heavylift {
namespace {

using namespace std::chrono_literals;

// An in-process gRPC server with TaskService and one task, "test.echo",
// whose body each test sets.
class TaskServiceTest : public ::testing::Test {
 protected:
  void start(std::function<Status(const v1::EchoRequest&, v1::EchoResponse*, TaskContext&)> echo_task) {
    executor_ = std::make_unique<Executor>(Executor::Options{2, 4}, metrics_);
    runner_ = std::make_unique<TaskRunner>(*executor_, metrics_);
    ASSERT_TRUE((registry_.add<v1::EchoRequest, v1::EchoResponse>("test.echo", std::move(echo_task))).ok());
    dispatcher_ = std::make_unique<TaskCallDispatcher>(registry_, *runner_, draining_);
    service_ = std::make_unique<TaskServiceImpl>(*dispatcher_);

    LoopbackServer started = start_loopback_server(service_.get());
    server_ = std::move(started.server);
    ASSERT_NE(started.channel, nullptr);
    stub_ = v1::TaskService::NewStub(started.channel);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 5s);
    if (executor_) executor_->shutdown();
  }

  // Calls Run for `task` with `request_bytes`, storing the trailer's ErrorDetail in `*detail`.
  grpc::Status run(const std::string& task, const std::string& request_bytes, v1::RunTaskResponse* response,
                   v1::ErrorDetail* detail) {
    grpc::ClientContext context;
    v1::RunTaskRequest request;
    request.set_task(task);
    request.set_request(request_bytes);
    const grpc::Status status = stub_->Run(&context, request, response);
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kErrorDetailKey); it != trailers.end()) {
      detail->ParseFromString(std::string(it->second.data(), it->second.size()));
    }
    return status;
  }

  static Status echo(const v1::EchoRequest& request, v1::EchoResponse* response, TaskContext&) {
    response->set_payload("echo:" + request.payload());
    return Status::Ok();
  }

  Metrics metrics_;
  TaskRegistry registry_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<TaskRunner> runner_;
  std::unique_ptr<TaskCallDispatcher> dispatcher_;
  std::unique_ptr<TaskServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::TaskService::Stub> stub_;
};

TEST_F(TaskServiceTest, RunReturnsBinaryResponse) {
  start(echo);
  v1::EchoRequest request;
  request.set_payload("abc");
  v1::RunTaskResponse response;
  v1::ErrorDetail detail;
  const grpc::Status status = run("test.echo", request.SerializeAsString(), &response, &detail);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::EchoResponse echoed;
  ASSERT_TRUE(echoed.ParseFromString(response.response()));
  EXPECT_EQ(echoed.payload(), "echo:abc");
}

TEST_F(TaskServiceTest, UndecodableRequestIsInvalidArgument) {
  bool ran = false;
  start([&ran](const v1::EchoRequest&, v1::EchoResponse*, TaskContext&) {
    ran = true;
    return Status::Ok();
  });
  v1::RunTaskResponse response;
  v1::ErrorDetail detail;
  const grpc::Status status = run("test.echo", std::string("\xff\xff\xff", 3), &response, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(detail.field(), "request");
  EXPECT_EQ(detail.reason(), "UNDECODABLE_REQUEST");
  EXPECT_EQ(detail.value(), "3 bytes");
  EXPECT_FALSE(ran);
}

TEST_F(TaskServiceTest, TaskErrorCarriesDetailTrailer) {
  start([](const v1::EchoRequest&, v1::EchoResponse*, TaskContext&) {
    return Status(Error::out_of_range("payload", "at most 4 bytes", "9 bytes"));
  });
  v1::RunTaskResponse response;
  v1::ErrorDetail detail;
  const grpc::Status status = run("test.echo", "", &response, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(detail.field(), "payload");
  EXPECT_EQ(detail.bound(), "at most 4 bytes");
  EXPECT_EQ(detail.value(), "9 bytes");
}

TEST_F(TaskServiceTest, UnknownTaskIsUnimplemented) {
  start(echo);
  v1::RunTaskResponse response;
  v1::ErrorDetail detail;
  const grpc::Status status = run("test.missing", "", &response, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(detail.reason(), "UNKNOWN_TASK");
}

TEST_F(TaskServiceTest, DrainingRejectsRun) {
  start(echo);
  draining_.store(true);
  v1::RunTaskResponse response;
  v1::ErrorDetail detail;
  EXPECT_EQ(run("test.echo", "", &response, &detail).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace heavylift
