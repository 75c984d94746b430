#include "app/config.h"

#include "core/host_port.h"

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

// A boolean setting: "true" or "false" (TOML booleans arrive as that text).
Setting make_bool(const std::string& key, std::string help, bool Config::*field) {
  Setting setting{key, flag_for(key), env_for(key), "true|false", std::move(help), nullptr, nullptr};
  setting.apply = [field](Config& config, const std::string& value, const std::string& source) {
    if (value != "true" && value != "false") return Status(invalid_setting(source, "true or false", value));
    config.*field = value == "true";
    return Status::Ok();
  };
  setting.current = [field](const Config& config) { return std::string(config.*field ? "true" : "false"); };
  return setting;
}

Status check_log_level(const std::string& source, const std::string& value) {
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (value == level) return Status::Ok();
  }
  return invalid_setting(source, "one of trace, debug, info, warn, error, critical, off", value);
}

std::vector<Setting> all_settings() {
  constexpr uint64_t kMaxU32 = 0xffffffffu;
  std::vector<Setting> settings;
  settings.push_back(make_string(
      "grpc.address", "host:port",
      "Address of the gRPC listener. Port 0 picks a free port. Only loopback hosts are accepted.",
      &Config::grpc_address, check_loopback_address));
  settings.push_back(make_string(
      "http.address", "host:port",
      "Address of the HTTP listener for /healthz, /readyz and /metrics. Port 0 picks a free port. "
      "Only loopback hosts are accepted.",
      &Config::http_address, check_loopback_address));
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
  settings.push_back(make_string("log.level", "level",
                                 "Log level: trace, debug, info, warn, error, critical or off.",
                                 &Config::log_level, check_log_level));

  settings.push_back(make_unsigned<uint64_t>(
      "image.max_input_bytes", "bytes", "Largest encoded source image accepted.",
      [](Config& c) { return &c.image.max_input_bytes; }, 1, 1ull << 32));
  settings.push_back(make_unsigned<uint64_t>(
      "image.max_input_pixels", "pixels",
      "Largest source image accepted, width x height of the page decoded, read from the header before decoding.",
      [](Config& c) { return &c.image.max_input_pixels; }, 1, 1ull << 40));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_width", "pixels", "Largest output width a request may ask for.",
      [](Config& c) { return &c.image.max_width; }, 1, 10'000'000));
  settings.push_back(make_unsigned<uint32_t>(
      "image.max_outputs", "outputs", "Most output widths in one thumbnail request.",
      [](Config& c) { return &c.image.max_outputs; }, 1, 1024));

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

  settings.push_back(make_bool(
      "testing.tasks",
      "Registers the testing.* tasks (sleep, fail, echo) used by tests and benchmarks of the "
      "transports. Leave off in production.",
      &Config::testing_tasks));

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
      "ImageService and CryptoService, grpc.health.v1) and HTTP /healthz, /readyz and /metrics.\n"
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
  parsed.config = config;
  return parsed;
}

}  // namespace heavylift
