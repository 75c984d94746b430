// Daemon configuration: built-in defaults, then an optional TOML file, then
// HEAVYLIFT_* environment variables, then command-line flags, each layer
// overriding the one before. Every setting has one entry in a table that
// gives its flag, variable, TOML key, unit and help text.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "jobs/amqp/amqp_worker.h"
#include "tasks/crypto/argon2.h"
#include "tasks/image/thumbnail.h"

namespace heavylift {

struct Config {
  std::string config_file;
  std::string grpc_address = "127.0.0.1:50051";
  std::string http_address = "127.0.0.1:9464";
  uint32_t grpc_max_concurrent_streams = 256;
  uint32_t executor_threads = 0;  // 0: one per core
  uint32_t executor_queue_capacity = 64;
  uint32_t shutdown_grace_ms = 10000;
  std::string blob_root;
  std::string log_level = "info";
  ImageLimits image;
  Argon2Limits argon2;
  bool testing_tasks = false;
  AmqpOptions amqp;
};

// Result of parsing the command line: either a configuration to run with,
// or a message to print and an exit code (for --help, --version and errors).
struct ParsedConfig {
  Config config;
  std::optional<int> exit_code;
  std::string output;  // text for stdout (help) or stderr (errors)
};

// Looks up an environment variable; returns nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Parses `argv` with `environment` and the TOML file named by --config or
// HEAVYLIFT_CONFIG. Errors name the flag, variable or TOML key, the expected
// form and the value received.
ParsedConfig parse_config(int argc, const char* const* argv, const EnvironmentLookup& environment);

// Returns the process environment as an EnvironmentLookup.
EnvironmentLookup process_environment();

// Checks that `address` is "host:port" on a loopback host (127.0.0.0/8,
// ::1 or localhost). `setting` names the setting in the error.
Status check_loopback_address(const std::string& setting, const std::string& address);

}  // namespace heavylift
