#include "jobs/redis_bullmq/job_options.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(BullmqJobOptions, DefaultsWhenEmpty) {
  auto options = parse_job_options("{}");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options.value().attempts, 1u);
  EXPECT_FALSE(options.value().backoff.has_value());
  EXPECT_FALSE(options.value().remove_on_complete.has_value());
  EXPECT_FALSE(options.value().timeout_ms.has_value());
}

TEST(BullmqJobOptions, ParsesBullmqFields) {
  auto options = parse_job_options(
      R"({"attempts":5,"backoff":{"type":"exponential","delay":100,"jitter":0.5},"lifo":true,)"
      R"("removeOnComplete":{"age":60,"count":10},"removeOnFail":true,"timeout":2500,"delay":0,"jobId":"x"})");
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options.value().attempts, 5u);
  ASSERT_TRUE(options.value().backoff.has_value());
  EXPECT_EQ(options.value().backoff->type, "exponential");
  EXPECT_EQ(options.value().backoff->delay_ms, 100u);
  EXPECT_DOUBLE_EQ(options.value().backoff->jitter, 0.5);
  EXPECT_TRUE(options.value().lifo);
  EXPECT_EQ(options.value().remove_on_complete, (KeepJobs{10, 60, std::nullopt}));
  EXPECT_EQ(options.value().remove_on_fail, (KeepJobs{0, std::nullopt, std::nullopt}));
  EXPECT_EQ(options.value().timeout_ms, 2500u);
}

TEST(BullmqJobOptions, NumberBackoffIsFixed) {
  auto options = parse_job_options(R"({"attempts":3,"backoff":250})");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options.value().backoff->type, "fixed");
  EXPECT_EQ(options.value().backoff->delay_ms, 250u);
}

TEST(BullmqJobOptions, RejectsWrongTypes) {
  for (const char* json : {R"({"attempts":"three"})", R"({"backoff":{"delay":5}})", R"({"removeOnFail":"yes"})",
                           R"({"timeout":-1})", R"({"backoff":{"type":"fixed","jitter":2}})", "[1,2]", "{"}) {
    auto options = parse_job_options(json);
    ASSERT_FALSE(options.ok()) << json;
    EXPECT_EQ(options.error().code, Code::kInvalidArgument) << json;
    EXPECT_EQ(options.error().field, "opts") << json;
  }
}

TEST(BullmqJobOptions, KeepSettingParses) {
  EXPECT_EQ(parse_keep_setting("all", "bullmq.keep_completed").value(), KeepJobs{});
  EXPECT_EQ(parse_keep_setting("100", "bullmq.keep_completed").value().count, 100);
  auto bad = parse_keep_setting("-5", "bullmq.keep_failed");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bullmq.keep_failed"), std::string::npos);
}

TEST(BullmqJobOptions, JobKeepOverridesWorkerKeep) {
  const KeepJobs worker{100, std::nullopt, std::nullopt};
  EXPECT_EQ(merge_keep_jobs(std::nullopt, worker), worker);
  const KeepJobs job{0, std::nullopt, std::nullopt};
  EXPECT_EQ(merge_keep_jobs(job, worker), job);
}

TEST(BullmqRetry, StopsAtAttempts) {
  JobOptions options;
  options.attempts = 3;
  EXPECT_TRUE(decide_retry(options, 0, false, 0.5).retry);
  EXPECT_TRUE(decide_retry(options, 1, false, 0.5).retry);
  EXPECT_FALSE(decide_retry(options, 2, false, 0.5).retry);
}

TEST(BullmqRetry, PermanentFailureNeverRetries) {
  JobOptions options;
  options.attempts = 10;
  EXPECT_FALSE(decide_retry(options, 0, true, 0.5).retry);
}

TEST(BullmqRetry, ExponentialBackoffDoubles) {
  JobOptions options;
  options.attempts = 10;
  options.backoff = Backoff{"exponential", 100, 0};
  EXPECT_EQ(decide_retry(options, 0, false, 0).delay_ms, 100u);
  EXPECT_EQ(decide_retry(options, 1, false, 0).delay_ms, 200u);
  EXPECT_EQ(decide_retry(options, 3, false, 0).delay_ms, 800u);
}

TEST(BullmqRetry, FixedBackoffWithJitterStaysInRange) {
  JobOptions options;
  options.attempts = 10;
  options.backoff = Backoff{"fixed", 1000, 0.5};
  EXPECT_EQ(decide_retry(options, 2, false, 0.0).delay_ms, 500u);
  EXPECT_EQ(decide_retry(options, 2, false, 0.999).delay_ms, 999u);
}

TEST(BullmqRetry, NoBackoffRetriesAtOnce) {
  JobOptions options;
  options.attempts = 2;
  const RetryDecision decision = decide_retry(options, 0, false, 0.5);
  EXPECT_TRUE(decision.retry);
  EXPECT_EQ(decision.delay_ms, 0u);
}

TEST(BullmqJobOptions, TelemetryCarrierGivesTraceId) {
  const auto options = parse_job_options(
      R"({"attempts":1,"tm":"{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}"})");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options.value().trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(BullmqJobOptions, BareTraceparentGivesTraceId) {
  const auto options = parse_job_options(R"({"tm":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options.value().trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(BullmqJobOptions, InvalidTelemetryIsIgnored) {
  for (const char* json : {R"({"tm":"not a traceparent"})", R"({"tm":"{\"traceparent\":7}"})", R"({"tm":"{broken"})",
                           R"({"tm":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"})", R"({"tm":12})"}) {
    const auto options = parse_job_options(json);
    ASSERT_TRUE(options.ok()) << json;
    EXPECT_EQ(options.value().trace_id, "") << json;
  }
}

}  // namespace
}  // namespace heavylift
