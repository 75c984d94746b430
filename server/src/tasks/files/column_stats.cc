#include "tasks/files/column_stats.h"

#include <fmt/format.h>
// XXH_INLINE_ALL compiles xxHash into this file, so hashing a short field
// is inlined rather than a call into libxxhash. The hashes are the same.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "tasks/files/short_copy.h"

namespace heavylift {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

bool digits_at(std::string_view text, size_t offset, size_t count) {
  if (text.size() < offset + count) return false;
  for (size_t i = offset; i < offset + count; ++i) {
    if (!is_digit(text[i])) return false;
  }
  return true;
}

// Flags with bit 7 of each byte the bytes of `digits`, a little-endian
// word of text bytes XOR '0', that are not digits (0..9 after the XOR).
// Carries move only towards later bytes and only a byte of 0x8A or more
// makes one, so the first flag is exact, and so is every flag up to the
// first byte that carries.
inline uint64_t non_digit_flags(uint64_t digits) {
  return ((digits + 0x7676767676767676) | digits) & 0x8080808080808080;
}

// Returns true when text[0, 10) reads DDDD-DD-DD with D a digit. The
// first eight bytes are checked as one word on little-endian hosts.
bool is_date_shape(std::string_view text) {
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t word;
    std::memcpy(&word, text.data(), 8);
    // XOR makes the digits 0..9 and the two dashes (bytes 4 and 7) zero.
    const uint64_t bytes = word ^ 0x2D30302D30303030;
    return non_digit_flags(bytes) == 0 && (bytes & 0xFF0000FF00000000) == 0 && digits_at(text, 8, 2);
  } else {
    return digits_at(text, 0, 4) && text[4] == '-' && digits_at(text, 5, 2) && text[7] == '-' &&
           digits_at(text, 8, 2);
  }
}

}  // namespace

bool is_iso_timestamp(std::string_view text) {
  if (text.size() < 10 || !is_date_shape(text)) return false;
  const int month = (text[5] - '0') * 10 + (text[6] - '0');
  const int day = (text[8] - '0') * 10 + (text[9] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (text.size() == 10) return true;
  if ((text[10] != 'T' && text[10] != ' ') || !digits_at(text, 11, 2) || text.size() < 16 || text[13] != ':' ||
      !digits_at(text, 14, 2)) {
    return false;
  }
  size_t i = 16;
  if (i < text.size() && text[i] == ':') {
    if (!digits_at(text, i + 1, 2)) return false;
    i += 3;
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      ++i;
      const size_t start = i;
      while (i < text.size() && is_digit(text[i])) ++i;
      if (i == start) return false;
    }
  }
  if (i == text.size()) return true;
  if (text[i] == 'Z' && i + 1 == text.size()) return true;
  if (text[i] == '+' || text[i] == '-') {
    if (!digits_at(text, i + 1, 2)) return false;
    i += 3;
    if (i < text.size() && text[i] == ':') ++i;
    return i + 2 == text.size() && digits_at(text, i, 2);
  }
  return false;
}

bool is_json_number(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  if (i >= text.size()) return false;
  if (text[i] == '0') {
    ++i;
  } else if (is_digit(text[i])) {
    while (i < text.size() && is_digit(text[i])) ++i;
  } else {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits_at(text, i, 1)) return false;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits_at(text, i, 1)) return false;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  return i == text.size();
}

namespace {

std::string format_number(double value) { return fmt::format("{}", value); }

}  // namespace

