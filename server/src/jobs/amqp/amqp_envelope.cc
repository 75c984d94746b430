#include "jobs/amqp/amqp_envelope.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/trace_context.h"

namespace heavylift {
namespace {

std::string_view bytes_view(const amqp_bytes_t& bytes) {
  if (bytes.len == 0 || bytes.bytes == nullptr) return {};
  return {static_cast<const char*>(bytes.bytes), bytes.len};
}

std::string lower_ascii(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lowered;
}

// The media type of a content_type value: the text before any ";", without
// surrounding spaces, in lower case.
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return lower_ascii(type);
}

Result<PayloadFormat> read_format(const amqp_basic_properties_t& properties) {
  if ((properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) == 0) return PayloadFormat::kJson;
  const std::string_view content_type = bytes_view(properties.content_type);
  const std::string type = media_type(content_type);
  if (type.empty() || type == "application/json") return PayloadFormat::kJson;
  if (type == "application/x-protobuf" || type == "application/protobuf") return PayloadFormat::kProtobuf;
  return Error::invalid("content_type", "UNSUPPORTED_CONTENT_TYPE",
                        fmt::format("content_type must be application/json or application/x-protobuf, got {}",
                                    quote_value(content_type)),
                        "application/json or application/x-protobuf", quote_value(content_type));
}

// Reads an integer header value of any AMQP integer kind, or a double that
// holds an integer (JavaScript clients may send numbers either way).
std::optional<int64_t> integer_value(const amqp_field_value_t& value) {
  switch (value.kind) {
    case AMQP_FIELD_KIND_I8: return value.value.i8;
    case AMQP_FIELD_KIND_U8: return value.value.u8;
    case AMQP_FIELD_KIND_I16: return value.value.i16;
    case AMQP_FIELD_KIND_U16: return value.value.u16;
    case AMQP_FIELD_KIND_I32: return value.value.i32;
    case AMQP_FIELD_KIND_U32: return value.value.u32;
    case AMQP_FIELD_KIND_I64: return value.value.i64;
    case AMQP_FIELD_KIND_U64:
      if (value.value.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(value.value.u64);
    case AMQP_FIELD_KIND_F32:
    case AMQP_FIELD_KIND_F64: {
      const double number = value.kind == AMQP_FIELD_KIND_F32 ? value.value.f32 : value.value.f64;
      if (!std::isfinite(number) || std::floor(number) != number || std::fabs(number) > 9.0e15) return std::nullopt;
      return static_cast<int64_t>(number);
    }
    default: return std::nullopt;
  }
}

std::optional<std::string_view> string_value(const amqp_field_value_t& value) {
  if (value.kind == AMQP_FIELD_KIND_UTF8 || value.kind == AMQP_FIELD_KIND_BYTES) return bytes_view(value.value.bytes);
  return std::nullopt;
}

Result<std::string> read_task_name(const amqp_basic_properties_t& properties) {
  const std::string field = std::string("headers.") + kTaskHeader;
  std::string_view name;
  const amqp_field_value_t* header =
      (properties._flags & AMQP_BASIC_HEADERS_FLAG) != 0 ? find_header(properties.headers, kTaskHeader) : nullptr;
  if (header != nullptr) {
    const auto text = string_value(*header);
    if (!text) {
      return Error::invalid(field, "WRONG_TYPE", fmt::format("{} must be a string naming the task", field),
                            "a string");
    }
    name = *text;
  } else if ((properties._flags & AMQP_BASIC_TYPE_FLAG) != 0) {
    name = bytes_view(properties.type);
  }
  if (name.empty()) {
    return Error::invalid(field, "MISSING_TASK_NAME",
                          fmt::format("the message names no task: set the {} header (or the type property) "
                                      "to a task name such as image.thumbnail",
                                      kTaskHeader),
                          "a task name");
  }
  if (name.size() > kMaxTaskNameBytes) {
    return Error::out_of_range(field, fmt::format("at most {} bytes", kMaxTaskNameBytes),
                               fmt::format("{} bytes", name.size()));
  }
  return std::string(name);
}

Result<uint32_t> read_attempt(const amqp_basic_properties_t& properties) {
  if ((properties._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return 1u;
  const amqp_field_value_t* header = find_header(properties.headers, kAttemptHeader);
  if (header == nullptr) return 1u;
  const std::string field = std::string("headers.") + kAttemptHeader;
  const std::string bound = fmt::format("an integer in 1..{}", kMaxAttemptNumber);
  const auto number = integer_value(*header);
  if (!number) {
    return Error::invalid(field, "WRONG_TYPE", fmt::format("{} must be {}", field, bound), bound);
  }
  if (*number < 1 || *number > kMaxAttemptNumber) {
    return Error::out_of_range(field, bound, std::to_string(*number));
  }
  return static_cast<uint32_t>(*number);
}

}  // namespace

const amqp_field_value_t* find_header(const amqp_table_t& table, std::string_view key) {
  if (table.entries == nullptr) return nullptr;
  for (int i = 0; i < table.num_entries; ++i) {
    if (bytes_view(table.entries[i].key) == key) return &table.entries[i].value;
  }
  return nullptr;
}

std::string property_text(const amqp_basic_properties_t& properties, amqp_flags_t flag,
                          const amqp_bytes_t& value) {
  if ((properties._flags & flag) == 0) return {};
  return std::string(bytes_view(value));
}

Result<JobEnvelope> parse_job_envelope(const amqp_basic_properties_t& properties) {
  JobEnvelope envelope;
  if ((properties._flags & AMQP_BASIC_CONTENT_ENCODING_FLAG) != 0) {
    const std::string_view encoding = bytes_view(properties.content_encoding);
    if (!encoding.empty() && lower_ascii(encoding) != "identity") {
      return Error::invalid("content_encoding", "UNSUPPORTED_CONTENT_ENCODING",
                            fmt::format("content_encoding must be absent or identity, got {}", quote_value(encoding)),
                            "absent or identity", quote_value(encoding));
    }
  }
  auto format = read_format(properties);
  if (!format.ok()) return format.error();
  envelope.format = format.value();

  auto task = read_task_name(properties);
  if (!task.ok()) return task.error();
  envelope.task = std::move(task.value());

  auto attempt = read_attempt(properties);
  if (!attempt.ok()) return attempt.error();
  envelope.attempt = attempt.value();

  if ((properties._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
    // Like gRPC metadata, a traceparent that does not parse is ignored
    // rather than failing the message.
    if (const amqp_field_value_t* header = find_header(properties.headers, kTraceparentHeader)) {
      if (const auto text = string_value(*header)) {
        if (const auto parent = parse_traceparent(*text)) envelope.trace_id = parent->trace_id;
      }
    }
    const amqp_field_value_t* redelivered = find_header(properties.headers, kRedeliveredHeader);
    envelope.redelivered_before =
        redelivered != nullptr && redelivered->kind == AMQP_FIELD_KIND_BOOLEAN && redelivered->value.boolean != 0;
  }

  envelope.message_id = property_text(properties, AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id);
  envelope.correlation_id = property_text(properties, AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id);
  envelope.reply_to = property_text(properties, AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to);
  return envelope;
}

}  // namespace heavylift
