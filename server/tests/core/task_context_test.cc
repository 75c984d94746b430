#include "core/task_context.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

using namespace std::chrono_literals;

TEST(TaskContext, FreshContextPassesCheck) {
  TaskContext context("r1", TaskContext::Clock::now() + 1h);
  EXPECT_TRUE(context.check().ok());
  EXPECT_FALSE(context.cancelled());
  EXPECT_EQ(context.request_id(), "r1");
}

TEST(TaskContext, PassedDeadlineIsDeadlineExceeded) {
  TaskContext context("r1", TaskContext::Clock::now() - 1ms);
  ASSERT_FALSE(context.check().ok());
  EXPECT_EQ(context.check().error().code, Code::kDeadlineExceeded);
}

TEST(TaskContext, CallerCancelIsCancelled) {
  auto context = TaskContext::unbounded();
  context->cancel();
  EXPECT_TRUE(context->cancelled());
  EXPECT_EQ(context->check().error().code, Code::kCancelled);
}

TEST(TaskContext, ShutdownCancelIsUnavailable) {
  auto context = TaskContext::unbounded();
  context->cancel(TaskContext::CancelReason::kShutdown);
  ASSERT_FALSE(context->check().ok());
  EXPECT_EQ(context->check().error().code, Code::kUnavailable);
  EXPECT_NE(context->check().error().message.find("shutting down"), std::string::npos);
}

TEST(TaskContext, FirstCancelReasonIsKept) {
  auto context = TaskContext::unbounded();
  context->cancel(TaskContext::CancelReason::kShutdown);
  context->cancel(TaskContext::CancelReason::kCaller);
  EXPECT_EQ(context->check().error().code, Code::kUnavailable);
}

TEST(TaskContext, PassedDeadlineBeatsCallerCancel) {
  // gRPC cancels a call whose deadline passed; that is still a deadline.
  TaskContext context("r1", TaskContext::Clock::now() - 1ms);
  context.cancel();
  EXPECT_EQ(context.check().error().code, Code::kDeadlineExceeded);
}

TEST(TaskContext, ShutdownBeatsDeadline) {
  TaskContext context("r1", TaskContext::Clock::now() - 1ms);
  context.cancel(TaskContext::CancelReason::kShutdown);
  EXPECT_EQ(context.check().error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace heavylift