namespace {

// Powers of ten that a double represents exactly.
constexpr double kExactPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

constexpr uint64_t kPowersOfTen[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// The first `size` (at most 8) bytes at `bytes` as a little-endian word,
// zero-padded, read with at most two overlapping loads inside the text.
inline uint64_t load_little_endian(const char* bytes, size_t size) {
  uint64_t word = 0;
  if (size >= 8) {
    std::memcpy(&word, bytes, 8);
  } else if (size >= 4) {
    uint32_t head;
    uint32_t tail;
    std::memcpy(&head, bytes, 4);
    std::memcpy(&tail, bytes + size - 4, 4);
    // The loads overlap on equal bytes at equal positions, so OR joins them.
    word = head | (uint64_t{tail} << (8 * (size - 4)));
  } else {
    for (size_t i = 0; i < size; ++i) word |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return word;
}

// The value of the `count` (1..8) digits in the low bytes of `digits`, a
// little-endian word of text bytes XOR '0'. Left-pads with zero digits to
// eight, then combines pairs, then the four pairs with two multiplications.
inline uint64_t digits_value(uint64_t digits, size_t count) {
  uint64_t v = digits << (8 * (8 - count));
  v = v * 10 + (v >> 8);
  return ((v & 0x000000FF000000FF) * (100 + (uint64_t{1000000} << 32)) +
          ((v >> 16) & 0x000000FF000000FF) * (1 + (uint64_t{10000} << 32))) >>
         32;
}

// Returns true for true or false in any case. On little-endian hosts each
// is one compare of a word in which OR 0x20 lowers every letter.
inline bool is_boolean_text(std::string_view text) {
  if (text.size() != 4 && text.size() != 5) return false;
  if constexpr (std::endian::native == std::endian::little) {
    const uint64_t word = load_little_endian(text.data(), text.size()) | 0x2020202020;
    // "true" and "false" as little-endian words, with the spare byte of
    // "true" at 0x20 like the OR leaves it.
    return word == (text.size() == 4 ? 0x2065757274 : 0x65736C6166);
  } else {
    return equals_ignoring_case(text, "true") || equals_ignoring_case(text, "false");
  }
}

// Reads the run of decimal digits at text[from], up to 8 of them, eight
// bytes at a time. Returns the run's length and sets *value to its value.
// Little-endian hosts only.
inline size_t read_up_to_8_digits(std::string_view text, size_t from, uint64_t* value) {
  const size_t available = std::min<size_t>(text.size() - from, 8);
  const uint64_t digits = load_little_endian(text.data() + from, available) ^ 0x3030303030303030;
  uint64_t non_digits = non_digit_flags(digits);
  if (available < 8) non_digits |= 0x8080808080808080 << (8 * available);
  const size_t count = non_digits == 0 ? 8 : static_cast<size_t>(std::countr_zero(non_digits)) / 8;
  *value = count == 0 ? 0 : digits_value(digits, count);
  return count;
}

// Classifies text[digits_start, end), 1 to 8 bytes after an optional sign,
// with one eight-byte load when it is all digits (integer) or digits, '.'
// and digits (number). The results are those of the general path below:
// at most 8 digits fit int64, and a mantissa of at most 7 digits divided
// by an exact power of ten is what parse_short_decimal() computes. Returns
// kNull, which no such text is, for every other form. Little-endian hosts
// only.
inline ValueKind classify_short_number(std::string_view text, size_t digits_start, int64_t* integer,
                                       double* number) {
  const size_t count = text.size() - digits_start;
  const uint64_t digits = load_little_endian(text.data() + digits_start, count) ^ 0x3030303030303030;
  const uint64_t inside = count == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * count)) - 1;
  const uint64_t non_digits = non_digit_flags(digits) & inside;
  const bool negative = text[0] == '-';
  if (non_digits == 0) {
    const auto magnitude = static_cast<int64_t>(digits_value(digits, count));
    *integer = negative ? -magnitude : magnitude;
    return ValueKind::kInteger;
  }
  // A '.' makes no carry, so the flags after it are exact: the one flag
  // must be the point, with digits on both sides.
  const size_t point = static_cast<size_t>(std::countr_zero(non_digits)) / 8;
  const bool one_flag = (non_digits & (non_digits - 1)) == 0;
  if (!one_flag || point == 0 || point + 1 >= count || ((digits >> (8 * point)) & 0xFF) != ('.' ^ '0')) {
    return ValueKind::kNull;
  }
  // Drops the point: the digits before it stay, those after move down a byte.
  const uint64_t before = (uint64_t{1} << (8 * point)) - 1;
  const uint64_t joined = (digits & before) | ((digits >> 8) & ~before);
  const double value =
      static_cast<double>(digits_value(joined, count - 1)) / kExactPowersOfTen[count - 1 - point];
  *number = negative ? -value : value;
  return ValueKind::kNumber;
}

// Reads digits at text[i] onwards into `value` (value * 10 + digit each)
// until a non-digit, the end, or `limit` digits since `start`.
inline size_t read_digits(std::string_view text, size_t i, size_t start, size_t limit, uint64_t* value) {
  if constexpr (std::endian::native == std::endian::little) {
    if (i - start + 8 <= limit && i < text.size()) {
      uint64_t run = 0;
      const size_t count = read_up_to_8_digits(text, i, &run);
      *value = *value * kPowersOfTen[count] + run;
      i += count;
      if (count < 8) return i;
    }
  }
  while (i < text.size() && is_digit(text[i]) && i - start < limit) {
    *value = *value * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  return i;
}

// Parses [sign]digits.digits when the digits, read as one integer, fit in
// 53 bits and there are at most 22 after the point. Both the integer and
// the power of ten are then exact doubles, so one IEEE division rounds the
// quotient correctly and gives the same double as std::from_chars. Returns
// false, leaving the text to from_chars, in every other case.
// `integer_digits` is the value of text[digits_start, point).
inline bool parse_short_decimal(std::string_view text, size_t digits_start, size_t point, uint64_t integer_digits,
                                double* number) {
  if (point == digits_start || point >= text.size() || text[point] != '.') return false;
  const size_t fraction_start = point + 1;
  const size_t integer_count = point - digits_start;
  if (integer_count >= 19) return false;
  uint64_t mantissa = integer_digits;
  const size_t i = read_digits(text, fraction_start, fraction_start, 19 - integer_count, &mantissa);
  const size_t fraction_count = i - fraction_start;
  if (i != text.size() || fraction_count == 0 || fraction_count > 22 || mantissa > (uint64_t{1} << 53)) return false;
  const double value = static_cast<double>(mantissa) / kExactPowersOfTen[fraction_count];
  *number = text[0] == '-' ? -value : value;
  return true;
}

// The body of classify_text(), inlined into ColumnStats::add_text(). One
// pass over the digits yields an integer or a short decimal; only other
// numeric forms reach the timestamp check and from_chars.
inline ValueKind classify(std::string_view text, int64_t* integer, double* number) {
  if (text.empty()) return ValueKind::kNull;
  const char first = text[0];
  if (is_digit(first) || first == '-' || first == '+') {
    // A timestamp is neither an integer nor a number, so checking it first
    // changes no result and spares a date the numeric parse.
    if (is_digit(first) && text.size() >= 10 && text[4] == '-' && is_iso_timestamp(text)) {
      return ValueKind::kTimestamp;
    }
    const size_t digits_start = (first == '-' || first == '+') ? 1 : 0;
    if constexpr (std::endian::native == std::endian::little) {
      if (text.size() > digits_start && text.size() - digits_start <= 8) {
        const ValueKind kind = classify_short_number(text, digits_start, integer, number);
        if (kind != ValueKind::kNull) return kind;
      }
    }
    uint64_t magnitude = 0;
    const size_t i = read_digits(text, digits_start, digits_start, 19, &magnitude);
    if (i == text.size() && i > digits_start) {
      if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
        *integer = first == '-' ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
        return ValueKind::kInteger;
      }
    }
    if (parse_short_decimal(text, digits_start, i, magnitude, number)) return ValueKind::kNumber;
    std::string_view numeric = first == '+' ? text.substr(1) : text;
    const auto [end, ec] = std::from_chars(numeric.data(), numeric.data() + numeric.size(), *number);
    if (ec == std::errc() && end == numeric.data() + numeric.size() && std::isfinite(*number) &&
        numeric.size() > (numeric[0] == '-' ? 1u : 0u) && is_digit(numeric[numeric[0] == '-' ? 1 : 0])) {
      return ValueKind::kNumber;
    }
    return ValueKind::kString;
  }
  if (is_boolean_text(text)) return ValueKind::kBoolean;
  return ValueKind::kString;
}

// Compares like std::string_view::compare (bytes as unsigned char), eight
// bytes at a time and without a library call, since profiling compares
// every text value with the column's min and max.
inline int compare_bytes(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  size_t i = 0;
  for (; i + 8 <= common; i += 8) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        x = __builtin_bswap64(x);
        y = __builtin_bswap64(y);
      }
      return x < y ? -1 : 1;
    }
  }
  for (; i < common; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

uint64_t load_big_endian(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, 8);
  if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
  return word;
}

