#include "jobs/redis_bullmq/redis_connection.h"

#include <gtest/gtest.h>

#include "jobs/redis_bullmq/worker.h"

namespace heavylift {
namespace {

TEST(RedisUrl, ParsesAllParts) {
  auto endpoint = parse_redis_url("redis://user:secret@10.0.0.5:6380/3", "bullmq.redis_url");
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint.value().host, "10.0.0.5");
  EXPECT_EQ(endpoint.value().port, 6380);
  EXPECT_EQ(endpoint.value().username, "user");
  EXPECT_EQ(endpoint.value().password, "secret");
  EXPECT_EQ(endpoint.value().database, 3);
}

TEST(RedisUrl, DefaultsAndPasswordOnly) {
  auto plain = parse_redis_url("redis://localhost", "s");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value().host, "localhost");
  EXPECT_EQ(plain.value().port, 6379);
  EXPECT_EQ(plain.value().database, 0);
  auto password = parse_redis_url("redis://:pw@127.0.0.1:7000", "s");
  ASSERT_TRUE(password.ok());
  EXPECT_EQ(password.value().username, "");
  EXPECT_EQ(password.value().password, "pw");
  auto ipv6 = parse_redis_url("redis://[::1]:6390", "s");
  ASSERT_TRUE(ipv6.ok());
  EXPECT_EQ(ipv6.value().host, "::1");
  EXPECT_EQ(ipv6.value().port, 6390);
}

TEST(RedisUrl, RejectsBadUrls) {
  for (const char* url : {"http://127.0.0.1", "redis://h:0", "redis://h:70000", "redis://h:port", "redis://h/x",
                          "redis://[::1", "rediss://h"}) {
    auto endpoint = parse_redis_url(url, "bullmq.redis_url");
    ASSERT_FALSE(endpoint.ok()) << url;
    EXPECT_EQ(endpoint.error().code, Code::kInvalidArgument) << url;
    EXPECT_EQ(endpoint.error().field, "bullmq.redis_url") << url;
  }
}

TEST(RedisConnection, UnreachableServerIsUnavailable) {
  RedisEndpoint endpoint;
  endpoint.port = 1;
  RedisConnection connection(endpoint, "test", "");
  auto reply = connection.command({"PING"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Code::kUnavailable);
  EXPECT_NE(reply.error().message.find("127.0.0.1:1"), std::string::npos);
}

TEST(RedisConnection, PipelineToUnreachableServerIsUnavailable) {
  RedisEndpoint endpoint;
  endpoint.port = 1;
  RedisConnection connection(endpoint, "test", "");
  auto replies = connection.pipeline({{"PING"}, {"ECHO", "x"}});
  ASSERT_FALSE(replies.ok());
  EXPECT_EQ(replies.error().code, Code::kUnavailable);
  EXPECT_NE(replies.error().message.find("127.0.0.1:1"), std::string::npos);
}

TEST(BullmqClientName, MatchesBullmqFormat) {
  // bullmq names a worker's connection "<prefix>:<base64(queue)>:w:<name>".
  EXPECT_EQ(BullmqWorker::client_name("bull", "heavylift", "w1"), "bull:aGVhdnlsaWZ0:w:w1");
  EXPECT_EQ(BullmqWorker::client_name("p", "ab", "x"), "p:YWI=:w:x");
  EXPECT_EQ(BullmqWorker::client_name("p", "a", "x"), "p:YQ==:w:x");
}

}  // namespace
}  // namespace heavylift
