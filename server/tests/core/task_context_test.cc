#include "core/task_context.h"

#include <gtest/gtest.h>

#include <thread>

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

TEST(TaskContext, CallerCancelNearDeadlineIsDeadline) {
  // A 100 ms budget allows 50 ms: a cancel 40 ms or less before the deadline
  // is the caller's deadline firing first. Oversleeping only moves it closer.
  TaskContext context("r1", TaskContext::Clock::now() + 100ms);
  std::this_thread::sleep_for(60ms);
  context.cancel();
  EXPECT_EQ(context.check().error().code, Code::kDeadlineExceeded);
}

TEST(TaskContext, EarlyCallerCancelIsCancelled) {
  // A 10 s budget allows 2.5 s; a cancel right away is a real cancel.
  TaskContext context("r1", TaskContext::Clock::now() + 10s);
  context.cancel();
  EXPECT_EQ(context.check().error().code, Code::kCancelled);
}

TEST(TaskContext, ShutdownBeatsDeadline) {
  TaskContext context("r1", TaskContext::Clock::now() - 1ms);
  context.cancel(TaskContext::CancelReason::kShutdown);
  EXPECT_EQ(context.check().error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace heavylift
