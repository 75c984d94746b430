#include "tasks/files/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <span>

#include "tasks/files/short_copy.h"
#include "tasks/files/sniff.h"

namespace heavylift {
namespace {

// Bytes buffered to detect the delimiter when none is given.
constexpr size_t kDetectionBytes = 64 * 1024;
constexpr size_t kExcerptBytes = 256;
constexpr size_t kOutputFlushBytes = 64 * 1024;
// Rows of CSV values the profiler queues before adding them column by
// column, and the bytes of copied values that also end a batch.
constexpr size_t kBatchRows = 1024;
constexpr size_t kBatchCells = 64 * 1024;
constexpr size_t kBatchCopyBytes = 1 << 20;
constexpr size_t kCopyBlockBytes = 64 * 1024;

Error too_many_columns(uint32_t max_columns) {
  return Error::invalid("files.max_columns", "TOO_MANY_COLUMNS",
                        fmt::format("the input has more than {} columns (files.max_columns)", max_columns),
                        fmt::format("<= {} columns", max_columns));
}

// Builds the excerpt of a row from its fields, up to kExcerptBytes, in a
// fixed buffer: every row is copied while bad-row examples are wanted, so
// this is on the hot path.
class Excerpt {
 public:
  void add_field(std::string_view value, char delimiter, bool first) {
    if (size_ >= kExcerptBytes) return;
    if (!first) text_[size_++] = delimiter;
    const size_t length = std::min(value.size(), kExcerptBytes - size_);
    copy_short(text_ + size_, value.data(), length);
    size_ += length;
  }
  std::string_view text() const { return {text_, std::min(size_, kExcerptBytes)}; }
  void clear() { size_ = 0; }

 private:
  // One spare byte for a delimiter written at the limit.
  char text_[kExcerptBytes + 1];
  size_t size_ = 0;
};

// Shared header handling for the CSV visitors: the first record names the
// columns unless `no_header` is set, when columns are named column_1, ...
struct CsvHeader {
  bool no_header = false;
  bool done = false;
  std::vector<std::string> names;

  // Returns false when the header is wider than `max_columns`.
  bool add(std::string_view name, uint32_t max_columns) {
    if (names.size() >= max_columns) return false;
    names.emplace_back(name);
    return true;
  }
};

// Feeds CSV chunks to a parser and `Visitor`, first buffering up to
// kDetectionBytes when the delimiter must be detected. A visitor that stops
// the parse leaves its reason in `error`, which replaces the parser's status.
// A visitor with begin_input(bytes) and end_input() learns which bytes the
// parser reads: field values inside them stay valid until end_input().
template <typename Visitor>
class CsvDriver {
 public:
  using MakeVisitor = std::function<std::unique_ptr<Visitor>(char delimiter)>;

  CsvDriver(v1::CsvOptions options, uint64_t max_field_bytes, MakeVisitor make_visitor)
      : options_(std::move(options)), max_field_bytes_(max_field_bytes), make_visitor_(std::move(make_visitor)) {}

  Status feed(std::string_view chunk) {
    if (parser_) return parse(chunk);
    if (options_.delimiter().empty() && head_.size() + chunk.size() < kDetectionBytes) {
      head_.append(chunk);
      return Status::Ok();
    }
    std::string head = std::move(head_);
    head.append(chunk);
    if (Status s = start(head, false); !s.ok()) return s;
    return parse(head);
  }

  // Ends the input. The visitor then contains the result.
  Status finish() {
    if (!parser_) {
      std::string head = std::move(head_);
      if (Status s = start(head, true); !s.ok()) return s;
      if (Status s = parse(head); !s.ok()) return s;
    }
    begin_input({});
    Status status = checked(parser_->finish(*visitor_));
    end_input();
    return status;
  }

  Visitor& visitor() { return *visitor_; }

 private:
  Status start(std::string_view head, bool complete) {
    Result<char> delimiter = choose_csv_delimiter(options_, head, complete);
    if (!delimiter.ok()) return delimiter.error();
    visitor_ = make_visitor_(delimiter.value());
    parser_.emplace(delimiter.value(), max_field_bytes_);
    return Status::Ok();
  }

