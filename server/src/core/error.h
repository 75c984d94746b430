// Errors as values: every task and helper returns a Result<T> carrying either
// a value or an Error with a gRPC status code and the details a caller needs
// to fix the request (the field at fault, the bound it broke and the value).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <variant>

namespace heavylift {

// The gRPC status codes heavylift uses, with the numbers of the gRPC spec so
// that adapters can cast them directly.
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// Returns the upper-case gRPC name of `code`, for example "INVALID_ARGUMENT".
const char* code_name(Code code);

// Returns the code whose code_name() is `name`, or nullopt for other text.
std::optional<Code> code_from_name(std::string_view name);

struct Error {
  Code code = Code::kUnknown;
  std::string message;
  // Proto field path of the request field at fault ("input.data"), or empty.
  std::string field;
  // The bound the value broke ("<= 262144"), or empty.
  std::string bound;
  // The received value as text, truncated to a readable length.
  std::string value;
  // Stable upper-case reason ("OUT_OF_RANGE", "EMPTY", "CORRUPT_INPUT").
  std::string reason;
  // For kResourceExhausted: how long the caller should wait before retrying.
  uint32_t retry_after_ms = 0;

  // Builds the INVALID_ARGUMENT error for `field` holding `value` outside
  // `bound`. The message reads "<field> must be <bound>, got <value>".
  static Error out_of_range(std::string field, std::string bound, std::string value);
  // Builds an INVALID_ARGUMENT error with a free-form message, and the bound
  // and value when they can be stated.
  static Error invalid(std::string field, std::string reason, std::string message,
                       std::string bound = "", std::string value = "");
  static Error deadline_exceeded(std::string message);
  static Error cancelled(std::string message);
  static Error internal(std::string message);
  static Error unavailable(std::string message);
  static Error resource_exhausted(std::string message, uint32_t retry_after_ms);
};

// Renders `text` for inclusion in an error message: at most 64 characters,
// with non-printable bytes escaped, so a hostile value cannot flood a log.
std::string quote_value(std::string_view text);

// A value of type T or an Error. Access the value only after checking ok().
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result for operations that produce no value.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace heavylift