uint32_t load_big_endian_32(const char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, 4);
  if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap32(word);
  return word;
}

// The first min(size, 8) bytes of `bytes` as a big-endian word, zero-padded,
// read with at most two overlapping loads that stay inside the text.
uint64_t load_prefix(const char* bytes, size_t size) {
  if (size >= 8) return load_big_endian(bytes);
  if (size >= 4) {
    const uint64_t head = uint64_t{load_big_endian_32(bytes)} << 32;
    const uint64_t tail = uint64_t{load_big_endian_32(bytes + size - 4)} << (8 * (8 - size));
    // The loads overlap on equal bytes at equal positions, so OR joins them.
    return head | tail;
  }
  uint64_t word = 0;
  for (size_t i = 0; i < size; ++i) word |= uint64_t{static_cast<unsigned char>(bytes[i])} << (56 - 8 * i);
  return word;
}

__extension__ using Uint128 = unsigned __int128;

// Both words of a key as one 128-bit number, which orders keys as
// TextKey's operator<=> does with fewer branches.
inline Uint128 wide(const TextKey& key) { return (Uint128{key.high} << 64) | key.low; }

TextKey text_key(std::string_view text) {
  if (text.size() <= 8) return {load_prefix(text.data(), text.size()), 0};
  return {load_big_endian(text.data()), load_prefix(text.data() + 8, text.size() - 8)};
}

}  // namespace

