#include "jobs/redis_bullmq/job_options.h"

#include <fmt/format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cmath>

#include "core/trace_context.h"

namespace heavylift {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Error invalid_option(std::string_view name, std::string_view expected) {
  return Error::invalid("opts", "INVALID_JOB_OPTIONS",
                        fmt::format("job option {} must be {}", name, expected), std::string(expected));
}

bool is_whole(double number) { return std::isfinite(number) && std::floor(number) == number; }

// Reads removeOnComplete / removeOnFail: a boolean, a count, or an object
// with count, age (seconds) and limit.
Result<KeepJobs> parse_keep_value(std::string_view name, const Value& value) {
  KeepJobs keep;
  switch (value.kind_case()) {
    case Value::kBoolValue:
      keep.count = value.bool_value() ? 0 : -1;
      return keep;
    case Value::kNumberValue:
      if (!is_whole(value.number_value())) return invalid_option(name, "a boolean, a whole count or {count, age, limit}");
      keep.count = static_cast<int64_t>(value.number_value());
      return keep;
    case Value::kStructValue: {
      const auto& fields = value.struct_value().fields();
      for (const char* field : {"count", "age", "limit"}) {
        const auto it = fields.find(field);
        if (it == fields.end()) continue;
        if (it->second.kind_case() != Value::kNumberValue || !is_whole(it->second.number_value())) {
          return invalid_option(fmt::format("{}.{}", name, field), "a whole number");
        }
        const auto number = static_cast<int64_t>(it->second.number_value());
        if (std::string_view(field) == "count") keep.count = number;
        if (std::string_view(field) == "age") keep.age_seconds = number;
        if (std::string_view(field) == "limit") keep.limit = number;
      }
      // BullMQ keeps every job by count when only an age is given.
      if (fields.find("count") == fields.end()) keep.count = -1;
      return keep;
    }
    default:
      return invalid_option(name, "a boolean, a whole count or {count, age, limit}");
  }
}

// Returns the trace id carried by BullMQ's telemetry metadata: a JSON object
// with a "traceparent" member, the OpenTelemetry propagation carrier that
// bullmq writes with `telemetry` set, or a bare traceparent value.
std::string trace_id_of_metadata(const std::string& metadata) {
  std::string traceparent = metadata;
  Struct carrier;
  if (!metadata.empty() && metadata.front() == '{') {
    if (!google::protobuf::util::JsonStringToMessage(metadata, &carrier).ok()) return "";
    const auto it = carrier.fields().find("traceparent");
    if (it == carrier.fields().end() || it->second.kind_case() != Value::kStringValue) return "";
    traceparent = it->second.string_value();
  }
  const auto parent = parse_traceparent(traceparent);
  return parent.has_value() ? parent->trace_id : "";
}

Result<Backoff> parse_backoff(const Value& value) {
  Backoff backoff;
  if (value.kind_case() == Value::kNumberValue) {
    if (!is_whole(value.number_value()) || value.number_value() < 0) return invalid_option("backoff", "a delay in ms or {type, delay}");
    backoff.type = "fixed";
    backoff.delay_ms = static_cast<uint64_t>(value.number_value());
    return backoff;
  }
  if (value.kind_case() != Value::kStructValue) return invalid_option("backoff", "a delay in ms or {type, delay}");
  const auto& fields = value.struct_value().fields();
  if (auto it = fields.find("type"); it != fields.end() && it->second.kind_case() == Value::kStringValue) {
    backoff.type = it->second.string_value();
  } else {
    return invalid_option("backoff.type", "a string");
  }
  if (auto it = fields.find("delay"); it != fields.end()) {
    if (it->second.kind_case() != Value::kNumberValue || it->second.number_value() < 0) {
      return invalid_option("backoff.delay", "a delay in ms");
    }
    backoff.delay_ms = static_cast<uint64_t>(it->second.number_value());
  }
  if (auto it = fields.find("jitter"); it != fields.end()) {
    if (it->second.kind_case() != Value::kNumberValue || it->second.number_value() < 0 || it->second.number_value() > 1) {
      return invalid_option("backoff.jitter", "a number in 0..1");
    }
    backoff.jitter = it->second.number_value();
  }
  return backoff;
}

}  // namespace

