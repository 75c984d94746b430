#include "core/task_runner.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <stdexcept>

#include "heavylift/v1/crypto.pb.h"

namespace heavylift {
namespace {

using Request = v1::Argon2idVerifyRequest;
using Response = v1::Argon2idVerifyResponse;

class TaskRunnerTest : public ::testing::Test {
 protected:
  void add(const std::string& name, std::function<Status(const Request&, Response*, TaskContext&)> fn) {
    ASSERT_TRUE((registry_.add<Request, Response>(name, std::move(fn))).ok());
  }

  // Runs `name` and waits for `done`, returning its status.
  Status run(const std::string& name, Response* response) {
    std::promise<Status> outcome;
    runner_.run(*registry_.find(name), request_, response, TaskContext::unbounded(),
                [&outcome](const Status& status) { outcome.set_value(status); });
    return outcome.get_future().get();
  }

  Metrics metrics_;
  Executor executor_{{1, 0}, metrics_};
  TaskRunner runner_{executor_, metrics_};
  TaskRegistry registry_;
  Request request_;
};

TEST_F(TaskRunnerTest, SuccessFillsResponseAndCounts) {
  add("test.ok", [](const Request&, Response* response, TaskContext&) {
    response->set_match(true);
    return Status::Ok();
  });
  Response response;
  ASSERT_TRUE(run("test.ok", &response).ok());
  EXPECT_TRUE(response.match());
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("heavylift_requests_total{task=\"test.ok\",code=\"OK\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("heavylift_request_duration_seconds_count{task=\"test.ok\"} 1\n"), std::string::npos);
}

TEST_F(TaskRunnerTest, ErrorIsCountedByCode) {
  add("test.bad", [](const Request&, Response*, TaskContext&) {
    return Status(Error::out_of_range("x", "<= 1", "2"));
  });
  Response response;
  const Status status = run("test.bad", &response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "x");
  EXPECT_NE(metrics_.render().find("heavylift_requests_total{task=\"test.bad\",code=\"INVALID_ARGUMENT\"} 1\n"),
            std::string::npos);
}

TEST_F(TaskRunnerTest, ExceptionBecomesInternal) {
  add("test.throws", [](const Request&, Response*, TaskContext&) -> Status {
    throw std::runtime_error("boom");
  });
  Response response;
  const Status status = run("test.throws", &response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInternal);
  EXPECT_NE(status.error().message.find("boom"), std::string::npos);
}

TEST_F(TaskRunnerTest, RejectionCallsDoneOnCallerThread) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  add("test.block", [&started, released](const Request&, Response*, TaskContext&) {
    started.set_value();
    released.wait();
    return Status::Ok();
  });
  add("test.ok", [](const Request&, Response*, TaskContext&) { return Status::Ok(); });

  Response first_response;
  std::promise<Status> first;
  runner_.run(*registry_.find("test.block"), request_, &first_response, TaskContext::unbounded(),
              [&first](const Status& status) { first.set_value(status); });
  started.get_future().wait();

  // The only worker is busy and the queue has no room, so this is rejected
  // before run() returns.
  Response second_response;
  std::optional<Status> second;
  runner_.run(*registry_.find("test.ok"), request_, &second_response, TaskContext::unbounded(),
              [&second](const Status& status) { second = status; });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->error().code, Code::kResourceExhausted);
  EXPECT_NE(metrics_.render().find("heavylift_requests_total{task=\"test.ok\",code=\"RESOURCE_EXHAUSTED\"} 1\n"),
            std::string::npos);

  release.set_value();
  EXPECT_TRUE(first.get_future().get().ok());
}

TEST_F(TaskRunnerTest, ResultAfterDeadlineCountsAsDeadline) {
  using namespace std::chrono_literals;
  add("test.slow", [](const Request&, Response* response, TaskContext&) {
    // Work that cannot stop part-way, outliving the call's deadline.
    std::this_thread::sleep_for(50ms);
    response->set_match(true);
    return Status::Ok();
  });
  Response response;
  std::promise<Status> outcome;
  runner_.run(*registry_.find("test.slow"), request_, &response,
              std::make_shared<TaskContext>("late", TaskContext::Clock::now() + 20ms),
              [&outcome](const Status& status) { outcome.set_value(status); });
  const Status status = outcome.get_future().get();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kDeadlineExceeded);
  EXPECT_NE(status.error().message.find("result was discarded"), std::string::npos);
  EXPECT_NE(metrics_.render().find("heavylift_requests_total{task=\"test.slow\",code=\"DEADLINE_EXCEEDED\"} 1\n"),
            std::string::npos);
}

TEST_F(TaskRunnerTest, ResultDuringShutdownIsStillSent) {
  auto context = TaskContext::unbounded("draining");
  add("test.drained", [context](const Request&, Response* response, TaskContext&) {
    context->cancel(TaskContext::CancelReason::kShutdown);
    response->set_match(true);
    return Status::Ok();
  });
  Response response;
  std::promise<Status> outcome;
  runner_.run(*registry_.find("test.drained"), request_, &response, context,
              [&outcome](const Status& status) { outcome.set_value(status); });
  EXPECT_TRUE(outcome.get_future().get().ok());
  EXPECT_TRUE(response.match());
}

TEST_F(TaskRunnerTest, DeclaredMetricsStartAtZero) {
  add("test.idle", [](const Request&, Response*, TaskContext&) { return Status::Ok(); });
  runner_.declare_metrics(*registry_.find("test.idle"));
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("heavylift_requests_total{task=\"test.idle\",code=\"OK\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("heavylift_request_duration_seconds_count{task=\"test.idle\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace heavylift
