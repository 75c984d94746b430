#include "core/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace heavylift {
namespace {

using namespace std::chrono_literals;

Executor::Job make_job(std::function<void()> run, std::function<void(const Error&)> reject = nullptr,
                       std::shared_ptr<TaskContext> context = TaskContext::unbounded()) {
  Executor::Job job;
  job.context = std::move(context);
  job.run = std::move(run);
  job.reject = reject ? std::move(reject) : [](const Error&) {};
  return job;
}

// Occupies one worker of `executor` until release() or destruction.
class BusyWorker {
 public:
  explicit BusyWorker(Executor& executor) {
    auto started = std::make_shared<std::promise<void>>();
    auto started_future = started->get_future();
    EXPECT_TRUE(executor
                    .submit(make_job([started, released = released_] {
                      started->set_value();
                      released.wait();
                    }))
                    .ok());
    started_future.wait();
  }
  ~BusyWorker() { release(); }

  void release() {
    if (!released_once_) release_.set_value();
    released_once_ = true;
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool released_once_ = false;
};

TEST(Executor, RunsSubmittedJobs) {
  Metrics metrics;
  Executor executor({2, 8}, metrics);
  std::atomic<int> ran{0};
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(executor.submit(make_job([&ran] { ++ran; })).ok());
  executor.shutdown();
  EXPECT_EQ(ran.load(), 8);
}

TEST(Executor, FullQueueRejectsWithRetryHint) {
  Metrics metrics;
  Executor executor({1, 1}, metrics);

  // One job occupies the only worker, one fills the queue.
  BusyWorker busy(executor);
  ASSERT_TRUE(executor.submit(make_job([] {})).ok());

  const Status rejected = executor.submit(make_job([] { FAIL() << "a rejected job must not run"; }));
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, Code::kResourceExhausted);
  EXPECT_GT(rejected.error().retry_after_ms, 0u);
  EXPECT_NE(metrics.render().find("heavylift_executor_rejections_total 1\n"), std::string::npos);

  busy.release();
  executor.shutdown();
}

TEST(Executor, ExpiredJobIsRejectedNotRun) {
  Metrics metrics;
  Executor executor({1, 4}, metrics);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(executor.submit(make_job([released] { released.wait(); })).ok());

  auto context = std::make_shared<TaskContext>("r1", TaskContext::Clock::now() + 10ms);
  std::atomic<bool> ran{false};
  std::promise<Code> rejected_code;
  ASSERT_TRUE(executor
                  .submit(make_job([&ran] { ran = true; },
                                   [&rejected_code](const Error& e) { rejected_code.set_value(e.code); },
                                   context))
                  .ok());
  std::this_thread::sleep_for(30ms);
  release.set_value();
  EXPECT_EQ(rejected_code.get_future().get(), Code::kDeadlineExceeded);
  executor.shutdown();
  EXPECT_FALSE(ran.load());
}

TEST(Executor, CancelledJobIsRejected) {
  Metrics metrics;
  Executor executor({1, 4}, metrics);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(executor.submit(make_job([released] { released.wait(); })).ok());

  auto context = TaskContext::unbounded("r2");
  std::promise<Code> rejected_code;
  ASSERT_TRUE(executor
                  .submit(make_job([] {}, [&rejected_code](const Error& e) { rejected_code.set_value(e.code); },
                                   context))
                  .ok());
  context->cancel();
  release.set_value();
  EXPECT_EQ(rejected_code.get_future().get(), Code::kCancelled);
}

TEST(Executor, RejectExpiredEmptiesCancelledJobsAtOnce) {
  Metrics metrics;
  Executor executor({1, 8}, metrics);
  BusyWorker busy(executor);

  auto cancelled = TaskContext::unbounded("cancelled");
  auto live = TaskContext::unbounded("live");
  std::atomic<int> rejected{0};
  std::atomic<bool> live_ran{false};
  ASSERT_TRUE(executor.submit(make_job([] {}, [&rejected](const Error&) { ++rejected; }, cancelled)).ok());
  ASSERT_TRUE(executor.submit(make_job([&live_ran] { live_ran = true; }, nullptr, live)).ok());

  cancelled->cancel(TaskContext::CancelReason::kShutdown);
  // The worker is still busy, so only reject_expired can reach the queue.
  EXPECT_EQ(executor.reject_expired(), 1u);
  EXPECT_EQ(rejected.load(), 1);
  EXPECT_EQ(executor.queue_depth(), 1u);

  busy.release();
  executor.shutdown();
  EXPECT_TRUE(live_ran.load());
}

TEST(Executor, ShutdownFinishesQueuedJobs) {
  Metrics metrics;
  Executor executor({1, 16}, metrics);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(executor.submit(make_job([&ran] {
                  std::this_thread::sleep_for(1ms);
                  ++ran;
                })).ok());
  }
  executor.shutdown();
  EXPECT_EQ(ran.load(), 10);
}

TEST(Executor, SubmitAfterShutdownIsUnavailable) {
  Metrics metrics;
  Executor executor({1, 4}, metrics);
  executor.shutdown();
  const Status status = executor.submit(make_job([] {}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kUnavailable);
}

TEST(Executor, ZeroThreadsMeansOnePerCore) {
  Metrics metrics;
  Executor executor({0, 4}, metrics);
  EXPECT_EQ(executor.threads(), std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace heavylift