Result<JobOptions> parse_job_options(std::string_view json) {
  JobOptions options;
  if (json.empty()) return options;
  Struct opts;
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &opts, parse_options);
  if (!status.ok()) {
    return Error::invalid("opts", "INVALID_JOB_OPTIONS",
                          fmt::format("the job options are not a JSON object: {}", std::string(status.message())));
  }
  const auto& fields = opts.fields();

  if (auto it = fields.find("attempts"); it != fields.end()) {
    const Value& value = it->second;
    if (value.kind_case() != Value::kNumberValue || !is_whole(value.number_value()) || value.number_value() < 0) {
      return invalid_option("attempts", "a whole number");
    }
    options.attempts = static_cast<uint32_t>(std::min(value.number_value(), 4294967295.0));
  }
  if (auto it = fields.find("backoff"); it != fields.end() && it->second.kind_case() != Value::kNullValue) {
    auto backoff = parse_backoff(it->second);
    if (!backoff.ok()) return backoff.error();
    options.backoff = std::move(backoff).value();
  }
  if (auto it = fields.find("lifo"); it != fields.end()) {
    options.lifo = it->second.kind_case() == Value::kBoolValue && it->second.bool_value();
  }
  for (const char* name : {"removeOnComplete", "removeOnFail"}) {
    const auto it = fields.find(name);
    if (it == fields.end() || it->second.kind_case() == Value::kNullValue) continue;
    auto keep = parse_keep_value(name, it->second);
    if (!keep.ok()) return keep.error();
    (std::string_view(name) == "removeOnComplete" ? options.remove_on_complete : options.remove_on_fail) = keep.value();
  }
  if (auto it = fields.find("timeout"); it != fields.end() && it->second.kind_case() != Value::kNullValue) {
    const Value& value = it->second;
    if (value.kind_case() != Value::kNumberValue || !is_whole(value.number_value()) || value.number_value() <= 0) {
      return invalid_option("timeout", "a time limit in ms above 0");
    }
    options.timeout_ms = static_cast<uint64_t>(value.number_value());
  }
  if (auto it = fields.find("tm"); it != fields.end() && it->second.kind_case() == Value::kStringValue) {
    options.trace_id = trace_id_of_metadata(it->second.string_value());
  }
  return options;
}

Result<KeepJobs> parse_keep_setting(std::string_view text, std::string_view setting) {
  KeepJobs keep;
  if (text == "all") return keep;
  int64_t count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || count < 0) {
    return Error::invalid(std::string(setting), "INVALID_SETTING",
                          fmt::format("invalid value for {}: expected \"all\" or a count >= 0, got {}", setting,
                                      quote_value(text)),
                          "\"all\" or a count >= 0", std::string(text));
  }
  keep.count = count;
  return keep;
}

KeepJobs merge_keep_jobs(const std::optional<KeepJobs>& job_option, const KeepJobs& worker_default) {
  return job_option.has_value() ? *job_option : worker_default;
}

RetryDecision decide_retry(const JobOptions& options, uint32_t attempts_made, bool permanent, double random01) {
  RetryDecision decision;
  if (permanent || static_cast<uint64_t>(attempts_made) + 1 >= options.attempts) return decision;
  decision.retry = true;
  if (!options.backoff.has_value()) return decision;

  const Backoff& backoff = *options.backoff;
  double delay = static_cast<double>(backoff.delay_ms);
  if (backoff.type == "exponential") {
    // After the n-th failed attempt the retry waits 2^(n-1) times the delay.
    delay = std::round(std::pow(2.0, static_cast<double>(attempts_made)) * static_cast<double>(backoff.delay_ms));
  }
  if (backoff.jitter > 0) {
    const double min_delay = delay * (1 - backoff.jitter);
    delay = std::floor(random01 * delay * backoff.jitter + min_delay);
  }
  decision.delay_ms = static_cast<uint64_t>(std::min(delay, 9.0e15));
  return decision;
}

}  // namespace heavylift
