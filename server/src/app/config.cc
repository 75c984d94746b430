#include "app/config.h"

#include "core/host_port.h"
#include "tasks/files/gridfs_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

namespace heavylift {
namespace {

// One configurable value. `apply` parses text into the Config; `current`
// renders the value for --help.
struct Setting {
  std::string key;   // TOML key, "section.name"
  std::string flag;  // "--section-name"
  std::string env;   // "HEAVYLIFT_SECTION_NAME"
  std::string unit;  // shown in --help
  std::string help;
  std::function<Status(Config&, const std::string& value, const std::string& source)> apply;
  std::function<std::string(const Config&)> current;
};

Error invalid_setting(const std::string& source, const std::string& expected,
                      const std::string& value) {
  Error error = Error::invalid(source, "INVALID_SETTING",
                               fmt::format("invalid value for {}: expected {}, got {}", source,
                                           expected, quote_value(value)));
  error.bound = expected;
  error.value = value;
  return error;
}

std::string flag_for(const std::string& key) {
  std::string flag = "--" + key;
  for (auto& c : flag) {
    if (c == '.' || c == '_') c = '-';
  }
  return flag;
}

std::string env_for(const std::string& key) {
  std::string env = "HEAVYLIFT_" + key;
  for (auto& c : env) {
    if (c == '.' || c == '-') c = '_';
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

Status parse_unsigned(const std::string& value, const std::string& source, uint64_t lower,
                      uint64_t upper, uint64_t* out) {
  const std::string expected = fmt::format("an integer in {}..{}", lower, upper);
  uint64_t parsed = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || parsed < lower ||
      parsed > upper) {
    return invalid_setting(source, expected, value);
  }
  *out = parsed;
  return Status::Ok();
}

Setting make_string(const std::string& key, std::string unit, std::string help,
                    std::string Config::*field,
                    std::function<Status(const std::string&, const std::string&)> check = nullptr) {
  Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
  setting.apply = [field, check](Config& config, const std::string& value, const std::string& source) {
    if (check) {
      if (Status s = check(source, value); !s.ok()) return s;
    }
    config.*field = value;
    return Status::Ok();
  };
  setting.current = [field](const Config& config) { return config.*field; };
  return setting;
}

// A uint64 or uint32 setting reached through `get`, which returns a pointer
// to the field inside a Config.
template <typename Number>
Setting make_unsigned(const std::string& key, std::string unit, std::string help,
                      std::function<Number*(Config&)> get, uint64_t lower, uint64_t upper) {
  Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
  setting.apply = [get, lower, upper](Config& config, const std::string& value,
                                      const std::string& source) {
    uint64_t parsed = 0;
    if (Status s = parse_unsigned(value, source, lower, upper, &parsed); !s.ok()) return s;
    *get(config) = static_cast<Number>(parsed);
    return Status::Ok();
  };
  setting.current = [get](const Config& config) {
    Config copy = config;
    return fmt::format("{}", *get(copy));
  };
  return setting;
}

// A true/false setting reached through `get`.
Setting make_flag(const std::string& key, std::string help, std::function<bool*(Config&)> get) {
  Setting setting{key, flag_for(key), env_for(key), "true|false", std::move(help), nullptr, nullptr};
  setting.apply = [get](Config& config, const std::string& value, const std::string& source) -> Status {
    if (value == "true" || value == "1") {
      *get(config) = true;
    } else if (value == "false" || value == "0") {
      *get(config) = false;
    } else {
      return invalid_setting(source, "true or false", value);
    }
    return Status::Ok();
  };
  setting.current = [get](const Config& config) {
    Config copy = config;
    return std::string(*get(copy) ? "true" : "false");
  };
  return setting;
}

Status check_log_level(const std::string& source, const std::string& value) {
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (value == level) return Status::Ok();
  }
  return invalid_setting(source, "one of trace, debug, info, warn, error, critical, off", value);
}

// A string setting reached through `get`, for fields inside a nested struct.
Setting make_string_in(const std::string& key, std::string unit, std::string help,
                       std::function<std::string*(Config&)> get,
                       std::function<Status(const std::string&, const std::string&)> check) {
  Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
  setting.apply = [get, check](Config& config, const std::string& value, const std::string& source) {
    if (Status s = check(source, value); !s.ok()) return s;
    *get(config) = value;
    return Status::Ok();
  };
  setting.current = [get, key](const Config& config) {
    Config copy = config;
    // The broker and GridFS URLs may carry a password, so --help never shows them.
    return (key == "amqp.url" || key == "files.gridfs_uri") && !get(copy)->empty() ? std::string("(set)") : *get(copy);
  };
  return setting;
}

// AMQP queue and exchange names: 1..255 bytes of letters, digits, '-', '_', '.' or ':'.
Status check_amqp_name(const std::string& source, const std::string& value) {
  const bool valid = !value.empty() && value.size() <= 255 && value.rfind("amq.", 0) != 0 &&
                     value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") ==
                         std::string::npos;
  if (!valid) {
    return invalid_setting(source, "1..255 characters from [A-Za-z0-9-_.:], not starting with amq.", value);
  }
  return Status::Ok();
}

// GridFS database and bucket names: up to 64 characters from [A-Za-z0-9-_.];
// the database may be empty (taken from the URI), the bucket not.
Status check_gridfs_name(const std::string& source, const std::string& value) {
  const bool empty_ok = source.find("database") != std::string::npos;
  const bool valid = (empty_ok || !value.empty()) && value.size() <= 64 &&
                     value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                         std::string::npos;
  if (!valid) return invalid_setting(source, "up to 64 characters from [A-Za-z0-9-_.]", value);
  return Status::Ok();
}

std::vector<Setting> all_settings() {
  constexpr uint64_t kMaxU32 = 0xffffffffu;
  std::vector<Setting> settings;
  settings.push_back(make_string(
      "grpc.address", "host:port",
      "Address of the gRPC listener. Port 0 picks a free port. An address other than 127.0.0.1, ::1 or "
      "localhost needs TLS or bearer tokens (or --security-allow-insecure true).",
      &Config::grpc_address, check_host_port));
  settings.push_back(make_string(
      "http.address", "host:port",
      "Address of the HTTP listener for /healthz, /readyz and /metrics. Port 0 picks a free port. An "
      "address other than 127.0.0.1, ::1 or localhost needs bearer tokens (or --security-allow-insecure "
      "true); /metrics then requires a bearer token.",
      &Config::http_address, check_host_port));
  settings.push_back(make_unsigned<uint32_t>(
      "grpc.max_concurrent_streams", "calls",
      "Calls one client connection may have open at once. Further calls wait in the client.",
      [](Config& c) { return &c.grpc_max_concurrent_streams; }, 1, 1'000'000));

  settings.push_back(make_unsigned<uint32_t>(
      "executor.threads", "threads", "CPU worker threads. 0 means one per core.",
      [](Config& c) { return &c.executor_threads; }, 0, 1024));
  settings.push_back(make_unsigned<uint32_t>(
      "executor.queue_capacity", "jobs",
      "Jobs that may wait for a worker. Beyond it calls fail with RESOURCE_EXHAUSTED and a retry hint.",
      [](Config& c) { return &c.executor_queue_capacity; }, 0, 1'000'000));

  settings.push_back(make_unsigned<uint32_t>(
      "shutdown.grace_ms", "milliseconds",
      "On SIGTERM or SIGINT, how long in-flight calls may run before they are cancelled.",
      [](Config& c) { return &c.shutdown_grace_ms; }, 0, 3'600'000));
  settings.push_back(make_string(
      "blob.root", "directory",
      "Directory that path blob references are confined to. Empty disables path references.",
      &Config::blob_root));

  settings.push_back(make_string(
      "tls.cert_file", "file",
      "PEM certificate chain the gRPC listener presents. Needs tls.key_file. Re-read every "
      "tls.reload_interval_s seconds, so a renewed certificate takes effect without a restart.",
      &Config::tls_cert_file));
  settings.push_back(make_string("tls.key_file", "file", "PEM private key of tls.cert_file.",
                                 &Config::tls_key_file));
  settings.push_back(make_string(
      "tls.client_ca_file", "file",
      "PEM CA bundle for mutual TLS: gRPC clients must present a certificate signed by it. Needs tls.cert_file.",
      &Config::tls_client_ca_file));
  settings.push_back(make_flag(
      "http.tls",
      "Serves the HTTP admin listener over HTTPS with tls.cert_file and tls.key_file, so a bearer token for "
      "/metrics never travels in plain text. A changed certificate is used from the next connection on.",
      [](Config& c) { return &c.http_tls; }));
  settings.push_back(make_unsigned<uint32_t>(
      "tls.reload_interval_s", "seconds", "How often the TLS files are checked for changes.",
      [](Config& c) { return &c.tls_reload_interval_s; }, 1, 86'400));
  settings.push_back(make_string(
      "auth.token_file", "file",
      "File of bearer tokens, one per line (at least 16 characters each; '#' starts a comment). When set, "
      "every gRPC call (tasks, streams, RealtimeService) and GET /metrics must send `authorization: Bearer <token>`. Re-read on SIGHUP.",
      &Config::auth_token_file));
  settings.push_back(make_string(
      "auth.jwt_key_file", "file",
      "Key that app-signed JWT bearer tokens are checked with: a JWKS, a PEM public key (EdDSA, RS256, PS256, "
      "ES256) or an HS256 secret of at least 32 bytes. When set, gRPC calls and GET /metrics accept "
      "`authorization: Bearer <jwt>` with a valid signature and exp. Re-read on SIGHUP.",
      &Config::auth_jwt_key_file));
  settings.push_back(make_string("auth.jwt_audience", "text",
                                 "When set, JWT bearer tokens must list it in their aud claim.",
                                 &Config::auth_jwt_audience));
  settings.push_back(make_string("auth.jwt_issuer", "text",
                                 "When set, JWT bearer tokens must carry it as their iss claim.",
                                 &Config::auth_jwt_issuer));
  settings.push_back(make_flag(
      "security.allow_insecure",
      "Lets listeners on addresses other than 127.0.0.1, ::1 or localhost run without TLS or a token. "
      "Anyone who can reach them can then use them; a warning is logged at start.",
      [](Config& c) { return &c.allow_insecure; }));
  settings.push_back(make_string("log.level", "level",
                                 "Log level: trace, debug, info, warn, error, critical or off.",
                                 &Config::log_level, check_log_level));

  settings.push_back(make_unsigned<uint64_t>(
      "image.max_input_bytes", "bytes", "Largest encoded source image accepted.",
      [](Config& c) { return &c.image.max_input_bytes; }, 1, 1ull << 32));
  settings.push_back(make_unsigned<uint64_t>(
      "image.max_stream_input_bytes", "bytes",
      "Largest source image accepted by the streaming TransformUpload call, all chunks together.",
      [](Config& c) { return &c.image.max_stream_input_bytes; }, 1, 1ull << 34));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_stream_chunk_bytes", "bytes",
      "Largest data chunk of one message of a streaming image call, received or sent.",
      [](Config& c) { return &c.image.max_stream_chunk_bytes; }, 1024, 64u << 20));
  settings.push_back(make_unsigned<uint64_t>(
      "image.max_input_pixels", "pixels",
      "Largest source image accepted, width x height of the page decoded, read from the header before decoding.",
      [](Config& c) { return &c.image.max_input_pixels; }, 1, 1ull << 40));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_width", "pixels", "Largest output width a request may ask for.",
      [](Config& c) { return &c.image.max_width; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_outputs", "outputs", "Most output widths in one thumbnail request, and most outputs in one transform.",
      [](Config& c) { return &c.image.max_outputs; }, 1, 1024));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_operations", "operations", "Most operations in one transform request.",
      [](Config& c) { return &c.image.max_operations; }, 1, 1024));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_frames", "frames", "Most pages of an animated source decoded by one transform.",
      [](Config& c) { return &c.image.max_frames; }, 1, 100'000));
  settings.push_back(make_unsigned<uint64_t>(
      "image.max_output_pixels", "pixels",
      "Largest image a transform may produce, width x height x frames, checked after each operation and output.",
      [](Config& c) { return &c.image.max_output_pixels; }, 1, 1ull << 40));
  settings.push_back(make_unsigned<uint64_t>(
      "image.max_output_bytes", "bytes", "Most encoded bytes of all outputs of one transform.",
      [](Config& c) { return &c.image.max_output_bytes; }, 1, 1ull << 32));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_call_ms", "milliseconds",
      "Longest an image call may run, whatever the caller's deadline; longer calls end with DEADLINE_EXCEEDED.",
      [](Config& c) { return &c.image.max_call_ms; }, 1, 3'600'000));
  settings.push_back(make_flag(
      "image.allow_untrusted_loaders",
      "Accept formats whose libvips loaders are marked untrusted (SVG, PPM, FITS, ...): true or false.",
      [](Config& c) { return &c.image.allow_untrusted_loaders; }));

  settings.push_back(make_unsigned<uint32_t>(
      "crypto.argon2.max_memory_cost", "KiB",
      "Largest argon2 memory cost m accepted, in requests and in PHC strings being verified.",
      [](Config& c) { return &c.argon2.max_memory_cost; }, 8, 4u << 20));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.argon2.max_time_cost", "passes", "Largest argon2 time cost t accepted.",
      [](Config& c) { return &c.argon2.max_time_cost; }, 1, 1000));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.argon2.max_parallelism", "lanes", "Largest argon2 parallelism p accepted.",
      [](Config& c) { return &c.argon2.max_parallelism; }, 1, 255));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.max_password_bytes", "bytes", "Longest password accepted for hashing or verifying.",
      [](Config& c) { return &c.argon2.max_password_bytes; }, 1, kMaxU32));

  settings.push_back(make_flag(
      "testing.tasks",
      "Registers the testing.* tasks (sleep, fail, echo) used by tests and benchmarks of the "
      "transports. Leave off in production.",
      [](Config& c) { return &c.testing_tasks; }));

  // BullMQ worker (off unless bullmq.redis_url is set).
  const auto bullmq_string = [](const std::string& key, std::string unit, std::string help,
                                std::string BullmqSettings::*field) {
    Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
    setting.apply = [field](Config& c, const std::string& value, const std::string&) {
      c.bullmq.*field = value;
      return Status::Ok();
    };
    setting.current = [field](const Config& c) { return c.bullmq.*field; };
    return setting;
  };
  settings.push_back(bullmq_string("bullmq.redis_url", "URL",
                                   "Redis of the BullMQ queue, redis://[[user]:password@]host[:port][/db]. Empty "
                                   "disables the BullMQ worker.",
                                   &BullmqSettings::redis_url));
  settings.push_back(bullmq_string("bullmq.queue", "name", "BullMQ queue to take jobs from.", &BullmqSettings::queue));
  settings.push_back(bullmq_string("bullmq.prefix", "prefix", "BullMQ key prefix, as the Queue's prefix option.",
                                   &BullmqSettings::prefix));
  settings.push_back(bullmq_string("bullmq.worker_name", "name",
                                   "Worker name listed by Queue.getWorkers() and stored as processedBy. Empty "
                                   "means heavylift-<hostname>-<pid>.",
                                   &BullmqSettings::worker_name));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.concurrency", "jobs", "BullMQ jobs processed at once. 0 means one per executor thread.",
      [](Config& c) { return &c.bullmq.concurrency; }, 0, 100000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.lock_duration_ms", "milliseconds", "Lifetime of a job's lock, renewed every half of it.",
      [](Config& c) { return &c.bullmq.lock_duration_ms; }, 100, 86'400'000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.stalled_interval_ms", "milliseconds", "Period of the check for stalled jobs (expired locks).",
      [](Config& c) { return &c.bullmq.stalled_interval_ms; }, 100, 86'400'000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.max_stalled_count", "times", "Times a job may stall before it fails.",
      [](Config& c) { return &c.bullmq.max_stalled_count; }, 0, 1000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.drain_delay_ms", "milliseconds",
      "Longest blocking wait for a new job, which bounds an idle worker's Redis commands.",
      [](Config& c) { return &c.bullmq.drain_delay_ms; }, 10, 10000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.job_timeout_ms", "milliseconds",
      "Time limit of a job that sets no timeout option of its own; it then fails with DEADLINE_EXCEEDED. 0 means none.",
      [](Config& c) { return &c.bullmq.job_timeout_ms; }, 0, 86'400'000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.limiter_max", "jobs", "Rate limit: jobs started per bullmq.limiter_duration_ms. 0 means no limit.",
      [](Config& c) { return &c.bullmq.limiter_max; }, 0, 1'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "bullmq.limiter_duration_ms", "milliseconds", "Rate limit window.",
      [](Config& c) { return &c.bullmq.limiter_duration_ms; }, 1, 86'400'000));
  settings.push_back(bullmq_string("bullmq.keep_completed", "all|count",
                                   "Completed jobs kept when a job sets no removeOnComplete.",
                                   &BullmqSettings::keep_completed));
  settings.push_back(bullmq_string("bullmq.keep_failed", "all|count",
                                   "Failed jobs kept when a job sets no removeOnFail.", &BullmqSettings::keep_failed));
  settings.push_back(make_unsigned<uint64_t>(
      "bullmq.max_blob_bytes", "bytes",
      "Largest blob a job may reference by Redis key (a {\"redisKey\": ...} BlobRef under <prefix>:<queue>:blob:).",
      [](Config& c) { return &c.bullmq.max_blob_bytes; }, 1, 1ull << 32));
  settings.push_back(bullmq_string("bullmq.journal_path", "path",
                                   "File listing in-flight jobs, so a restarted worker hands them back at once. "
                                   "Empty disables it.",
                                   &BullmqSettings::journal_path));
  // crypto.* beyond argon2: text settings reach into Config::crypto, and the
  // AEAD keys never appear in --help.
  auto crypto_text = [](const std::string& key, std::string unit, std::string help, std::string CryptoConfig::*field,
                        bool secret = false) {
    Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
    setting.apply = [field](Config& c, const std::string& value, const std::string&) {
      c.crypto.*field = value;
      return Status::Ok();
    };
    setting.current = [field, secret](const Config& c) {
      const std::string& value = c.crypto.*field;
      return secret && !value.empty() ? std::string("(set)") : value;
    };
    return setting;
  };
  settings.push_back(make_unsigned<uint64_t>(
      "crypto.memory_budget", "KiB",
      "Memory argon2 and scrypt hashes may hold at once; more hashes wait for it. 0 disables the budget.",
      [](Config& c) { return &c.crypto.memory_budget; }, 0, 1ull << 32));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.bcrypt.max_cost", "log2 rounds", "Largest bcrypt cost accepted, in requests and in hashes verified.",
      [](Config& c) { return &c.crypto.password.bcrypt_max_cost; }, 4, 31));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.bcrypt.default_cost", "log2 rounds", "bcrypt cost used when a request leaves it zero.",
      [](Config& c) { return &c.crypto.password.bcrypt_default_cost; }, 4, 31));
  Setting long_password{"crypto.bcrypt.long_password", flag_for("crypto.bcrypt.long_password"),
                        env_for("crypto.bcrypt.long_password"), "policy",
                        "bcrypt passwords over 72 bytes: reject (default) or truncate (as npm bcrypt does).",
                        nullptr, nullptr};
  long_password.apply = [](Config& c, const std::string& value, const std::string& source) {
    if (value == "reject") c.crypto.password.bcrypt_long_password = v1::BCRYPT_LONG_PASSWORD_REJECT;
    else if (value == "truncate") c.crypto.password.bcrypt_long_password = v1::BCRYPT_LONG_PASSWORD_TRUNCATE;
    else return Status(invalid_setting(source, "reject or truncate", value));
    return Status::Ok();
  };
  long_password.current = [](const Config& c) {
    return std::string(c.crypto.password.bcrypt_long_password == v1::BCRYPT_LONG_PASSWORD_TRUNCATE ? "truncate"
                                                                                                   : "reject");
  };
  settings.push_back(std::move(long_password));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.scrypt.max_log2_n", "log2 N", "Largest scrypt cost log2(N) accepted.",
      [](Config& c) { return &c.crypto.password.scrypt_max_log2_n; }, 10, 30));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.scrypt.max_memory", "KiB", "Largest scrypt working memory (128 * r * N bytes) accepted.",
      [](Config& c) { return &c.crypto.password.scrypt_max_memory; }, 1024, kMaxU32));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.pbkdf2.max_iterations", "iterations", "Largest PBKDF2 iteration count accepted.",
      [](Config& c) { return &c.crypto.password.pbkdf2_max_iterations; }, 1000, kMaxU32));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.batch.max_items", "items", "Most passwords in one hash or verify batch.",
      [](Config& c) { return &c.crypto.password.batch_max_items; }, 1, 1'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.batch.threads", "threads", "Threads one batch spreads over; 0 means one per core.",
      [](Config& c) { return &c.crypto.password.batch_threads; }, 0, 1024));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.signature_batch.max_items", "items", "Most messages in one crypto.sign_batch or verify_batch call.",
      [](Config& c) { return &c.crypto.signature_batch_max_items; }, 1, 1'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "crypto.signature_batch.max_bytes", "bytes", "Most message and signature bytes in one signature batch call.",
      [](Config& c) { return &c.crypto.signature_batch_max_bytes; }, 1, 1ull << 30));
  settings.push_back(crypto_text("crypto.aead.key_file", "path",
                                 "AEAD key file: lines \"<id> <base64 32-byte key>\" and \"primary <id>\".",
                                 &CryptoConfig::aead_key_file));
  settings.push_back(crypto_text("crypto.aead.keys", "id:base64,...",
                                 "AEAD keys, the first one primary. Prefer the environment variable to the flag.",
                                 &CryptoConfig::aead_keys, true));
  Setting request_keys{"crypto.aead.allow_request_keys", flag_for("crypto.aead.allow_request_keys"),
                       env_for("crypto.aead.allow_request_keys"), "true|false",
                       "Let AEAD requests carry raw keys instead of naming key ring keys.", nullptr, nullptr};
  request_keys.apply = [](Config& c, const std::string& value, const std::string& source) {
    if (value != "true" && value != "false") return Status(invalid_setting(source, "true or false", value));
    c.crypto.aead.allow_request_keys = value == "true";
    return Status::Ok();
  };
  request_keys.current = [](const Config& c) { return std::string(c.crypto.aead.allow_request_keys ? "true" : "false"); };
  settings.push_back(std::move(request_keys));
  settings.push_back(make_unsigned<uint64_t>(
      "crypto.aead.max_plaintext_bytes", "bytes", "Largest plaintext one AEAD call encrypts.",
      [](Config& c) { return &c.crypto.aead.max_plaintext_bytes; }, 1, 1ull << 31));
  settings.push_back(make_unsigned<uint64_t>(
      "crypto.max_input_bytes", "bytes", "Largest input to crypto.hash, crypto.hmac and crypto.compare.",
      [](Config& c) { return &c.crypto.digest.max_input_bytes; }, 1, 1ull << 31));
  settings.push_back(crypto_text("crypto.jwt.keys_file", "path", "JWKS file with the keys crypto.jwt.* use.",
                                 &CryptoConfig::jwt_keys_file));
  settings.push_back(crypto_text("crypto.jwt.algorithms", "list",
                                 "JWS algorithms for JWKS keys without \"alg\", for example HS256,EdDSA.",
                                 &CryptoConfig::jwt_algorithms));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.jwt.clock_skew", "seconds", "Clock difference tolerated in exp, nbf and iat checks.",
      [](Config& c) { return &c.crypto.jwt_clock_skew_seconds; }, 0, 86400));
  settings.push_back(make_unsigned<uint32_t>(
      "crypto.jwt.max_token_bytes", "bytes", "Longest token crypto.jwt.verify accepts.",
      [](Config& c) { return &c.crypto.jwt_max_token_bytes; }, 64, 1u << 20));
  // Real-time hub (Socket.IO over WebSocket).
  const auto realtime_string = [](const std::string& key, std::string unit, std::string help,
                                  std::string realtime::RealtimeLimits::*field,
                                  std::function<Status(const std::string&, const std::string&)> check = nullptr) {
    Setting setting{key, flag_for(key), env_for(key), std::move(unit), std::move(help), nullptr, nullptr};
    setting.apply = [field, check](Config& config, const std::string& value, const std::string& source) {
      if (check) {
        if (Status s = check(source, value); !s.ok()) return s;
      }
      config.realtime.*field = value;
      return Status::Ok();
    };
    setting.current = [field](const Config& config) { return config.realtime.*field; };
    return setting;
  };
  settings.push_back(realtime_string(
      "realtime.address", "host:port",
      "Address of the real-time hub's WebSocket listener (Socket.IO clients connect to /socket.io/). "
      "Empty leaves the hub off. Port 0 picks a free port. An address other than 127.0.0.1, ::1 or "
      "localhost needs --realtime-tls true (or --security-allow-insecure true behind a TLS proxy).",
      &realtime::RealtimeLimits::address, [](const std::string& source, const std::string& value) {
        return value.empty() ? Status::Ok() : check_host_port(source, value);
      }));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.threads", "threads", "I/O threads of the real-time hub. 0 means one per core.",
      [](Config& c) { return &c.realtime.threads; }, 0, 256));
  settings.push_back(make_flag(
      "realtime.tls",
      "Serves the real-time hub as wss:// with tls.cert_file and tls.key_file, so clients' JWTs and messages "
      "are encrypted. A changed certificate is used from the next connection on.",
      [](Config& c) { return &c.realtime_tls; }));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.reuse_port", "0 or 1",
      "1 lets several heavylift processes listen on the same realtime.address (SO_REUSEPORT).",
      [](Config& c) { return &c.realtime.reuse_port; }, 0, 1));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.ping_interval_ms", "milliseconds", "Interval between the hub's Engine.IO pings to each client.",
      [](Config& c) { return &c.realtime.ping_interval_ms; }, 100, 3'600'000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.ping_timeout_ms", "milliseconds",
      "How long a client may take to answer a ping before it is disconnected.",
      [](Config& c) { return &c.realtime.ping_timeout_ms; }, 100, 3'600'000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.connect_timeout_ms", "milliseconds",
      "How long a new connection may take to send its first Socket.IO CONNECT before it is closed.",
      [](Config& c) { return &c.realtime.connect_timeout_ms; }, 100, 3'600'000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.max_connections", "connections",
      "WebSocket connections the hub holds at once. Beyond it handshakes get HTTP 503 with Retry-After.",
      [](Config& c) { return &c.realtime.max_connections; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "realtime.max_message_bytes", "bytes",
      "Largest WebSocket message a client may send, and the largest sum of one packet's binary attachments.",
      [](Config& c) { return &c.realtime.max_message_bytes; }, 64, 1ull << 30));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.max_attachments", "attachments", "Most binary attachments in one Socket.IO packet.",
      [](Config& c) { return &c.realtime.max_attachments; }, 0, 1000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.max_messages_per_second", "messages/s",
      "Messages one connection may send per second (with an equal burst) before it is disconnected.",
      [](Config& c) { return &c.realtime.max_messages_per_second; }, 1, 1'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "realtime.max_send_queue_bytes", "bytes",
      "Bytes queued to one client before it counts as slow and is disconnected, so others are not held up.",
      [](Config& c) { return &c.realtime.max_send_queue_bytes; }, 1024, 1ull << 32));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.max_rooms_per_socket", "rooms", "Rooms one socket may join from the client side.",
      [](Config& c) { return &c.realtime.max_rooms_per_socket; }, 1, 100'000));
  settings.push_back(realtime_string(
      "realtime.allowed_origins", "origins",
      "Comma-separated Origin header values accepted from browsers, such as https://app.example.com. "
      "Empty accepts any origin.",
      &realtime::RealtimeLimits::allowed_origins));
  settings.push_back(realtime_string(
      "realtime.namespaces", "namespaces", "Comma-separated Socket.IO namespaces clients may connect to.",
      &realtime::RealtimeLimits::namespaces));
  settings.push_back(realtime_string(
      "realtime.jwt_key_file", "file",
      "Key that client tokens are checked with: a JWKS file, an Ed25519 public key in PEM (EdDSA), or an "
      "HS256 secret of at least 32 bytes. Required when realtime.address is set.",
      &realtime::RealtimeLimits::jwt_key_file));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.close_on_token_expiry", "0 or 1",
      "1 disconnects a socket when its token's exp passes; 0 keeps it connected.",
      [](Config& c) { return &c.realtime.close_on_token_expiry; }, 0, 1));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.presence_events", "0 or 1",
      "1 sends a heavylift:presence event to a room's members when a socket joins or leaves it.",
      [](Config& c) { return &c.realtime.presence_events; }, 0, 1));
  settings.push_back(realtime_string(
      "realtime.redis_address", "host:port",
      "Redis that hubs share rooms through, where @socket.io/redis-emitter publishes. Empty keeps the hub alone.",
      &realtime::RealtimeLimits::redis_address));
  settings.push_back(realtime_string(
      "realtime.redis_key", "prefix", "Channel prefix shared with @socket.io/redis-emitter (its key option).",
      &realtime::RealtimeLimits::redis_key));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.subscriber_queue_capacity", "events",
      "Client events each RealtimeService.Subscribe stream may have queued; further events are dropped.",
      [](Config& c) { return &c.realtime.subscriber_queue_capacity; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.recovery", "0 or 1",
      "1 turns on Socket.IO connection state recovery: events to rooms carry an offset as their last argument, "
      "and a client that reconnects within realtime.recovery_window_ms gets its socket id, rooms and missed events.",
      [](Config& c) { return &c.realtime.recovery; }, 0, 1));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.recovery_window_ms", "milliseconds",
      "How long a disconnected socket can be recovered, and how long events are kept for it.",
      [](Config& c) { return &c.realtime.recovery_window_ms; }, 1000, 86'400'000));
  settings.push_back(make_unsigned<uint32_t>(
      "realtime.recovery_max_events_per_room", "events",
      "Events kept per room for recovery; the oldest are dropped beyond it.",
      [](Config& c) { return &c.realtime.recovery_max_events_per_room; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "realtime.recovery_max_bytes_per_room", "bytes",
      "Bytes of events kept per room for recovery; the oldest are dropped beyond it.",
      [](Config& c) { return &c.realtime.recovery_max_bytes_per_room; }, 1024, 1ull << 32));
  // Aggregation and the record schema.
  {
    Setting schema_file{"schema.file", flag_for("schema.file"), env_for("schema.file"), "path",
                        "Record schema descriptor (schema/gen/schema.json) for the aggregate tasks. Empty: they fail "
                        "with FAILED_PRECONDITION.",
                        nullptr, nullptr};
    schema_file.apply = [](Config& config, const std::string& value, const std::string&) {
      config.aggregate.schema_file = value;
      return Status::Ok();
    };
    schema_file.current = [](const Config& config) { return config.aggregate.schema_file; };
    settings.push_back(std::move(schema_file));
  }
  settings.push_back(make_unsigned<uint32_t>(
      "aggregate.max_groups", "groups", "Most groups one aggregate response may hold.",
      [](Config& c) { return &c.aggregate.limits.max_groups; }, 1, 100'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "aggregate.max_request_memory_bytes", "bytes",
      "Most memory the accumulators of one aggregate request may hold (exact quantile values, sketches, top-k counts).",
      [](Config& c) { return &c.aggregate.limits.max_request_memory_bytes; }, 1 << 20, 1ull << 40));
  settings.push_back(make_unsigned<uint32_t>(
      "aggregate.max_violations_reported", "violations",
      "Most schema violations listed in one response; all are counted.",
      [](Config& c) { return &c.aggregate.limits.max_violations_reported; }, 0, 100'000));
  settings.push_back(make_unsigned<uint32_t>(
      "aggregate.max_decode_records", "records", "Most records one Decode call returns.",
      [](Config& c) { return &c.aggregate.limits.max_decode_records; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "aggregate.max_partitions", "cursors", "Most parallel MongoDB cursors one request may open.",
      [](Config& c) { return &c.aggregate.limits.max_partitions; }, 1, 256));
  settings.push_back(make_unsigned<uint64_t>(
      "files.max_upload_bytes", "bytes", "Bytes one FileService.Upload call may send.",
      [](Config& c) { return &c.files.max_upload_bytes; }, 1, 1ull << 50));
  settings.push_back(make_unsigned<uint32_t>(
      "files.max_chunk_bytes", "bytes", "Largest data field in one upload message.",
      [](Config& c) { return &c.files.max_chunk_bytes; }, 1024, 64u << 20));
  settings.push_back(make_unsigned<uint32_t>(
      "files.max_buffered_chunks", "messages",
      "Upload messages received and waiting for a worker, per call; beyond it the call stops reading.",
      [](Config& c) { return &c.files.max_buffered_chunks; }, 1, 1024));
  settings.push_back(make_unsigned<uint64_t>(
      "files.max_input_bytes", "bytes", "Largest input of the unary file tasks, inline or by path.",
      [](Config& c) { return &c.files.max_input_bytes; }, 1, 1ull << 40));
  settings.push_back(make_unsigned<uint64_t>(
      "files.max_inline_output_bytes", "bytes",
      "Largest output a file task returns in its response; larger outputs need output_path.",
      [](Config& c) { return &c.files.max_inline_output_bytes; }, 1, 1ull << 31));
  settings.push_back(make_unsigned<uint64_t>(
      "files.max_decompressed_bytes", "bytes",
      "Largest decompressed output; decompression stops with an error beyond it.",
      [](Config& c) { return &c.files.max_decompressed_bytes; }, 1, 1ull << 50));
  settings.push_back(make_unsigned<uint32_t>(
      "files.max_columns", "columns", "Widest CSV header or most NDJSON keys profiled.",
      [](Config& c) { return &c.files.profile.max_columns; }, 1, 1'000'000));
  settings.push_back(make_unsigned<uint64_t>(
      "files.max_field_bytes", "bytes", "Longest CSV field or NDJSON line.",
      [](Config& c) { return &c.files.profile.max_field_bytes; }, 1024, 1ull << 31));
  settings.push_back(make_unsigned<uint32_t>(
      "files.max_bad_row_examples", "rows", "Bad rows returned as examples in a profile; all are counted.",
      [](Config& c) { return &c.files.profile.max_bad_row_examples; }, 0, 10'000));
  settings.push_back(make_unsigned<uint32_t>(
      "files.top_values", "values", "Most frequent values returned per profiled column.",
      [](Config& c) { return &c.files.profile.top_values; }, 0, 256));
  settings.push_back(make_string_in(
      "files.gridfs_uri", "URI",
      "MongoDB (or FerretDB) connection string for uploads with the gridfs option, "
      "mongodb://user:password@host:port/database. Empty disables GridFS storage.",
      [](Config& c) { return &c.files.gridfs.uri; }, check_gridfs_uri));
  settings.push_back(make_string_in(
      "files.gridfs_database", "name",
      "Database of the GridFS bucket. Empty takes the database named in files.gridfs_uri.",
      [](Config& c) { return &c.files.gridfs.database; }, check_gridfs_name));
  settings.push_back(make_string_in(
      "files.gridfs_bucket", "name",
      "GridFS bucket name: files go to <bucket>.files and <bucket>.chunks.",
      [](Config& c) { return &c.files.gridfs.bucket; }, check_gridfs_name));
  settings.push_back(make_unsigned<uint32_t>(
      "files.gridfs_stale_upload_s", "seconds",
      "Age after which GridFS chunks of an upload that never finished (a daemon killed mid-upload) are deleted; "
      "0 keeps them.",
      [](Config& c) { return &c.files.gridfs.stale_upload_s; }, 0, 365 * 86'400));

  settings.push_back(make_string_in(
      "amqp.url", "URL",
      "RabbitMQ broker the AMQP worker consumes from, amqp://user:password@host:port/vhost. Empty "
      "disables the worker. The password is never logged.",
      [](Config& c) { return &c.amqp.url; }, check_amqp_url));
  settings.push_back(make_string_in(
      "amqp.queue", "name",
      "Durable task queue the worker consumes. It also declares <queue>.retry and <queue>.dead.",
      [](Config& c) { return &c.amqp.queue; }, check_amqp_name));
  settings.push_back(make_string_in(
      "amqp.results_exchange", "name",
      "Durable topic exchange that receives the results of messages without reply_to, routed by task name.",
      [](Config& c) { return &c.amqp.results_exchange; }, check_amqp_name));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.connections", "connections", "AMQP connections, each with its own thread and channel.",
      [](Config& c) { return &c.amqp.connections; }, 1, 64));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.concurrency", "messages",
      "Messages one connection runs at once, its prefetch count. 0 means executor threads.",
      [](Config& c) { return &c.amqp.concurrency; }, 0, 65535));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.max_attempts", "attempts",
      "Runs of a message, the first included, before a retryable failure goes to the dead-letter queue.",
      [](Config& c) { return &c.amqp.max_attempts; }, 1, 1000));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.retry_delay_ms", "milliseconds",
      "How long a failed attempt waits in <queue>.retry (its x-message-ttl) before it runs again.",
      [](Config& c) { return &c.amqp.retry_delay_ms; }, 1, 86'400'000));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.job_timeout_ms", "milliseconds", "Deadline of one run of a message.",
      [](Config& c) { return &c.amqp.job_timeout_ms; }, 1, 86'400'000));
  settings.push_back(make_unsigned<uint64_t>(
      "amqp.max_message_bytes", "bytes",
      "Largest message body accepted. Larger messages are rejected to the dead-letter queue.",
      [](Config& c) { return &c.amqp.max_message_bytes; }, 1, 1ull << 32));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.heartbeat_s", "seconds", "AMQP heartbeat interval asked of the broker. 0 disables heartbeats.",
      [](Config& c) { return &c.amqp.heartbeat_s; }, 0, 3600));
  settings.push_back(make_unsigned<uint32_t>(
      "amqp.reconnect_max_ms", "milliseconds", "Longest wait between reconnect attempts (exponential backoff).",
      [](Config& c) { return &c.amqp.reconnect_max_ms; }, 100, 600'000));
  return settings;
}

// Flattens a TOML table into "section.key" -> value text.
Status flatten_toml(const toml::table& table, const std::string& prefix, const std::string& file,
                    std::map<std::string, std::string>* out) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* nested = node.as_table()) {
      if (Status s = flatten_toml(*nested, path, file, out); !s.ok()) return s;
    } else if (const auto* text = node.as_string()) {
      (*out)[path] = text->get();
    } else if (const auto* integer = node.as_integer()) {
      (*out)[path] = fmt::format("{}", integer->get());
    } else if (const auto* boolean = node.as_boolean()) {
      (*out)[path] = boolean->get() ? "true" : "false";
    } else {
      return Error::invalid(path, "INVALID_SETTING",
                            fmt::format("{}: {} must be a string, an integer or a boolean", file, path));
    }
  }
  return Status::Ok();
}