  Status parse(std::string_view chunk) {
    begin_input(chunk);
    Status status = checked(parser_->feed(chunk, *visitor_));
    end_input();
    return status;
  }

  void begin_input(std::string_view bytes) {
    if constexpr (requires { visitor_->begin_input(bytes); }) visitor_->begin_input(bytes);
  }

  void end_input() {
    if constexpr (requires { visitor_->end_input(); }) visitor_->end_input();
  }

  Status checked(Status status) const {
    if (!status.ok() && visitor_->error) return *visitor_->error;
    return status;
  }

  v1::CsvOptions options_;
  uint64_t max_field_bytes_;
  MakeVisitor make_visitor_;
  std::string head_;
  std::unique_ptr<Visitor> visitor_;
  std::optional<CsvParser> parser_;
};

}  // namespace

Result<char> choose_csv_delimiter(const v1::CsvOptions& options, std::string_view head, bool complete) {
  const std::string& given = options.delimiter();
  if (!given.empty()) {
    if (given.size() != 1 || given[0] == '"' || given[0] == '\r' || given[0] == '\n') {
      return Error::invalid("csv.delimiter", "INVALID_DELIMITER",
                            fmt::format("csv.delimiter must be one byte other than a quote, CR or LF, got {}",
                                        quote_value(given)),
                            "one byte", given);
    }
    return given[0];
  }
  if (head.size() >= 3 && head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  const char detected = detect_csv_delimiter(head, complete);
  return detected == '\0' ? ',' : detected;
}

void BadRows::add(uint64_t line, std::string reason, std::string_view excerpt) {
  ++count_;
  if (examples_.size() >= max_examples_) return;
  v1::BadRow row;
  row.set_line(line);
  row.set_reason(std::move(reason));
  // The excerpt is cut at a UTF-8 boundary so it stays a valid proto string.
  std::string_view text = excerpt.substr(0, kExcerptBytes);
  while (!text.empty() && !is_utf8(text, true)) text.remove_suffix(1);
  row.set_excerpt(std::string(text));
  examples_.push_back(std::move(row));
  wants_examples_ = examples_.size() < max_examples_;
}

// --- CSV profile --------------------------------------------------------------

struct CsvProfiler::Visitor {
  Visitor(char delimiter, const v1::CsvOptions& options, const ProfileLimits& limits)
      : delimiter(delimiter), limits(limits), bad_rows(limits.max_bad_row_examples) {
    header.no_header = options.no_header();
  }

  // The excerpt of a data row is built only when needed (for a bad row, a
  // field beyond the header's width, or before queued values are added),
  // from the values queued for the row, so a good row copies nothing.
  // Inlined into the parser, which calls it once per field.
  [[gnu::always_inline]] bool on_field(std::string_view value, bool) {
    if (!header.done) {
      if (bad_rows.wants_examples()) add_to_excerpt(value);
      return on_header_field(value);
    }
    if (field < columns.size()) {
      queue_value(field, value);
    } else if (bad_rows.wants_examples()) {
      complete_excerpt(columns.size());
      add_to_excerpt(value);
    }
    ++field;
    return true;
  }

  void add_to_excerpt(std::string_view value) {
    excerpt.add_field(value, delimiter, field == 0);
    excerpt_fields = field + 1;
  }

  // Adds the queued values of the current row's first `fields` fields that
  // the excerpt lacks.
  void complete_excerpt(size_t fields) {
    for (size_t column = excerpt_fields; column < fields; ++column) {
      excerpt.add_field(queued[column * batch_rows + queued_rows], delimiter, column == 0);
    }
    excerpt_fields = std::max(excerpt_fields, fields);
  }

  void begin_input(std::string_view bytes) { input = bytes; }

  // Adds the queued values before `input` goes away, including those of
  // the record still open.
  void end_input() {
    add_queued_values(header.done ? std::min(field, columns.size()) : 0);
    input = {};
  }

  // Queues a value of `column`, copying it unless it lies in `input`, the
  // bytes the parser reads now.
  [[gnu::always_inline]] void queue_value(size_t column, std::string_view value) {
    const std::less_equal<const char*> at_or_before;
    const bool in_input = at_or_before(input.data(), value.data()) &&
                          at_or_before(value.data() + value.size(), input.data() + input.size());
    if (value.empty()) {
      value = kEmpty;
    } else if (!in_input) {
      value = copy_value(value);
    }
    queued[column * batch_rows + queued_rows] = value;
    // Copies end a batch early, so that a record of many long fields does
    // not keep them all.
    if (copied_bytes >= kBatchCopyBytes) add_queued_values(column + 1);
  }

  std::string_view copy_value(std::string_view value) {
    if (copy_blocks.empty() || copy_block_used + value.size() > copy_blocks.back().size()) {
      copy_blocks.emplace_back(std::max(value.size(), kCopyBlockBytes), '\0');
      copy_block_used = 0;
    }
    char* copy = copy_blocks.back().data() + copy_block_used;
    std::memcpy(copy, value.data(), value.size());
    copy_block_used += value.size();
    copied_bytes += value.size();
    return {copy, value.size()};
  }

  // Adds the queued values column by column, each column in row order, so
  // that the statistics are the same as when every value is added as it
  // is parsed. One column's state stays in cache for the whole batch.
  // The first `open_fields` values of the record still open are added too
  // and their cells marked missing, so that the rest of the record is
  // added later without them.
  void add_queued_values(size_t open_fields) {
    if (bad_rows.wants_examples()) complete_excerpt(open_fields);
    for (size_t column = 0; column < columns.size(); ++column) {
      const size_t rows_to_add = queued_rows + (column < open_fields ? 1 : 0);
      if (rows_to_add == 0) continue;
      columns[column].add_texts(std::span(queued).subspan(column * batch_rows, rows_to_add));
    }
    for (size_t column = 0; column < open_fields; ++column) queued[column * batch_rows] = kMissing;
    queued_rows = 0;
    copy_blocks.clear();
    copy_block_used = 0;
    copied_bytes = 0;
  }

  // A field of the first record: a column name, or with no_header a value
  // that also adds its column.
  bool on_header_field(std::string_view value) {
    if (header.no_header) {
      if (columns.size() >= limits.max_columns) return fail(too_many_columns(limits.max_columns));
      columns.emplace_back(fmt::format("column_{}", columns.size() + 1));
      columns.back().add_text(value);
    } else if (!header.add(value, limits.max_columns)) {
      return fail(too_many_columns(limits.max_columns));
    }
    ++field;
    return true;
  }

  bool on_record_end(uint64_t line) {
    if (!header.done) {
      header.done = true;
      if (!header.no_header) {
        columns.reserve(header.names.size());
        for (const std::string& name : header.names) columns.emplace_back(name);
      } else {
        ++rows;
      }
      batch_rows = std::clamp<size_t>(kBatchCells / std::max<size_t>(columns.size(), 1), 1, kBatchRows);
      queued.resize(columns.size() * batch_rows);
      end_row(line);
      return true;
    }
    ++rows;
    const bool bad = field != columns.size() || malformed != nullptr;
    if (bad && bad_rows.wants_examples()) complete_excerpt(std::min(field, columns.size()));
    if (field != columns.size() && malformed == nullptr) {
      bad_rows.add(line, fmt::format("expected {} fields, got {}", columns.size(), field), excerpt.text());
    }
    for (size_t i = field; i < columns.size(); ++i) {
      columns[i].add_missing();
      queued[i * batch_rows + queued_rows] = kMissing;
    }
    if (++queued_rows >= batch_rows) add_queued_values(0);
    end_row(line);
    return true;
  }

  void on_malformed(uint64_t, const char* reason) {
    if (malformed == nullptr) malformed = reason;
  }

  void end_row(uint64_t line) {
    if (malformed != nullptr) bad_rows.add(line, malformed, excerpt.text());
    malformed = nullptr;
    field = 0;
    excerpt.clear();
    excerpt_fields = 0;
  }

  bool fail(Error failure) {
    error = std::move(failure);
    return false;
  }

  char delimiter;
  ProfileLimits limits;
  CsvHeader header;
  std::vector<ColumnStats> columns;
  // Values parsed and not yet added: column c of queued row r is
  // queued[c * batch_rows + r]. A value points into `input` or into
  // copy_blocks, an empty value is kEmpty and a missing one kMissing.
  static constexpr std::string_view kEmpty{""};
  static constexpr std::string_view kMissing{};
  std::vector<std::string_view> queued;
  size_t batch_rows = 1;
  size_t queued_rows = 0;
  std::string_view input;
  std::vector<std::string> copy_blocks;
  size_t copy_block_used = 0;
  size_t copied_bytes = 0;
  BadRows bad_rows;
  Excerpt excerpt;
  // Leading fields of the current row that the excerpt contains.
  size_t excerpt_fields = 0;
  const char* malformed = nullptr;
  size_t field = 0;
  uint64_t rows = 0;
  std::optional<Error> error;
};

class CsvProfiler::Driver : public CsvDriver<CsvProfiler::Visitor> {
 public:
  using CsvDriver::CsvDriver;
};

CsvProfiler::CsvProfiler(v1::CsvOptions options, ProfileLimits limits) : limits_(limits) {
  const v1::CsvOptions copy = options;
  driver_ = std::make_unique<Driver>(std::move(options), limits.max_field_bytes, [copy, limits](char delimiter) {
    return std::make_unique<Visitor>(delimiter, copy, limits);
  });
}

CsvProfiler::~CsvProfiler() = default;

Status CsvProfiler::feed(std::string_view chunk) {
  bytes_ += chunk.size();
  return driver_->feed(chunk);
}

Status CsvProfiler::finish(v1::DataProfile* out) {
  if (Status s = driver_->finish(); !s.ok()) return s;
  const Visitor& visitor = driver_->visitor();

  out->set_rows(visitor.rows);
  out->set_bytes(bytes_);
  out->set_delimiter(std::string(1, visitor.delimiter));
  for (const ColumnStats& column : visitor.columns) column.write(out->add_columns(), limits_.top_values);
  visitor.bad_rows.write(out);
  return Status::Ok();
}

// --- NDJSON profile -----------------------------------------------------------

NdjsonProfiler::NdjsonProfiler(ProfileLimits limits) : limits_(limits), bad_rows_(limits.max_bad_row_examples) {}

std::optional<size_t> NdjsonProfiler::column_index(std::string_view key) {
  key_.assign(key);
  auto it = index_.find(key_);
  if (it != index_.end()) return it->second;
  if (columns_.size() >= limits_.max_columns) return std::nullopt;
  index_.emplace(key_, columns_.size());
  columns_.push_back(std::make_unique<ColumnStats>(key_));
  seen_in_row_.push_back(0);
  // Rows before this one lacked the key.
  columns_.back()->add_missing(rows_ - 1);
  return columns_.size() - 1;
}

Status NdjsonProfiler::profile_line(std::string_view line) {
  ++line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return Status::Ok();

  padded_.assign(line);
  padded_.resize(line.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element document;
  if (auto error = parser_.parse(padded_.data(), line.size(), false).get(document); error) {
    bad_rows_.add(line_, fmt::format("invalid JSON: {}", simdjson::error_message(error)), line);
    return Status::Ok();
  }
  simdjson::dom::object object;
  if (document.get_object().get(object)) {
    bad_rows_.add(line_, "the line is not a JSON object", line);
    return Status::Ok();
  }
  ++rows_;
  for (auto [key, value] : object) {
    const std::optional<size_t> index = column_index(key);
    if (!index) return too_many_columns(limits_.max_columns);
    if (seen_in_row_[*index] == rows_) continue;  // a duplicate key counts once
    seen_in_row_[*index] = rows_;
    ColumnStats* stats = columns_[*index].get();
    switch (value.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        stats->add(ValueKind::kNull, {}, 0, 0);
        break;
      case simdjson::dom::element_type::BOOL:
        stats->add(ValueKind::kBoolean, value.get_bool().value() ? "true" : "false", 0, 0);
        break;
      case simdjson::dom::element_type::INT64: {
        const int64_t integer = value.get_int64().value();
        stats->add(ValueKind::kInteger, std::to_string(integer), integer, 0);
        break;
      }
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE: {
        const double number = value.get_double().value();
        stats->add(ValueKind::kNumber, fmt::format("{}", number), 0, number);
        break;
      }
      case simdjson::dom::element_type::STRING: {
        const std::string_view text = value.get_string().value();
        stats->add(is_iso_timestamp(text) ? ValueKind::kTimestamp : ValueKind::kString, text, 0, 0);
        break;
      }
      case simdjson::dom::element_type::ARRAY:
      case simdjson::dom::element_type::OBJECT:
        minified_ = simdjson::minify(value);
        stats->add(value.type() == simdjson::dom::element_type::ARRAY ? ValueKind::kArray : ValueKind::kObject,
                   minified_, 0, 0);
        break;
    }
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (seen_in_row_[i] != rows_) columns_[i]->add_missing();
  }
  return Status::Ok();
}

Status NdjsonProfiler::feed(std::string_view chunk) {
  bytes_ += chunk.size();
  // A byte order mark at the start is dropped, even when split across chunks;
  // bytes that only looked like its start are kept as data.
  static constexpr char kBom[] = "\xEF\xBB\xBF";
  while (bom_matched_ < 3 && !chunk.empty()) {
    if (chunk.front() != kBom[bom_matched_]) {
      partial_.assign(kBom, bom_matched_);
      bom_matched_ = 3;
      break;
    }
    ++bom_matched_;
    chunk.remove_prefix(1);
  }
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_.size() + chunk.size() > limits_.max_field_bytes) {
        return Error::invalid("files.max_field_bytes", "LINE_TOO_LARGE",
                              fmt::format("NDJSON line {} exceeds {} bytes (files.max_field_bytes)", line_ + 1,
                                          limits_.max_field_bytes),
                              fmt::format("<= {} bytes", limits_.max_field_bytes));
      }
      partial_.append(chunk);
      return Status::Ok();
    }
    Status s;
    if (partial_.empty()) {
      s = profile_line(chunk.substr(0, newline));
    } else {
      partial_.append(chunk.substr(0, newline));
      s = profile_line(partial_);
      partial_.clear();
    }
    if (!s.ok()) return s;
    chunk.remove_prefix(newline + 1);
  }
  return Status::Ok();
}

