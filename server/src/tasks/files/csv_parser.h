// A chunk-resumable CSV parser (RFC 4180) over bytes. Input arrives in
// chunks split at any byte offset; the parser keeps its state between them
// (inside a quoted field, just after a quote, just after a CR) and hands each
// field to a visitor as a string_view. It finds field ends and quotes with a
// block scanner (csv_scan.h) that marks them in 64 bytes at a time, with
// SSE2 or AVX2 where the CPU has them. A field that lies inside one chunk and
// holds no escaped quote is passed without copying; only a field split across
// chunks or holding "" is copied, into a buffer bounded by max_field_bytes.
//
// Accepted beyond RFC 4180: any one-byte delimiter, LF or bare CR line ends
// besides CRLF, a UTF-8 byte order mark at the very start (skipped), blank
// lines (skipped), a quote inside an unquoted field (kept as a character) and
// a missing line end after the last record.
//
// Visitor contract (all calls on the thread that calls feed()/finish()):
//   bool on_field(std::string_view value, bool quoted);   // false stops
//   bool on_record_end(uint64_t line);  // line where the record began; false stops
//   void on_malformed(uint64_t line, const char* reason); // the record continues
// `value` is valid only during the call.
//
// Thread-safety: a CsvParser is used by one thread at a time.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tasks/files/csv_scan.h"

namespace heavylift {

class CsvParser {
 public:
  // `scan_level` picks the block scanner. A level the CPU lacks falls back
  // to the scalar one, and every level gives the same fields.
  CsvParser(char delimiter, size_t max_field_bytes, CsvScanLevel scan_level = best_csv_scan_level())
      : delimiter_(delimiter), max_field_bytes_(max_field_bytes), scan_(csv_block_scan(scan_level)) {
    if (scan_ == nullptr) scan_ = csv_block_scan(CsvScanLevel::kScalar);
  }

  // Parses the next chunk. Returns INVALID_ARGUMENT, reason FIELD_TOO_LARGE,
  // when one field exceeds max_field_bytes, and CANCELLED when the visitor
  // stopped the parse.
  template <typename Visitor>
  Status feed(std::string_view chunk, Visitor& visitor);

  // Ends the input: emits the last record when it has no line end, and
  // reports a quoted field left open as malformed.
  template <typename Visitor>
  Status finish(Visitor& visitor);

  // Line number (1-based) the parser has reached.
  uint64_t line() const { return line_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterCr };

  template <typename Visitor>
  Status parse(const char* begin, const char* end, Visitor& visitor);

  // The masks of one block of the bytes parse() reads, starting at `base`,
  // with `size` of its bytes (at most 64) inside the input.
  struct Block {
    const char* base = nullptr;
    size_t size = 0;
    CsvBlockMasks masks;
  };
  // Scans the block starting at `from`. Fewer than 64 bytes before `end`
  // are copied into a padded buffer, so no kernel reads past the input.
  void load_block(Block& block, const char* from, const char* end) const;
  // Returns the first delimiter, LF or CR in [from, end), or end.
  const char* find_stop(Block& block, const char* from, const char* end) const;
  // Returns the first quote in [from, end), or end, and adds the LFs before
  // it to line_.
  const char* find_quote(Block& block, const char* from, const char* end);

  // Appends [from, to) to the spill buffer of a field that crosses a chunk
  // or contains an escaped quote.
  Status spill(const char* from, const char* to);
  Error field_too_large() const;

