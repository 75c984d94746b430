#include "core/error.h"

#include <fmt/format.h>

namespace heavylift {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "CANCELLED";
    case Code::kUnknown: return "UNKNOWN";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::optional<Code> code_from_name(std::string_view name) {
  for (Code code : {Code::kOk, Code::kCancelled, Code::kUnknown, Code::kInvalidArgument, Code::kDeadlineExceeded,
                    Code::kNotFound, Code::kPermissionDenied, Code::kResourceExhausted, Code::kFailedPrecondition,
                    Code::kUnimplemented, Code::kInternal, Code::kUnavailable, Code::kUnauthenticated}) {
    if (name == code_name(code)) return code;
  }
  return std::nullopt;
}

Error Error::out_of_range(std::string field, std::string bound, std::string value) {
  Error error;
  error.code = Code::kInvalidArgument;
  error.message = fmt::format("{} must be {}, got {}", field, bound, value);
  error.field = std::move(field);
  error.bound = std::move(bound);
  error.value = std::move(value);
  error.reason = "OUT_OF_RANGE";
  return error;
}

Error Error::invalid(std::string field, std::string reason, std::string message,
                     std::string bound, std::string value) {
  Error error;
  error.code = Code::kInvalidArgument;
  error.message = std::move(message);
  error.field = std::move(field);
  error.bound = std::move(bound);
  error.value = std::move(value);
  error.reason = std::move(reason);
  return error;
}

Error Error::deadline_exceeded(std::string message) {
  return Error{Code::kDeadlineExceeded, std::move(message), "", "", "", "DEADLINE_EXCEEDED", 0};
}

Error Error::cancelled(std::string message) {
  return Error{Code::kCancelled, std::move(message), "", "", "", "CANCELLED", 0};
}

Error Error::internal(std::string message) {
  return Error{Code::kInternal, std::move(message), "", "", "", "INTERNAL", 0};
}

Error Error::unavailable(std::string message) {
  return Error{Code::kUnavailable, std::move(message), "", "", "", "SHUTTING_DOWN", 0};
}

Error Error::resource_exhausted(std::string message, uint32_t retry_after_ms) {
  return Error{Code::kResourceExhausted, std::move(message), "", "", "", "QUEUE_FULL",
               retry_after_ms};
}

std::string quote_value(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += static_cast<char>(byte);
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  out += '"';
  if (text.size() > kMaxShown) out += fmt::format(" ({} bytes, truncated)", text.size());
  return out;
}

}  // namespace heavylift
