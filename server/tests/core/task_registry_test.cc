#include "core/task_registry.h"

#include <gtest/gtest.h>

#include "heavylift/v1/crypto.pb.h"

namespace heavylift {
namespace {

TEST(TaskRegistry, FindsRegisteredTaskAndRunsIt) {
  TaskRegistry registry;
  ASSERT_TRUE((registry.add<v1::Argon2idVerifyRequest, v1::Argon2idVerifyResponse>(
                   "test.echo",
                   [](const v1::Argon2idVerifyRequest& request, v1::Argon2idVerifyResponse* response,
                      TaskContext&) {
                     response->set_match(request.hash() == "yes");
                     return Status::Ok();
                   }))
                  .ok());
  const Task* task = registry.find("test.echo");
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->request_prototype->GetDescriptor()->full_name(), "heavylift.v1.Argon2idVerifyRequest");

  std::unique_ptr<google::protobuf::Message> request(task->request_prototype->New());
  static_cast<v1::Argon2idVerifyRequest*>(request.get())->set_hash("yes");
  std::unique_ptr<google::protobuf::Message> response(task->response_prototype->New());
  auto context = TaskContext::unbounded();
  ASSERT_TRUE(task->handler(*request, response.get(), *context).ok());
  EXPECT_TRUE(static_cast<v1::Argon2idVerifyResponse*>(response.get())->match());
}

TEST(TaskRegistry, RejectsDuplicateName) {
  TaskRegistry registry;
  auto fn = [](const v1::Argon2idVerifyRequest&, v1::Argon2idVerifyResponse*, TaskContext&) {
    return Status::Ok();
  };
  ASSERT_TRUE((registry.add<v1::Argon2idVerifyRequest, v1::Argon2idVerifyResponse>("a.b", fn)).ok());
  const Status again = registry.add<v1::Argon2idVerifyRequest, v1::Argon2idVerifyResponse>("a.b", fn);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
}

TEST(TaskRegistry, UnknownNameIsNull) {
  TaskRegistry registry;
  EXPECT_EQ(registry.find("missing.task"), nullptr);
}

}  // namespace
}  // namespace heavylift