  char delimiter_;
  size_t max_field_bytes_;
  CsvBlockScan scan_;
  State state_ = State::kFieldStart;
  std::string pending_;
  bool spilled_ = false;
  // Bytes of the byte order mark matched at the start, or 3 once decided.
  int bom_matched_ = 0;
  uint64_t line_ = 1;
  uint64_t record_line_ = 1;
  bool record_open_ = false;
  // Fields seen in the current record, to skip blank lines.
  uint32_t fields_in_record_ = 0;
};

inline void CsvParser::load_block(Block& block, const char* from, const char* end) const {
  const auto available = static_cast<size_t>(end - from);
  block.base = from;
  // The input is usually read once, straight from memory: asking for the
  // bytes a few blocks ahead hides most of the wait for them. A prefetch
  // past the end of the input does not fault.
  __builtin_prefetch(from + 512);
  if (available >= 64) {
    block.size = 64;
    block.masks = scan_(from, delimiter_);
    return;
  }
  char padded[64] = {};
  std::memcpy(padded, from, available);
  block.size = available;
  block.masks = scan_(padded, delimiter_);
  // The padding bytes may equal the delimiter; they are not input.
  const uint64_t inside = (uint64_t{1} << available) - 1;
  block.masks.stops &= inside;
  block.masks.quotes &= inside;
  block.masks.newlines &= inside;
}

inline const char* CsvParser::find_stop(Block& block, const char* from, const char* end) const {
  for (;;) {
    const auto offset = static_cast<size_t>(from - block.base);
    if (offset < block.size) {
      const uint64_t ahead = block.masks.stops >> offset;
      if (ahead != 0) return from + std::countr_zero(ahead);
      from = block.base + block.size;
    }
    if (from == end) return end;
    load_block(block, from, end);
  }
}

// Without -mpopcnt std::popcount is a library call, and quoted fields
// rarely hold a line end, so the common zero skips it.
inline uint64_t count_bits(uint64_t bits) { return bits == 0 ? 0 : static_cast<uint64_t>(std::popcount(bits)); }

inline const char* CsvParser::find_quote(Block& block, const char* from, const char* end) {
  for (;;) {
    const auto offset = static_cast<size_t>(from - block.base);
    if (offset < block.size) {
      const uint64_t ahead = block.masks.quotes >> offset;
      const uint64_t newlines = block.masks.newlines >> offset;
      if (ahead != 0) {
        // The bits below the lowest set bit of `ahead`: the bytes before the quote.
        const uint64_t before = (ahead & (~ahead + 1)) - 1;
        line_ += count_bits(newlines & before);
        return from + std::countr_zero(ahead);
      }
      line_ += count_bits(newlines);
      from = block.base + block.size;
    }
    if (from == end) return end;
    load_block(block, from, end);
  }
}

inline Status CsvParser::spill(const char* from, const char* to) {
  if (pending_.size() + static_cast<size_t>(to - from) > max_field_bytes_) return field_too_large();
  pending_.append(from, to);
  spilled_ = true;
  return Status::Ok();
}

inline Error CsvParser::field_too_large() const {
  return Error::invalid("files.max_field_bytes", "FIELD_TOO_LARGE",
                        "a CSV field starting on line " + std::to_string(record_line_) + " exceeds " +
                            std::to_string(max_field_bytes_) +
                            " bytes (files.max_field_bytes); is a closing quote missing?",
                        "<= " + std::to_string(max_field_bytes_) + " bytes");
}

template <typename Visitor>
Status CsvParser::feed(std::string_view chunk, Visitor& visitor) {
  static constexpr char kBom[] = "\xEF\xBB\xBF";
  while (bom_matched_ < 3 && !chunk.empty()) {
    if (chunk.front() == kBom[bom_matched_]) {
      ++bom_matched_;
      chunk.remove_prefix(1);
      continue;
    }
    // Not a byte order mark: the bytes matched so far are data.
    const int matched = bom_matched_;
    bom_matched_ = 3;
    if (matched > 0) {
      if (Status s = parse(kBom, kBom + matched, visitor); !s.ok()) return s;
    }
  }
  if (chunk.empty()) return Status::Ok();
  return parse(chunk.data(), chunk.data() + chunk.size(), visitor);
}

template <typename Visitor>
Status CsvParser::finish(Visitor& visitor) {
  if (bom_matched_ > 0 && bom_matched_ < 3) {
    static constexpr char kBom[] = "\xEF\xBB\xBF";
    const int matched = bom_matched_;
    bom_matched_ = 3;
    if (Status s = parse(kBom, kBom + matched, visitor); !s.ok()) return s;
  }
  if (state_ == State::kQuoted) visitor.on_malformed(record_line_, "a quoted field is not closed before the end");
  if (state_ == State::kFieldStart && !record_open_) return Status::Ok();
  if (state_ != State::kAfterCr) {
    // Feeding a line end closes the open field and record.
    if (state_ == State::kQuoted) state_ = State::kQuoteInQuoted;
    static constexpr char kNewline = '\n';
    const uint64_t line = line_;
    Status s = parse(&kNewline, &kNewline + 1, visitor);
    line_ = line;
    return s;
  }
  return Status::Ok();
}

template <typename Visitor>
Status CsvParser::parse(const char* begin, const char* end, Visitor& visitor) {
  const char* p = begin;
  const char* field_start = begin;
  const char quote = '"';
  // Masks of the block around p; empty until the first search.
  Block block{begin, 0, {}};

  // Emits the field [field_start, field_end), joined to the spill buffer
  // when the field began in an earlier chunk or held an escaped quote.
  auto emit = [&](const char* field_end, bool quoted) __attribute__((always_inline)) -> bool {
    ++fields_in_record_;
    if (!spilled_) return visitor.on_field(std::string_view(field_start, field_end - field_start), quoted);
    pending_.append(field_start, field_end);
    const bool keep_going = visitor.on_field(pending_, quoted);
    pending_.clear();
    spilled_ = false;
    return keep_going;
  };
  auto end_record = [&]() -> bool {
    fields_in_record_ = 0;
    record_open_ = false;
    return visitor.on_record_end(record_line_);
  };

  while (p < end) {
    switch (state_) {
      case State::kAfterCr:
        state_ = State::kFieldStart;
        if (*p == '\n') {
          ++p;
          continue;
        }
        [[fallthrough]];
      case State::kFieldStart:
        if (fields_in_record_ == 0 && (*p == '\n' || *p == '\r')) {
          // A line holding nothing is skipped rather than read as one empty field.
          state_ = *p == '\r' ? State::kAfterCr : State::kFieldStart;
          ++line_;
          ++p;
          continue;
        }
        if (!record_open_) {
          record_open_ = true;
          record_line_ = line_;
        }
        field_start = p;
        if (*p == quote) {
          ++p;
          field_start = p;
          state_ = State::kQuoted;
          continue;
        }
        state_ = State::kUnquoted;
        [[fallthrough]];
      case State::kUnquoted: {
        p = find_stop(block, p, end);
        if (p == end) break;
        const char c = *p;
        if (!emit(p, false)) return Error::cancelled("the CSV visitor stopped the parse");
        ++p;
        if (c == delimiter_) {
          state_ = State::kFieldStart;
          record_open_ = true;
          if (p == end) continue;
          field_start = p;
          continue;
        }
        if (c == '\n') {
          ++line_;
          state_ = State::kFieldStart;
        } else {
          ++line_;
          state_ = State::kAfterCr;
        }
        if (!end_record()) return Error::cancelled("the CSV visitor stopped the parse");
        continue;
      }
      case State::kQuoted: {
        p = find_quote(block, p, end);
        if (p == end) break;
        ++p;
        state_ = State::kQuoteInQuoted;
        continue;
      }
      case State::kQuoteInQuoted: {
        // The closing quote is p[-1], or the last byte of the previous chunk,
        // in which case it was left out of the spill buffer.
        const char* content_end = p > begin ? p - 1 : p;
        const char c = *p;
        if (c == quote) {
          // An escaped quote: keep one and stay inside the field.
          if (Status s = spill(field_start, content_end); !s.ok()) return s;
          pending_.push_back(quote);
          ++p;
          field_start = p;
          state_ = State::kQuoted;
          continue;
        }
        if (c == delimiter_ || c == '\n' || c == '\r') {
          if (!emit(content_end, true)) return Error::cancelled("the CSV visitor stopped the parse");
          ++p;
          if (c == delimiter_) {
            state_ = State::kFieldStart;
            field_start = p;
            continue;
          }
          ++line_;
          state_ = c == '\n' ? State::kFieldStart : State::kAfterCr;
          if (!end_record()) return Error::cancelled("the CSV visitor stopped the parse");
          continue;
        }
        // Text after a closing quote: RFC 4180 forbids it. The quote and the
        // text are kept as part of the field, and the record is reported.
        visitor.on_malformed(record_line_, "text follows a closing quote");
        if (Status s = spill(field_start, content_end); !s.ok()) return s;
        pending_.push_back(quote);
        field_start = p;
        state_ = State::kUnquoted;
        continue;
      }
    }
  }

  // The chunk ended inside a field: keep its bytes for the next chunk.
  if (state_ == State::kUnquoted || state_ == State::kQuoted) {
    if (field_start < end) return spill(field_start, end);
    spilled_ = spilled_ || state_ == State::kQuoted;
  } else if (state_ == State::kQuoteInQuoted) {
    const char* content_end = end - 1 >= begin ? end - 1 : end;
    if (field_start < content_end) return spill(field_start, content_end);
    spilled_ = true;
  }
  return Status::Ok();
}

}  // namespace heavylift
