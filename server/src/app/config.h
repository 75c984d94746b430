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
#include "jobs/redis_bullmq/settings.h"
#include "realtime/realtime_config.h"
#include "tasks/aggregate/aggregate_task.h"
#include "tasks/crypto/argon2.h"
#include "tasks/crypto/crypto_tasks.h"
#include "tasks/files/limits.h"
#include "tasks/image/limits.h"

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
  // Listener security. A listener on an address other than 127.0.0.1, ::1 or
  // localhost needs TLS or bearer tokens (a token file or a JWT key file),
  // or allow_insecure.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;  // set: gRPC clients must present a certificate it signed
  uint32_t tls_reload_interval_s = 60;
  bool http_tls = false;      // the admin listener serves HTTPS with tls.cert_file and tls.key_file
  bool realtime_tls = false;  // the hub serves wss:// with tls.cert_file and tls.key_file
  std::string auth_token_file;
  // App-signed JWTs accepted as bearer tokens, beside or instead of the file.
  std::string auth_jwt_key_file;
  std::string auth_jwt_audience;
  std::string auth_jwt_issuer;
  bool allow_insecure = false;
  std::string log_level = "info";
  ImageLimits image;
  Argon2Limits argon2;
  bool testing_tasks = false;
  BullmqSettings bullmq;
  CryptoConfig crypto;
  realtime::RealtimeLimits realtime;
  AggregateSettings aggregate;
  FilesLimits files;
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

// Checks that `address` is "host:port" with a port in 0..65535.
Status check_host_port(const std::string& setting, const std::string& address);

// True for an address on 127.0.0.1, ::1, ::ffff:127.0.0.1 or localhost: the
// addresses where a listener may run without TLS or a token. The rest of
// 127.0.0.0/8 counts as remote, which also lets tests on one machine
// exercise the rule.
bool is_default_loopback(const std::string& address);

// Checks the listener security rule for `setting` = `address`: an address
// that is not default loopback needs TLS or a token file (the admin listener:
// a token file, since it has no TLS), unless allow_insecure is set. The
// error names the flags that would satisfy the rule.
Status check_listener_security(const Config& config, const std::string& setting, const std::string& address,
                               bool supports_tls);

}  // namespace heavylift