Status apply_toml_file(const std::string& file, const std::vector<Setting>& settings, Config& config) {
  toml::table table;
  try {
    table = toml::parse_file(file);
  } catch (const toml::parse_error& error) {
    std::ostringstream where;
    where << error.source().begin;
    return Error::invalid("config", "INVALID_CONFIG_FILE",
                          fmt::format("cannot read configuration file {}: {} at {}", file,
                                      error.description(), where.str()));
  }
  std::map<std::string, std::string> values;
  if (Status s = flatten_toml(table, "", file, &values); !s.ok()) return s;
  for (const auto& [key, value] : values) {
    const Setting* match = nullptr;
    for (const auto& setting : settings) {
      if (setting.key == key) match = &setting;
    }
    if (match == nullptr) {
      return Error::invalid(key, "UNKNOWN_SETTING",
                            fmt::format("{}: unknown setting {} (see heavylift --help)", file, key));
    }
    if (Status s = match->apply(config, value, fmt::format("{} in {}", key, file)); !s.ok()) return s;
  }
  return Status::Ok();
}

// Returns true for "localhost" and for numeric addresses in 127.0.0.0/8,
// ::1 or ::ffff:127.0.0.0/104. Other names are not resolved: a name could
// point anywhere, so only numbers and "localhost" are trusted.
bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

