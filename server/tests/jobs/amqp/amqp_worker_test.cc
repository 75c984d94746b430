#include "jobs/amqp/amqp_worker.h"

#include <gtest/gtest.h>

#include <thread>

namespace heavylift {
namespace {

TEST(AmqpWorker, AcceptsAnAmqpUrlOrNone) {
  EXPECT_TRUE(check_amqp_url("amqp.url", "amqp://guest:guest@127.0.0.1:5672/").ok());
  EXPECT_TRUE(check_amqp_url("amqp.url", "amqp://broker.internal/jobs").ok());
  EXPECT_TRUE(check_amqp_url("amqp.url", "").ok());
}

TEST(AmqpWorker, RejectsABadUrlWithoutRepeatingIt) {
  const Status status = check_amqp_url("--amqp-url", "http://user:s3cret@host/");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "--amqp-url");
  EXPECT_EQ(status.error().bound, "amqp://user:password@host:port/vhost");
  EXPECT_EQ(status.error().message.find("s3cret"), std::string::npos);
  EXPECT_EQ(status.error().value.find("s3cret"), std::string::npos);
}

TEST(AmqpWorker, RejectsTls) {
  const Status status = check_amqp_url("amqp.url", "amqps://guest:guest@127.0.0.1/");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("amqps://"), std::string::npos);
}

// What a worker needs around it: one executor thread and an empty registry.
class AmqpWorkerRun : public ::testing::Test {
 protected:
  Metrics metrics;
  Executor executor{{1, 1}, metrics};
  TaskRunner runner{executor, metrics};
  TaskRegistry registry;
};

TEST_F(AmqpWorkerRun, StartFailsOnABadUrlAndDrainsWithoutThreads) {
  AmqpOptions options;
  options.url = "not a url";
  AmqpWorker worker(options, registry, runner, metrics, 1);
  EXPECT_FALSE(worker.start().ok());
  worker.drain(std::chrono::steady_clock::now());
}

TEST_F(AmqpWorkerRun, KeepsRetryingAnUnreachableBrokerUntilDrained) {
  AmqpOptions options;
  // Port 1 on loopback: nothing listens there, so every connect fails at once.
  options.url = "amqp://guest:guest@127.0.0.1:1/";
  options.reconnect_max_ms = 100;
  AmqpWorker worker(options, registry, runner, metrics, 1);
  ASSERT_TRUE(worker.start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto started = std::chrono::steady_clock::now();
  worker.drain(started + std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1)) << "drain waits for no broker";
  const std::string text = metrics.render();
  EXPECT_NE(text.find("heavylift_amqp_reconnects_total "), std::string::npos);
  EXPECT_EQ(text.find("heavylift_amqp_reconnects_total 0\n"), std::string::npos) << "it tried again";
  EXPECT_NE(text.find("heavylift_amqp_connections_open 0"), std::string::npos);
}

}  // namespace
}  // namespace heavylift
