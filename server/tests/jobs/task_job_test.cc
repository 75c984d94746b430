#include "jobs/task_job.h"

#include <gtest/gtest.h>

#include "heavylift/v1/crypto.pb.h"

namespace heavylift {
namespace {

Task verify_task() {
  Task task;
  task.name = "crypto.argon2id.verify";
  task.request_prototype = &v1::Argon2idVerifyRequest::default_instance();
  task.response_prototype = &v1::Argon2idVerifyResponse::default_instance();
  return task;
}

TEST(TaskJob, DecodesCamelCaseAndProtoNames) {
  Task task;
  task.name = "crypto.argon2id.hash";
  task.request_prototype = &v1::Argon2idHashRequest::default_instance();
  task.response_prototype = &v1::Argon2idHashResponse::default_instance();
  for (const char* json : {R"({"password":"cGFzcw==","memoryCost":4096})",
                           R"({"password":"cGFzcw==","memory_cost":4096})"}) {
    auto decoded = decode_job_request(task, json, PayloadFormat::kJson);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    const auto& request = static_cast<const v1::Argon2idHashRequest&>(*decoded.value());
    EXPECT_EQ(request.password(), "pass");
    EXPECT_EQ(request.memory_cost(), 4096u);
  }
}

TEST(TaskJob, DecodesBinaryProtobuf) {
  v1::Argon2idVerifyRequest original;
  original.set_hash("h");
  original.set_password(std::string("a\0b", 3));
  auto decoded = decode_job_request(verify_task(), original.SerializeAsString(), PayloadFormat::kProtobuf);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(static_cast<const v1::Argon2idVerifyRequest&>(*decoded.value()).password(), std::string("a\0b", 3));
}

TEST(TaskJob, RejectsUnknownFieldNamingTask) {
  auto decoded = decode_job_request(verify_task(), R"({"hash":"h","color":"red"})", PayloadFormat::kJson);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, Code::kInvalidArgument);
  EXPECT_EQ(decoded.error().reason, "UNDECODABLE_JOB_DATA");
  EXPECT_NE(decoded.error().message.find("crypto.argon2id.verify"), std::string::npos);
  EXPECT_NE(decoded.error().message.find("color"), std::string::npos);
}

TEST(TaskJob, RejectsMalformedJsonAndProtobuf) {
  EXPECT_FALSE(decode_job_request(verify_task(), "{not json", PayloadFormat::kJson).ok());
  EXPECT_FALSE(decode_job_request(verify_task(), "\xff\xff\xff", PayloadFormat::kProtobuf).ok());
}

TEST(TaskJob, EncodesDefaultFieldsInResult) {
  v1::Argon2idVerifyResponse response;
  EXPECT_EQ(encode_job_result(response), R"({"match":false})");
}

TEST(TaskJob, FailureReasonStartsWithCode) {
  const Error error = Error::out_of_range("memory_cost", "in 8..262144 KiB", "1048576 KiB");
  EXPECT_EQ(job_failure_reason(error).rfind("INVALID_ARGUMENT: ", 0), 0u);
  const std::string json = error_detail_json(error);
  EXPECT_NE(json.find(R"("field":"memory_cost")"), std::string::npos);
  EXPECT_NE(json.find(R"("code":"INVALID_ARGUMENT")"), std::string::npos);
}

TEST(TaskJob, PermanentFailures) {
  EXPECT_TRUE(is_permanent_failure(Code::kInvalidArgument));
  EXPECT_EQ(unknown_task_error("nope").code, Code::kUnimplemented);
  EXPECT_TRUE(is_permanent_failure(unknown_task_error("nope").code));
  EXPECT_FALSE(is_permanent_failure(Code::kUnavailable));
  EXPECT_FALSE(is_permanent_failure(Code::kDeadlineExceeded));
  EXPECT_FALSE(is_permanent_failure(Code::kInternal));
}

}  // namespace
}  // namespace heavylift
