// CSV and NDJSON profilers and the CSV to NDJSON converter. Each takes its
// input in chunks split at any byte offset, in bounded memory: per column a
// ColumnStats (about 65 KiB), plus one field or one line. The CSV profiler
// also queues the values of up to 1024 rows (16 bytes each, plus copies of
// values split across chunks, up to 1 MiB and one field) to add them column
// by column.
//
// Thread-safety: each object is used by one thread at a time.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "heavylift/v1/files.pb.h"
#include "tasks/files/codec.h"
#include "tasks/files/column_stats.h"
#include "tasks/files/csv_parser.h"
#include "tasks/files/limits.h"

namespace heavylift {

// Returns the delimiter `options` gives (INVALID_ARGUMENT naming
// csv.delimiter unless it is one byte other than a quote, CR or LF), or the
// one detected from `head`, or ',' when none is detected.
Result<char> choose_csv_delimiter(const v1::CsvOptions& options, std::string_view head, bool complete);

// Collects bad rows: counts all of them and keeps the first few with an
// excerpt of at most 256 bytes.
class BadRows {
 public:
  explicit BadRows(uint32_t max_examples) : max_examples_(max_examples), wants_examples_(max_examples > 0) {}
  // Checked for every CSV field, so it reads a flag rather than the size.
  bool wants_examples() const { return wants_examples_; }
  void add(uint64_t line, std::string reason, std::string_view excerpt);
  // Writes the count and examples into a DataProfile or CsvToNdjsonResponse.
  template <typename Message>
  void write(Message* out) const {
    out->set_bad_row_count(count_);
    for (const v1::BadRow& row : examples_) *out->add_bad_rows() = row;
  }

 private:
  uint32_t max_examples_;
  bool wants_examples_;
  uint64_t count_ = 0;
  std::vector<v1::BadRow> examples_;
};

class CsvProfiler {
 public:
  CsvProfiler(v1::CsvOptions options, ProfileLimits limits);
  ~CsvProfiler();

  // Profiles the next bytes. Errors: INVALID_ARGUMENT for an invalid
  // delimiter, a header wider than max_columns or a field longer than
  // max_field_bytes.
  Status feed(std::string_view chunk);
  // Ends the input and writes the profile.
  Status finish(v1::DataProfile* out);

 private:
  struct Visitor;
  class Driver;

  ProfileLimits limits_;
  std::unique_ptr<Driver> driver_;
  uint64_t bytes_ = 0;
};

class NdjsonProfiler {
 public:
  explicit NdjsonProfiler(ProfileLimits limits);

  Status feed(std::string_view chunk);
  Status finish(v1::DataProfile* out);

 private:
  Status profile_line(std::string_view line);
  // Returns the index of the column named `key`, adding it when new, or
  // nullopt when max_columns columns exist already.
  std::optional<size_t> column_index(std::string_view key);

  ProfileLimits limits_;
  simdjson::dom::parser parser_;
  std::string partial_;
  std::string padded_;
  std::string minified_;
  std::string key_;
  std::vector<std::unique_ptr<ColumnStats>> columns_;
  std::unordered_map<std::string, size_t> index_;
  // Row number in which each column was last seen, to count absent keys.
  std::vector<uint64_t> seen_in_row_;
  BadRows bad_rows_;
  uint64_t line_ = 0;
  uint64_t rows_ = 0;
  uint64_t bytes_ = 0;
  // Bytes of a leading byte order mark matched so far, 3 once decided.
  int bom_matched_ = 0;
};

// Converts CSV to NDJSON: one JSON object per data row, keyed by the header,
// written to `sink` in pieces of about 64 KiB.
class CsvToNdjson {
 public:
  CsvToNdjson(v1::CsvOptions options, bool strings_only, ProfileLimits limits, ByteSink sink);
  ~CsvToNdjson();
  CsvToNdjson(const CsvToNdjson&) = delete;
  CsvToNdjson& operator=(const CsvToNdjson&) = delete;

  Status feed(std::string_view chunk);
  Status finish(v1::CsvToNdjsonResponse* out);

 private:
  struct Visitor;
  class Driver;

  ByteSink sink_;
  std::unique_ptr<Driver> driver_;
};

// Appends `text` to `out` as a JSON string with quotes, escaping control
// characters and replacing invalid UTF-8 with U+FFFD.
void append_json_string(std::string_view text, std::string* out);

}  // namespace heavylift
