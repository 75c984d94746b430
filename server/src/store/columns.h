// Typed columns of decoded records, as the aggregation core reads them.
// Integers carry dates (epoch ms), bools (0/1) and int32/int64 values;
// texts carry strings and ObjectIds (24 hex digits). Texts are packed into
// one buffer per column, so a batch that is cleared and refilled reuses its
// memory instead of allocating a string per row. This header does not
// include store/record.h because tasks/files/column_stats.h declares another
// ValueKind in this namespace and the daemon includes both headers.
// store/column_values.h converts records into columns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace heavylift {

struct Column {
  enum class Kind : uint8_t { kNumber, kInteger, kText };
  Kind kind = Kind::kNumber;
  std::vector<double> numbers;
  std::vector<int64_t> integers;
  // Texts: row i is text_bytes[text_ends[i - 1], text_ends[i]).
  std::string text_bytes;
  std::vector<uint32_t> text_ends;
  // 1 when the row has a value, 0 when it is missing or null.
  std::vector<uint8_t> present;

  // Empties the column and keeps its capacity.
  void clear();
  size_t size() const { return present.size(); }
  void append_text(std::string_view text);
  std::string_view text_at(size_t row) const {
    const uint32_t begin = row == 0 ? 0 : text_ends[row - 1];
    return std::string_view(text_bytes).substr(begin, text_ends[row] - begin);
  }
  // Returns the value as a double (integers converted).
  double number_at(size_t row) const { return kind == Kind::kNumber ? numbers[row] : static_cast<double>(integers[row]); }
};

struct ColumnBatch {
  size_t rows = 0;
  std::vector<Column> columns;
};

}  // namespace heavylift
