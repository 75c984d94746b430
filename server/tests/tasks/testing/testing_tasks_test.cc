#include "tasks/testing/testing_tasks.h"

#include <gtest/gtest.h>

#include <vector>

namespace heavylift {
namespace {

TEST(TestingSleep, RunsForDurationAndReportsProgress) {
  auto context = TaskContext::unbounded();
  std::vector<double> progress;
  context->set_progress_callback([&progress](double fraction) { progress.push_back(fraction); });
  v1::SleepRequest request;
  request.set_duration_ms(120);
  v1::SleepResponse response;
  ASSERT_TRUE(testing_sleep(request, &response, *context).ok());
  EXPECT_GE(response.elapsed_ms(), 120u);
  EXPECT_EQ(response.attempt(), 1u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 1.0);
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GT(progress[i], progress[i - 1]);
}

TEST(TestingSleep, BusySpinStopsAtDeadline) {
  TaskContext context("t", TaskContext::Clock::now() + std::chrono::milliseconds(50));
  v1::SleepRequest request;
  request.set_duration_ms(10'000);
  request.set_busy(true);
  v1::SleepResponse response;
  const auto started = TaskContext::Clock::now();
  const Status status = testing_sleep(request, &response, context);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kDeadlineExceeded);
  EXPECT_LT(TaskContext::Clock::now() - started, std::chrono::seconds(2));
}

TEST(TestingSleep, RejectsDurationOverBound) {
  v1::SleepRequest request;
  request.set_duration_ms(kMaxSleepMs + 1);
  v1::SleepResponse response;
  const Status status = testing_sleep(request, &response, *TaskContext::unbounded());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "duration_ms");
}

TEST(TestingFail, FailsUntilAttempt) {
  v1::FailRequest request;
  request.set_code("UNAVAILABLE");
  request.set_succeed_on_attempt(3);
  v1::FailResponse response;
  auto context = TaskContext::unbounded();
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    context->set_attempt(attempt);
    const Status status = testing_fail(request, &response, *context);
    ASSERT_FALSE(status.ok()) << "attempt " << attempt;
    EXPECT_EQ(status.error().code, Code::kUnavailable);
  }
  context->set_attempt(3);
  ASSERT_TRUE(testing_fail(request, &response, *context).ok());
  EXPECT_EQ(response.attempt(), 3u);
}

TEST(TestingFail, RejectsUnknownCode) {
  v1::FailRequest request;
  request.set_code("SOMETIMES");
  v1::FailResponse response;
  const Status status = testing_fail(request, &response, *TaskContext::unbounded());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "code");
}

TEST(TestingEcho, ReturnsPayload) {
  v1::EchoRequest request;
  request.set_payload(std::string("a\0b", 3));
  v1::EchoResponse response;
  ASSERT_TRUE(testing_echo(request, &response, *TaskContext::unbounded()).ok());
  EXPECT_EQ(response.payload(), std::string("a\0b", 3));
}

}  // namespace
}  // namespace heavylift
