// Per-column statistics shared by the CSV and NDJSON profilers: the value
// kinds seen, null count, min/max, mean, a HyperLogLog distinct estimate and
// a Misra-Gries summary of the most frequent values.
//
// Thread-safety: a ColumnStats is used by one thread at a time.
#pragma once

#include <compare>
#include <cstdint>
#include <span>
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
  // Counts one value. Returns true when a counter for `hash` existed already,
  // so the value was seen before. With `kBorrow` a new counter refers to
  // `text` in place instead of copying it: the caller keeps `text` valid
  // until it calls keep_texts(), which it does before top().
  template <bool kBorrow = false>
  bool add(uint64_t hash, std::string_view text);
  // Copies the borrowed texts of the counters still kept.
  void keep_texts();
  // The `limit` most frequent entries, most frequent first, ties by value.
  std::vector<std::pair<std::string, uint64_t>> top(size_t limit) const;

 private:
  // Open addressing over at least 4 * `capacity` slots, where a tag of 0
  // marks an empty slot. A probe reads the 2-byte tags (2 KiB for capacity
  // 256), which fit in the first-level cache, and a counter only where its
  // tag matches. The text of slot i is texts_[text_refs_[i].offset,
  // + text_refs_[i].size), or when that offset is kBorrowed the
  // text_refs_[i].size bytes at borrowed_[i].
  struct Counter {
    uint64_t hash = 0;
    uint64_t count = 0;
  };
  // Bits 48..63 of a hash with bit 0 set, so that no tag is 0. The
  // slot comes from the low bits, so slots and tags are independent.
  static uint16_t tag(uint64_t hash) { return static_cast<uint16_t>(hash >> 48) | 1; }
  struct TextRef {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  struct Survivor {
    Counter counter;
    TextRef text;
  };
  static constexpr uint32_t kBorrowed = UINT32_MAX;
  std::string_view text(size_t slot) const {
    const TextRef ref = text_refs_[slot];
    return {ref.offset == kBorrowed ? borrowed_[slot] : texts_.data() + ref.offset, ref.size};
  }
  // Appends `text` to `buffer`, whose first `used` bytes are taken, and
  // returns its offset.
  static uint32_t append_text(std::string_view text, std::vector<char>& buffer, size_t& used);
  // Lowers every count by one, drops the counters that reach zero and
  // compacts the texts of the others.
  void decrement_all();

  size_t capacity_;
  // Slot count minus one. The slot count is a power of two, at least four
  // times `capacity`, so that a probe rarely passes more than one slot.
  size_t mask_;
  std::vector<uint16_t> tags_;
  std::vector<Counter> counters_;
  std::vector<TextRef> text_refs_;
  std::vector<const char*> borrowed_;
  bool has_borrowed_ = false;
  // Indexes of the slots in use, so that decrement_all() and top() visit
  // only those.
  std::vector<uint32_t> occupied_;
  // The texts of the counters in the first texts_used_ bytes, appended on
  // insert and compacted by decrement_all(). They are at most `capacity`
  // texts of at most ColumnStats::kMaxKeptBytes bytes, since only a new
  // counter adds a text and only decrement_all() drops counters.
  std::vector<char> texts_;
  size_t texts_used_ = 0;
  // Scratch space of decrement_all(), kept so that it allocates once.
  std::vector<Survivor> survivors_;
  std::vector<char> compacted_;
};

// The first 16 bytes of a text as two big-endian words, zero-padded. When
// the keys of two texts differ, they order the texts as a byte-wise
// comparison does. Equal keys leave the order open.
struct TextKey {
  uint64_t high = 0;
  uint64_t low = 0;
  auto operator<=>(const TextKey&) const = default;
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
  // Classifies a CSV field with classify_text() and adds it: the same result
  // as add() after classify_text(), in one call per field.
  void add_text(std::string_view text);
  // Calls add_text() on each value in order, skipping values whose data()
  // is null, which mark a missing field.
  void add_texts(std::span<const std::string_view> texts);
  // Adds one missing value (an absent NDJSON key or a short CSV row).
  void add_missing(uint64_t count = 1) { missing_ += count; }

  // Writes the profile of the column, with at most `top_limit` top values.
  void write(v1::ColumnProfile* out, size_t top_limit) const;

  const std::string& name() const { return name_; }

 private:
  // Counts, numeric range and sum. add_texts() updates a local copy and
  // stores it once, so that the compiler keeps the fields in registers
  // rather than reloading them after every byte copy into the top values.
  struct Totals {
    // Values present and null, and values present.
    uint64_t nulls = 0;
    uint64_t present = 0;
    uint64_t kind_counts[8] = {};
    // Numeric range and sum of integer and number values.
    bool has_integer = false;
    int64_t min_integer = 0;
    int64_t max_integer = 0;
    bool has_number = false;
    double min_number = 0;
    double max_number = 0;
    // The sum of the integers while no number has been seen, exact, then
    // of all numeric values in order.
    __extension__ __int128 integer_sum = 0;
    long double sum = 0;
  };
  // Adds one classified value to `totals` and, unless it is null, to the
  // text range and the sketches.
  void add_value(Totals& totals, ValueKind kind, std::string_view text, int64_t integer, double number);
  // Adds one classified value to `totals` and, unless it is null, to the
  // text range. Returns false for null, which the sketches skip.
  bool add_to_totals(Totals& totals, ValueKind kind, std::string_view text, int64_t integer, double number);
  std::string name_;
  Totals totals_;
  // Values absent.
  uint64_t missing_ = 0;
  // Updates the byte-wise range with a value that is neither integer nor
  // number, given its first kMaxKeptBytes bytes and their key.
  void add_to_text_range(std::string_view compared, TextKey key);
  // Adds the value's XXH3 hash to the distinct estimate and the top values,
  // which borrow `text` with `kBorrow` (see TopValues::add).
  template <bool kBorrow>
  void add_to_sketches(std::string_view text, uint64_t hash);

  // Byte-wise range of the text of every non-null value, with the first 16
  // bytes of each bound as a key that decides most comparisons.
  bool has_text_ = false;
  std::string min_text_;
  std::string max_text_;
  TextKey min_key_;
  TextKey max_key_;
  HyperLogLog distinct_;
  TopValues top_;
};

}  // namespace heavylift