ValueKind classify_text(std::string_view text, int64_t* integer, double* number) {
  return classify(text, integer, number);
}

TopValues::TopValues(size_t capacity)
    : capacity_(capacity),
      mask_(std::bit_ceil(capacity * 4) - 1),
      tags_(mask_ + 1),
      counters_(mask_ + 1),
      text_refs_(mask_ + 1),
      borrowed_(mask_ + 1) {
  occupied_.reserve(capacity);
}

template <bool kBorrow>
bool TopValues::add(uint64_t hash, std::string_view text) {
  // A local copy of the data pointer, so that the compiler need not reload
  // it after byte copies, which may alias any object.
  uint16_t* const tags = tags_.data();
  Counter* const counters = counters_.data();
  const uint16_t expected_tag = tag(hash);
  size_t index = hash & mask_;
  while (tags[index] != 0) {
    if (tags[index] == expected_tag && counters[index].hash == hash) {
      ++counters[index].count;
      return true;
    }
    index = (index + 1) & mask_;
  }
  if (occupied_.size() < capacity_) {
    const std::string_view kept = text.substr(0, ColumnStats::kMaxKeptBytes);
    tags[index] = expected_tag;
    counters[index] = {hash, 1};
    if constexpr (kBorrow) {
      text_refs_[index] = {kBorrowed, static_cast<uint32_t>(kept.size())};
      borrowed_[index] = kept.data();
      has_borrowed_ = true;
    } else {
      text_refs_[index] = {append_text(kept, texts_, texts_used_), static_cast<uint32_t>(kept.size())};
    }
    occupied_.push_back(static_cast<uint32_t>(index));
    return false;
  }
  // Full: the new value and every counter lose one.
  decrement_all();
  return false;
}

template bool TopValues::add<false>(uint64_t hash, std::string_view text);
template bool TopValues::add<true>(uint64_t hash, std::string_view text);

void TopValues::keep_texts() {
  if (!has_borrowed_) return;
  for (const uint32_t i : occupied_) {
    TextRef& ref = text_refs_[i];
    if (ref.offset == kBorrowed) ref.offset = append_text({borrowed_[i], ref.size}, texts_, texts_used_);
  }
  has_borrowed_ = false;
}

uint32_t TopValues::append_text(std::string_view text, std::vector<char>& buffer, size_t& used) {
  if (used + text.size() > buffer.size()) buffer.resize(std::max({buffer.size() * 2, used + text.size(), size_t{4096}}));
  copy_short(buffer.data() + used, text.data(), text.size());
  const auto offset = static_cast<uint32_t>(used);
  used += text.size();
  return offset;
}

