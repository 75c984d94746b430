// Per-column statistics shared by the CSV and NDJSON profilers: the value
// kinds seen, null count, min/max, mean, a HyperLogLog distinct estimate and
// a Misra-Gries summary of the most frequent values.
//
// Thread-safety: a ColumnStats is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hyperloglog.h"
#include "heavylift/v1/files.pb.h"

namespace heavylift {

// Kind of one value.
enum class ValueKind { kNull, kBoolean, kInteger, kNumber, kTimestamp, kString, kObject, kArray };

// Classifies the text of a CSV field. Empty is null, and true or false in
// any case is boolean. Digits with an optional sign that fit int64 are
// integer, and other decimal numbers (with a fraction or exponent) are number.
// YYYY-MM-DD, optionally followed by 'T' or ' ' and a time, is timestamp.
// Anything else is string. Sets *integer or *number for the numeric kinds.
ValueKind classify_text(std::string_view text, int64_t* integer, double* number);

// Returns true for YYYY-MM-DD optionally followed by 'T' or ' ' and
// HH:MM[:SS[.fraction]] with an optional Z or (+|-)HH[:]MM offset.
bool is_iso_timestamp(std::string_view text);

// Returns true when `text` is a number exactly as JSON (RFC 8259) writes one.
bool is_json_number(std::string_view text);

// Misra-Gries frequent-items summary keyed by the value's 64-bit hash, with
// `capacity` counters. Counts are exact while the column has at most
// `capacity` distinct values. Beyond that they are lower bounds, and every
// value more frequent than n / (capacity + 1) is kept.
class TopValues {
 public:
  explicit TopValues(size_t capacity);
  void add(uint64_t hash, std::string_view text);
  // The `limit` most frequent entries, most frequent first, ties by value.
  std::vector<std::pair<std::string, uint64_t>> top(size_t limit) const;

 private:
  // Open addressing over twice `capacity` slots; a count of 0 marks an empty
  // slot. Texts sit in a parallel array so their buffers are reused.
  struct Slot {
    uint64_t hash = 0;
    uint64_t count = 0;
  };
  // Lowers every count by one and drops the counters that reach zero.
  void decrement_all();

  size_t capacity_;
  size_t size_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::string> texts_;
};

class ColumnStats {
 public:
  // Values longer than this are hashed whole but kept only truncated in
  // min/max and top values.
  static constexpr size_t kMaxKeptBytes = 256;

  explicit ColumnStats(std::string name) : name_(std::move(name)), top_(256) {}

  // Adds one value of kind `kind` with its text (for CSV the field, for
  // NDJSON the string or the minified JSON). `integer` and `number` carry
  // the parsed numeric value of those kinds.
  void add(ValueKind kind, std::string_view text, int64_t integer, double number);
  // Adds one missing value (an absent NDJSON key or a short CSV row).
  void add_missing(uint64_t count = 1) { missing_ += count; }

  // Writes the profile of the column, with at most `top_limit` top values.
  void write(v1::ColumnProfile* out, size_t top_limit) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  // Values present and null, values absent, and values present.
  uint64_t nulls_ = 0;
  uint64_t missing_ = 0;
  uint64_t present_ = 0;
  uint64_t kind_counts_[8] = {};
  // Numeric range and sum of integer and number values.
  bool has_integer_ = false;
  int64_t min_integer_ = 0;
  int64_t max_integer_ = 0;
  bool has_number_ = false;
  double min_number_ = 0;
  double max_number_ = 0;
  long double sum_ = 0;
  // Byte-wise range of the text of every non-null value.
  bool has_text_ = false;
  std::string min_text_;
  std::string max_text_;
  HyperLogLog distinct_;
  TopValues top_;
};

}  // namespace heavylift