Status check_host_port(const std::string& setting, const std::string& address) {
  const auto parts = split_host_port(address);
  if (!parts) return invalid_setting(setting, "host:port", address);
  uint64_t port_number = 0;
  if (Status s = parse_unsigned(parts->port, setting + " port", 0, 65535, &port_number); !s.ok()) {
    return invalid_setting(setting, "host:port with a port in 0..65535", address);
  }
  return Status::Ok();
}

bool is_default_loopback(const std::string& address) {
  const auto parts = split_host_port(address);
  if (!parts) return false;
  const std::string& host = parts->host;
  if (host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return ntohl(v4.s_addr) == INADDR_LOOPBACK;
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127 && v6.s6_addr[13] == 0 && v6.s6_addr[14] == 0 &&
           v6.s6_addr[15] == 1;
  }
  return false;
}

Status check_listener_security(const Config& config, const std::string& setting, const std::string& address,
                               bool supports_tls) {
  if (is_default_loopback(address) || config.allow_insecure) return Status::Ok();
  const bool has_tls = supports_tls && !config.tls_cert_file.empty();
  if (has_tls || !config.auth_token_file.empty() || !config.auth_jwt_key_file.empty()) return Status::Ok();
  const std::string needed = supports_tls ? "TLS (--tls-cert-file and --tls-key-file) or bearer tokens "
                                            "(--auth-token-file or --auth-jwt-key-file)"
                                          : "bearer tokens (--auth-token-file or --auth-jwt-key-file)";
  Error error = Error::invalid(
      setting, "INSECURE_LISTENER",
      fmt::format("{} {} is not 127.0.0.1, ::1 or localhost, so it needs {}; pass --security-allow-insecure "
                  "true to listen there without them",
                  setting, address, needed),
      "127.0.0.1, ::1 or localhost, or a secured listener", address);
  return error;
}

