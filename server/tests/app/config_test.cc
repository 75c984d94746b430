#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace heavylift {
namespace {

struct Invocation {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;

  ParsedConfig parse() const {
    std::vector<const char*> argv = {"heavylift"};
    for (const auto& arg : args) argv.push_back(arg.c_str());
    const auto lookup = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    return parse_config(static_cast<int>(argv.size()), argv.data(), lookup);
  }
};

std::string write_temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(Config, DefaultsAreLoopbackAndSafe) {
  const auto parsed = Invocation{}.parse();
  ASSERT_FALSE(parsed.exit_code) << parsed.output;
  EXPECT_EQ(parsed.config.grpc_address, "127.0.0.1:50051");
  EXPECT_EQ(parsed.config.http_address, "127.0.0.1:9464");
  EXPECT_EQ(parsed.config.executor_threads, 0u);
  EXPECT_EQ(parsed.config.argon2.max_memory_cost, 262144u);
  EXPECT_EQ(parsed.config.image.max_input_pixels, 100'000'000u);
}

TEST(Config, FlagSetsValue) {
  const auto parsed = Invocation{{"--executor-threads", "3", "--blob-root", "/srv/blobs"}, {}}.parse();
  ASSERT_FALSE(parsed.exit_code) << parsed.output;
  EXPECT_EQ(parsed.config.executor_threads, 3u);
  EXPECT_EQ(parsed.config.blob_root, "/srv/blobs");
}

TEST(Config, EnvironmentOverridesFile) {
  const std::string file = write_temp_file("heavylift-config-env.toml",
                                           "[executor]\nthreads = 5\nqueue_capacity = 9\n");
  const auto parsed =
      Invocation{{"--config", file}, {{"HEAVYLIFT_EXECUTOR_THREADS", "7"}}}.parse();
  ASSERT_FALSE(parsed.exit_code) << parsed.output;
  EXPECT_EQ(parsed.config.executor_threads, 7u);
  EXPECT_EQ(parsed.config.executor_queue_capacity, 9u);
}

TEST(Config, FlagOverridesEnvironment) {
  const auto parsed = Invocation{{"--executor-queue-capacity", "2"},
                                 {{"HEAVYLIFT_EXECUTOR_QUEUE_CAPACITY", "11"}}}
                          .parse();
  ASSERT_FALSE(parsed.exit_code) << parsed.output;
  EXPECT_EQ(parsed.config.executor_queue_capacity, 2u);
}

TEST(Config, ConfigFileFromEnvironment) {
  const std::string file =
      write_temp_file("heavylift-config-nested.toml", "[crypto.argon2]\nmax_memory_cost = 65536\n");
  const auto parsed = Invocation{{}, {{"HEAVYLIFT_CONFIG", file}}}.parse();
  ASSERT_FALSE(parsed.exit_code) << parsed.output;
  EXPECT_EQ(parsed.config.argon2.max_memory_cost, 65536u);
}

TEST(Config, InvalidNumberNamesFlagBoundAndValue) {
  const auto parsed = Invocation{{"--executor-threads", "lots"}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_EQ(*parsed.exit_code, 2);
  EXPECT_NE(parsed.output.find("--executor-threads"), std::string::npos) << parsed.output;
  EXPECT_NE(parsed.output.find("0..1024"), std::string::npos) << parsed.output;
  EXPECT_NE(parsed.output.find("\"lots\""), std::string::npos) << parsed.output;
}

TEST(Config, InvalidEnvironmentValueNamesVariable) {
  const auto parsed = Invocation{{}, {{"HEAVYLIFT_IMAGE_MAX_WIDTH", "0"}}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_NE(parsed.output.find("HEAVYLIFT_IMAGE_MAX_WIDTH"), std::string::npos) << parsed.output;
}

TEST(Config, UnknownFileKeyIsRejected) {
  const std::string file = write_temp_file("heavylift-config-unknown.toml", "[grpc]\nadress = \"x\"\n");
  const auto parsed = Invocation{{"--config", file}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_NE(parsed.output.find("unknown setting grpc.adress"), std::string::npos) << parsed.output;
}

TEST(Config, MalformedFileIsRejected) {
  const std::string file = write_temp_file("heavylift-config-bad.toml", "[grpc\n");
  const auto parsed = Invocation{{"--config", file}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_NE(parsed.output.find(file), std::string::npos) << parsed.output;
}

TEST(Config, RemoteAddressNeedsTlsOrToken) {
  for (const char* address : {"0.0.0.0:50051", "127.0.0.2:50051", "[::]:50051"}) {
    const auto parsed = Invocation{{"--grpc-address", address}, {}}.parse();
    ASSERT_TRUE(parsed.exit_code) << address;
    EXPECT_NE(parsed.output.find("--tls-cert-file"), std::string::npos) << parsed.output;
    EXPECT_NE(parsed.output.find("--auth-token-file"), std::string::npos) << parsed.output;
    EXPECT_NE(parsed.output.find("--security-allow-insecure"), std::string::npos) << parsed.output;
  }
}

TEST(Config, RemoteAddressAcceptedWhenSecured) {
  const auto with_tls = Invocation{
      {"--grpc-address", "127.0.0.2:0", "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"}, {}}.parse();
  EXPECT_FALSE(with_tls.exit_code) << with_tls.output;
  const auto with_token = Invocation{{"--grpc-address", "127.0.0.2:0", "--auth-token-file", "t"}, {}}.parse();
  EXPECT_FALSE(with_token.exit_code) << with_token.output;
  const auto insecure = Invocation{{"--grpc-address", "0.0.0.0:0", "--security-allow-insecure", "true"}, {}}.parse();
  EXPECT_FALSE(insecure.exit_code) << insecure.output;
}

TEST(Config, AdminListenerNeedsTokenNotTls) {
  const auto parsed = Invocation{
      {"--http-address", "127.0.0.2:0", "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_NE(parsed.output.find("http.address"), std::string::npos) << parsed.output;
  EXPECT_NE(parsed.output.find("--auth-token-file"), std::string::npos) << parsed.output;
}

TEST(Config, TlsFilesComeInPairs) {
  const auto cert_only = Invocation{{"--tls-cert-file", "c.pem"}, {}}.parse();
  ASSERT_TRUE(cert_only.exit_code);
  EXPECT_NE(cert_only.output.find("tls.key_file"), std::string::npos) << cert_only.output;
  const auto ca_only = Invocation{{"--tls-client-ca-file", "ca.pem"}, {}}.parse();
  ASSERT_TRUE(ca_only.exit_code);
  EXPECT_NE(ca_only.output.find("tls.client_ca_file"), std::string::npos) << ca_only.output;
}

TEST(Config, DefaultLoopbackAddresses) {
  EXPECT_TRUE(is_default_loopback("127.0.0.1:1"));
  EXPECT_TRUE(is_default_loopback("[::1]:1"));
  EXPECT_TRUE(is_default_loopback("localhost:1"));
  EXPECT_TRUE(is_default_loopback("[::ffff:127.0.0.1]:1"));
  EXPECT_FALSE(is_default_loopback("127.0.0.2:1"));
  EXPECT_FALSE(is_default_loopback("0.0.0.0:1"));
  EXPECT_FALSE(is_default_loopback("[::ffff:127.0.0.2]:1"));
}

TEST(Config, LoopbackAddressesAreAccepted) {
  EXPECT_TRUE(check_loopback_address("grpc.address", "127.0.0.1:0").ok());
  EXPECT_TRUE(check_loopback_address("grpc.address", "[::1]:50051").ok());
  EXPECT_TRUE(check_loopback_address("grpc.address", "localhost:50051").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "127.0.0.1").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "127.0.0.1:70000").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "10.0.0.1:50051").ok());
  EXPECT_TRUE(check_loopback_address("grpc.address", "127.1.2.3:50051").ok());
  EXPECT_TRUE(check_loopback_address("grpc.address", "[::ffff:127.0.0.1]:50051").ok());
  // Names that merely start like a loopback address are not loopback.
  EXPECT_FALSE(check_loopback_address("grpc.address", "127.example.com:50051").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "127.0.0.1.nip.io:1").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "127.:1").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "[::ffff:10.0.0.1]:50051").ok());
  EXPECT_FALSE(check_loopback_address("grpc.address", "0.0.0.0:50051").ok());
}

TEST(Config, HelpDocumentsEverySettingWithUnitAndDefault) {
  const auto parsed = Invocation{{"--help"}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_EQ(*parsed.exit_code, 0);
  for (const char* expected :
       {"--grpc-address", "--http-address", "--executor-threads", "--executor-queue-capacity",
        "--shutdown-grace-ms", "--blob-root", "--log-level", "--image-max-input-bytes",
        "--image-max-input-pixels", "--crypto-argon2-max-memory-cost", "HEAVYLIFT_GRPC_ADDRESS",
        "Unit: KiB", "Default: 262144", "Unit: milliseconds"}) {
    EXPECT_NE(parsed.output.find(expected), std::string::npos) << expected;
  }
}

TEST(Config, VersionFlagPrintsVersion) {
  const auto parsed = Invocation{{"--version"}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_EQ(*parsed.exit_code, 0);
  EXPECT_EQ(parsed.output, std::string("heavylift ") + HEAVYLIFT_VERSION + "\n");
}

TEST(Config, UnknownFlagIsAnError) {
  const auto parsed = Invocation{{"--no-such-flag"}, {}}.parse();
  ASSERT_TRUE(parsed.exit_code);
  EXPECT_EQ(*parsed.exit_code, 2);
}

}  // namespace
}  // namespace heavylift