void TopValues::decrement_all() {
  survivors_.clear();
  size_t compacted_used = 0;
  for (const uint32_t i : occupied_) {
    Counter& counter = counters_[i];
    if (counter.count > 1) {
      const std::string_view kept = text(i);
      survivors_.push_back({{counter.hash, counter.count - 1},
                            {append_text(kept, compacted_, compacted_used), static_cast<uint32_t>(kept.size())}});
    }
    counter.count = 0;
    tags_[i] = 0;
  }
  texts_.swap(compacted_);
  texts_used_ = compacted_used;
  has_borrowed_ = false;
  occupied_.clear();
  for (const Survivor& survivor : survivors_) {
    size_t index = survivor.counter.hash & mask_;
    while (tags_[index] != 0) index = (index + 1) & mask_;
    tags_[index] = tag(survivor.counter.hash);
    counters_[index] = survivor.counter;
    text_refs_[index] = survivor.text;
    occupied_.push_back(static_cast<uint32_t>(index));
  }
}

std::vector<std::pair<std::string, uint64_t>> TopValues::top(size_t limit) const {
  std::vector<std::pair<std::string, uint64_t>> entries;
  entries.reserve(occupied_.size());
  for (const uint32_t i : occupied_) entries.emplace_back(text(i), counters_[i].count);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (entries.size() > limit) entries.resize(limit);
  return entries;
}

inline bool ColumnStats::add_to_totals(Totals& totals, ValueKind kind, std::string_view text, int64_t integer,
                                       double number) {
  ++totals.present;
  if (kind == ValueKind::kNull) {
    ++totals.nulls;
    return false;
  }
  ++totals.kind_counts[static_cast<int>(kind)];
  if (kind == ValueKind::kInteger) {
    if (!totals.has_integer || integer < totals.min_integer) totals.min_integer = integer;
    if (!totals.has_integer || integer > totals.max_integer) totals.max_integer = integer;
    totals.has_integer = true;
    if (totals.has_number) {
      totals.sum += integer;
    } else {
      totals.integer_sum += integer;
    }
  } else if (kind == ValueKind::kNumber) {
    if (!totals.has_number || number < totals.min_number) totals.min_number = number;
    if (!totals.has_number || number > totals.max_number) totals.max_number = number;
    // The integers so far sum exactly in a long double while their partial
    // sums stay below 2^64, so it continues where the integer sum stops.
    if (!totals.has_number) totals.sum = static_cast<long double>(totals.integer_sum);
    totals.has_number = true;
    totals.sum += number;
  } else {
    // Numeric values have their own range; the byte-wise range covers the rest.
    const std::string_view compared = text.substr(0, kMaxKeptBytes);
    add_to_text_range(compared, text_key(compared));
  }
  return true;
}

inline void ColumnStats::add_value(Totals& totals, ValueKind kind, std::string_view text, int64_t integer,
                                   double number) {
  if (add_to_totals(totals, kind, text, integer, number)) {
    add_to_sketches<false>(text, XXH3_64bits(text.data(), text.size()));
  }
}

void ColumnStats::add(ValueKind kind, std::string_view text, int64_t integer, double number) {
  add_value(totals_, kind, text, integer, number);
}

void ColumnStats::add_text(std::string_view text) {
  int64_t integer = 0;
  double number = 0;
  const ValueKind kind = classify(text, &integer, &number);
  add_value(totals_, kind, text, integer, number);
}

// Flattened: the classification, the statistics and the sketches of each
// value are inlined into one loop, which is the CSV profiler's hot path.
// The top values borrow the texts of new counters from `texts` and copy
// those still counted at the end, so that a column of many distinct values,
// whose counters mostly go again within the batch, copies few.
[[gnu::flatten]] void ColumnStats::add_texts(std::span<const std::string_view> texts) {
  Totals totals = totals_;
  for (const std::string_view text : texts) {
    if (text.data() == nullptr) continue;
    int64_t integer = 0;
    double number = 0;
    const ValueKind kind = classify(text, &integer, &number);
    if (!add_to_totals(totals, kind, text, integer, number)) continue;
    add_to_sketches<true>(text, XXH3_64bits(text.data(), text.size()));
  }
  top_.keep_texts();
  totals_ = totals;
}

void ColumnStats::add_to_text_range(std::string_view compared, TextKey key) {
  if (!has_text_) {
    min_text_ = compared;
    max_text_ = compared;
    min_key_ = key;
    max_key_ = key;
    has_text_ = true;
    return;
  }
  // The keys decide unless they are equal. Equal keys leave it to the bytes.
  if (wide(key) > wide(min_key_) && wide(key) < wide(max_key_)) return;
  // A key and a size of at most 16 bytes name one text, so a value equal
  // to a bound, common in a column of few values, needs no byte compare.
  if (compared.size() <= 16 && ((key == min_key_ && compared.size() == min_text_.size()) ||
                                (key == max_key_ && compared.size() == max_text_.size()))) {
    return;
  }
  if (key < min_key_ || (key == min_key_ && compare_bytes(compared, min_text_) < 0)) {
    min_text_ = compared;
    min_key_ = key;
  } else if (key > max_key_ || (key == max_key_ && compare_bytes(compared, max_text_) > 0)) {
    max_text_ = compared;
    max_key_ = key;
  }
}