Status check_loopback_address(const std::string& setting, const std::string& address) {
  const auto parts = split_host_port(address);
  if (!parts) return invalid_setting(setting, "host:port", address);
  uint64_t port_number = 0;
  if (Status s = parse_unsigned(parts->port, setting + " port", 0, 65535, &port_number); !s.ok()) {
    return invalid_setting(setting, "host:port with a port in 0..65535", address);
  }
  if (!is_loopback_host(parts->host)) {
    // NOTE: TLS and token authentication are not implemented yet, so every
    // listener stays on loopback, where only local processes can reach it.
    return invalid_setting(setting, "a loopback host (127.0.0.0/8, ::1 or localhost)", address);
  }
  return Status::Ok();
}

namespace {

// Checks that the TLS files come in the needed combinations and that each
// listener satisfies the security rule.
Status check_security_settings(const Config& config) {
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Error::invalid("tls.key_file", "INCOMPLETE_TLS",
                          "tls.cert_file and tls.key_file must be set together (--tls-cert-file, --tls-key-file)");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return Error::invalid("tls.client_ca_file", "INCOMPLETE_TLS",
                          "tls.client_ca_file needs tls.cert_file and tls.key_file: mutual TLS is TLS first");
  }
  if (config.http_tls && config.tls_cert_file.empty()) {
    return Error::invalid("http.tls", "INCOMPLETE_TLS",
                          "http.tls needs tls.cert_file and tls.key_file (--tls-cert-file, --tls-key-file)");
  }
  if (Status s = check_listener_security(config, "grpc.address", config.grpc_address, true); !s.ok()) return s;
  if (Status s = check_listener_security(config, "http.address", config.http_address, false); !s.ok()) return s;
  if (config.realtime_tls && config.tls_cert_file.empty()) {
    return Error::invalid("realtime.tls", "INCOMPLETE_TLS",
                          "realtime.tls needs tls.cert_file and tls.key_file (--tls-cert-file, --tls-key-file)");
  }
  if (config.realtime.address.empty() || is_default_loopback(config.realtime.address) || config.allow_insecure ||
      config.realtime_tls) {
    return Status::Ok();
  }
  // Clients need a JWT signed by the app to connect, but without TLS the
  // token and every message travel in plain text.
  return Error::invalid("realtime.address", "INSECURE_LISTENER",
                        fmt::format("realtime.address {} is not 127.0.0.1, ::1 or localhost, so it needs TLS "
                                    "(--realtime-tls true with --tls-cert-file and --tls-key-file); pass "
                                    "--security-allow-insecure true to listen there without it",
                                    config.realtime.address),
                        "127.0.0.1, ::1 or localhost, or a secured listener", config.realtime.address);
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

ParsedConfig parse_config(int argc, const char* const* argv, const EnvironmentLookup& environment) {
  ParsedConfig parsed;
  const std::vector<Setting> settings = all_settings();
  const Config defaults;

  CLI::App app{
      "heavylift: a native compute service for Node.js apps. It serves gRPC (heavylift.v1 "
      "ImageService, CryptoService, FileService, AggregateService, RealtimeService, TaskService, "
      "grpc.health.v1) and HTTP /healthz, /readyz and /metrics.\n"
      "Each setting is read from, in increasing precedence: the TOML file given by --config, "
      "its HEAVYLIFT_* environment variable, its flag.",
      "heavylift"};
  app.get_formatter()->column_width(36);
  app.set_version_flag("--version", HEAVYLIFT_VERSION, "Print the version and exit");

  std::string config_file;
  app.add_option("--config", config_file, "TOML file with settings as [section] key = value (env: HEAVYLIFT_CONFIG)")
      ->type_name("FILE");

  std::vector<std::string> storage(settings.size());
  for (size_t i = 0; i < settings.size(); ++i) {
    const Setting& setting = settings[i];
    const std::string default_text = setting.current(defaults);
    const std::string help = fmt::format("{} Unit: {}. Default: {}. Env: {}. TOML: {}.", setting.help,
                                         setting.unit, default_text.empty() ? "(empty)" : default_text,
                                         setting.env, setting.key);
    app.add_option(setting.flag, storage[i], help)->type_name(fmt::format("<{}>", setting.unit));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    parsed.output = app.help();
    parsed.exit_code = 0;
    return parsed;
  } catch (const CLI::CallForVersion&) {
    parsed.output = fmt::format("heavylift {}\n", HEAVYLIFT_VERSION);
    parsed.exit_code = 0;
    return parsed;
  } catch (const CLI::ParseError& error) {
    parsed.output = fmt::format("heavylift: {}\nRun heavylift --help for the settings.\n", error.what());
    parsed.exit_code = 2;
    return parsed;
  }

  auto fail = [&parsed](const Status& status) {
    parsed.output = fmt::format("heavylift: {}\n", status.error().message);
    parsed.exit_code = 2;
    return parsed;
  };

  Config config;
  if (config_file.empty()) config_file = environment("HEAVYLIFT_CONFIG").value_or("");
  config.config_file = config_file;
  if (!config_file.empty()) {
    if (Status s = apply_toml_file(config_file, settings, config); !s.ok()) return fail(s);
  }
  for (const auto& setting : settings) {
    if (auto value = environment(setting.env)) {
      if (Status s = setting.apply(config, *value, setting.env); !s.ok()) return fail(s);
    }
  }
  for (size_t i = 0; i < settings.size(); ++i) {
    if (app.get_option(settings[i].flag)->count() == 0) continue;
    if (Status s = settings[i].apply(config, storage[i], settings[i].flag); !s.ok()) return fail(s);
  }
  if (Status s = check_security_settings(config); !s.ok()) return fail(s);
  parsed.config = config;
  return parsed;
}

}  // namespace heavylift
