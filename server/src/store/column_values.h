// Conversion of decoded record values into typed columns.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/columns.h"
#include "store/record.h"

namespace heavylift {

// One scalar value of a record without its own storage: `bytes` points at
// the string's UTF-8, the ObjectId's 12 bytes or the Decimal128's 16 bytes
// (low 64 bits then high 64 bits, little-endian).
struct ScalarView {
  ValueKind kind = ValueKind::kMissing;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string_view bytes;

  bool present() const { return kind != ValueKind::kMissing && kind != ValueKind::kNull; }
};

// Returns the Decimal128 in 16 bytes as the nearest double.
double decimal128_to_double(std::string_view bytes);

// Appends one row holding `value` to `column`, converted to the column's
// kind: an ObjectId as hex text, a bool as 0 or 1, an integer or Decimal128
// as a double in a number column.
void append_scalar(const ScalarView& value, Column& column);

// Appends the scalar `value` (nullptr when missing) to `column`.
void append_value(const Value* value, Column& column);

}  // namespace heavylift