template <bool kBorrow>
void ColumnStats::add_to_sketches(std::string_view text, uint64_t hash) {
  // A value already counted in the top values went into the distinct
  // estimate when it was first seen, and adding a hash again changes no
  // register, so the estimate is the same without it.
  if (!top_.add<kBorrow>(hash, text)) distinct_.add_hash(hash);
}

void ColumnStats::write(v1::ColumnProfile* out, size_t top_limit) const {
  out->set_name(name_);
  out->set_count(totals_.present);
  out->set_null_count(totals_.nulls + missing_);
  const auto count = [this](ValueKind kind) { return totals_.kind_counts[static_cast<int>(kind)]; };
  out->set_boolean_count(count(ValueKind::kBoolean));
  out->set_integer_count(count(ValueKind::kInteger));
  out->set_number_count(count(ValueKind::kNumber));
  out->set_timestamp_count(count(ValueKind::kTimestamp));
  out->set_string_count(count(ValueKind::kString));

  // The type is the one kind seen, with integers and numbers merged into
  // number; MIXED when several remain.
  int kinds = 0;
  v1::ColumnType type = v1::COLUMN_TYPE_NULL;
  const std::pair<ValueKind, v1::ColumnType> candidates[] = {
      {ValueKind::kBoolean, v1::COLUMN_TYPE_BOOLEAN}, {ValueKind::kTimestamp, v1::COLUMN_TYPE_TIMESTAMP},
      {ValueKind::kString, v1::COLUMN_TYPE_STRING},   {ValueKind::kObject, v1::COLUMN_TYPE_OBJECT},
      {ValueKind::kArray, v1::COLUMN_TYPE_ARRAY},
  };
  for (const auto& [kind, column_type] : candidates) {
    if (count(kind) > 0) {
      ++kinds;
      type = column_type;
    }
  }
  const bool numeric = totals_.has_integer || totals_.has_number;
  if (numeric) {
    ++kinds;
    type = totals_.has_number ? v1::COLUMN_TYPE_NUMBER : v1::COLUMN_TYPE_INTEGER;
  }
  if (kinds > 1) type = v1::COLUMN_TYPE_MIXED;
  out->set_type(type);

  if (type == v1::COLUMN_TYPE_INTEGER) {
    out->set_min(std::to_string(totals_.min_integer));
    out->set_max(std::to_string(totals_.max_integer));
  } else if (type == v1::COLUMN_TYPE_NUMBER) {
    double min = totals_.has_number ? totals_.min_number : static_cast<double>(totals_.min_integer);
    double max = totals_.has_number ? totals_.max_number : static_cast<double>(totals_.max_integer);
    if (totals_.has_integer) {
      min = std::min(min, static_cast<double>(totals_.min_integer));
      max = std::max(max, static_cast<double>(totals_.max_integer));
    }
    out->set_min(format_number(min));
    out->set_max(format_number(max));
  } else if (has_text_) {
    out->set_min(min_text_);
    out->set_max(max_text_);
  }
  const uint64_t numeric_count = count(ValueKind::kInteger) + count(ValueKind::kNumber);
  if (numeric && (type == v1::COLUMN_TYPE_INTEGER || type == v1::COLUMN_TYPE_NUMBER)) {
    const long double sum = totals_.has_number ? totals_.sum : static_cast<long double>(totals_.integer_sum);
    out->set_mean(static_cast<double>(sum / static_cast<long double>(numeric_count)));
  }
  out->set_distinct_estimate(std::min<uint64_t>(std::llround(distinct_.estimate()), totals_.present - totals_.nulls));
  for (const auto& [text, value_count] : top_.top(top_limit)) {
    v1::ValueCount* entry = out->add_top_values();
    entry->set_value(text);
    entry->set_count(value_count);
  }
}

}  // namespace heavylift