Status NdjsonProfiler::finish(v1::DataProfile* out) {
  if (bom_matched_ < 3) {
    partial_.assign("\xEF\xBB\xBF", bom_matched_);
    bom_matched_ = 3;
  }
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    if (Status s = profile_line(last); !s.ok()) return s;
  }
  out->set_rows(rows_);
  out->set_bytes(bytes_);
  for (const auto& column : columns_) column->write(out->add_columns(), limits_.top_values);
  bad_rows_.write(out);
  return Status::Ok();
}

// --- CSV to NDJSON ------------------------------------------------------------

void append_json_string(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // Copies the run of bytes that need no escaping at once.
    size_t run = i;
    while (run < text.size()) {
      const auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out->append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
      if (length > 1 && i + length <= text.size() && is_utf8(text.substr(i, length), true)) {
        out->append(text.data() + i, length);
        i += length;
      } else {
        out->append("\xEF\xBF\xBD");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
    ++i;
  }
  out->push_back('"');
}

struct CsvToNdjson::Visitor {
  Visitor(char delimiter, const v1::CsvOptions& options, bool strings_only, const ProfileLimits& limits,
          const ByteSink& sink)
      : delimiter(delimiter), strings_only(strings_only), limits(limits), sink(sink),
        bad_rows(limits.max_bad_row_examples) {
    header.no_header = options.no_header();
  }

  bool on_field(std::string_view value, bool quoted) {
    if (bad_rows.wants_examples()) excerpt.add_field(value, delimiter, field == 0);
    if (!header.done && !header.no_header) {
      if (!header.add(value, limits.max_columns)) return fail(too_many_columns(limits.max_columns));
      ++field;
      return true;
    }
    if (!header.done) {
      // Without a header, the first row fixes the width.
      if (!header.add(fmt::format("column_{}", field + 1), limits.max_columns)) {
        return fail(too_many_columns(limits.max_columns));
      }
    }
    if (field < keys.size() || !header.done) {
      if (field == keys.size()) keys.push_back(json_key(header.names[field]));
      output.append(field == 0 ? "{" : ",");
      output.append(keys[field]);
      append_value(value, quoted);
    }
    ++field;
    return true;
  }

  bool on_record_end(uint64_t line) {
    if (!header.done && !header.no_header) {
      header.done = true;
      for (const std::string& name : header.names) keys.push_back(json_key(name));
      end_row(line);
      return true;
    }
    header.done = true;
    ++rows;
    if (field != keys.size() && malformed == nullptr) {
      bad_rows.add(line, fmt::format("expected {} fields, got {}", keys.size(), field), excerpt.text());
    }
    for (size_t i = field; i < keys.size(); ++i) {
      output.append(i == 0 ? "{" : ",");
      output.append(keys[i]);
      output.append("null");
    }
    output.append("}\n");
    end_row(line);
    if (output.size() >= kOutputFlushBytes) return flush();
    return true;
  }

  void on_malformed(uint64_t, const char* reason) {
    if (malformed == nullptr) malformed = reason;
  }

  void end_row(uint64_t line) {
    if (malformed != nullptr) bad_rows.add(line, malformed, excerpt.text());
    malformed = nullptr;
    field = 0;
    excerpt.clear();
  }

  std::string json_key(const std::string& name) {
    std::string key;
    append_json_string(name, &key);
    key.push_back(':');
    return key;
  }

  void append_value(std::string_view value, bool quoted) {
    if (value.empty() && !quoted) {
      output.append("null");
      return;
    }
    if (!strings_only && !quoted && (value == "true" || value == "false" || is_json_number(value))) {
      output.append(value);
      return;
    }
    append_json_string(value, &output);
  }

  bool flush() {
    if (output.empty()) return true;
    Status s = sink(output);
    output_bytes += output.size();
    output.clear();
    if (!s.ok()) return fail(s.error());
    return true;
  }

  bool fail(Error failure) {
    error = std::move(failure);
    return false;
  }

  char delimiter;
  bool strings_only;
  ProfileLimits limits;
  const ByteSink& sink;
  CsvHeader header;
  std::vector<std::string> keys;
  std::string output;
  BadRows bad_rows;
  Excerpt excerpt;
  const char* malformed = nullptr;
  size_t field = 0;
  uint64_t rows = 0;
  uint64_t output_bytes = 0;
  std::optional<Error> error;
};

class CsvToNdjson::Driver : public CsvDriver<CsvToNdjson::Visitor> {
 public:
  using CsvDriver::CsvDriver;
};

CsvToNdjson::CsvToNdjson(v1::CsvOptions options, bool strings_only, ProfileLimits limits, ByteSink sink)
    : sink_(std::move(sink)) {
  const v1::CsvOptions copy = options;
  driver_ = std::make_unique<Driver>(
      std::move(options), limits.max_field_bytes, [this, copy, strings_only, limits](char delimiter) {
        return std::make_unique<Visitor>(delimiter, copy, strings_only, limits, sink_);
      });
}

CsvToNdjson::~CsvToNdjson() = default;

Status CsvToNdjson::feed(std::string_view chunk) { return driver_->feed(chunk); }

Status CsvToNdjson::finish(v1::CsvToNdjsonResponse* out) {
  if (Status s = driver_->finish(); !s.ok()) return s;
  Visitor& visitor = driver_->visitor();
  if (!visitor.flush()) return *visitor.error;
  out->set_rows(visitor.rows);
  out->set_output_bytes(visitor.output_bytes);
  visitor.bad_rows.write(out);
  return Status::Ok();
}

}  // namespace heavylift
