#include "store/pg_copy.h"

#include <bson/bson.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "store/bson_decoder.h"

namespace heavylift {
namespace {

// The binary COPY header: an 11-byte signature, 32-bit flags and the
// length of a header extension that follows.
constexpr char kSignature[] = "PGCOPY\n\377\r\n";
constexpr size_t kSignatureSize = 11;  // the text above and its terminating NUL
constexpr size_t kHeaderSize = kSignatureSize + 8;
// Flag bit 16 marks tuples that carry an OID. Bits 17 to 31 are reserved for
// changes a reader must not ignore.
constexpr uint32_t kFlagWithOids = 1u << 16;
constexpr uint32_t kCriticalFlags = 0xfffe0000u;
// PostgreSQL 15 writes no header extension, and this bound keeps a bad
// length from making the decoder wait for gigabytes.
constexpr int32_t kMaxHeaderExtension = 1 << 20;
// Timestamps count microseconds and dates count days from 2000-01-01.
constexpr int64_t kPostgresEpochMs = 946'684'800'000;
constexpr int64_t kPostgresEpochDays = 10'957;
constexpr int64_t kDayMs = 86'400'000;
// MAXDIM in PostgreSQL's array code.
constexpr int32_t kMaxArrayDimensions = 6;
// Sign words of numeric's send format.
constexpr uint16_t kNumericPositive = 0x0000;
constexpr uint16_t kNumericNegative = 0x4000;
constexpr uint16_t kNumericNaN = 0xc000;
constexpr uint16_t kNumericPlusInfinity = 0xd000;
constexpr uint16_t kNumericMinusInfinity = 0xf000;
constexpr uint16_t kNumericMaxScale = 0x3fff;
constexpr uint8_t kJsonbVersion = 1;

// Big-endian reads: one unaligned load and one byte swap each.
uint16_t read_u16(const uint8_t* p) {
  uint16_t value;
  std::memcpy(&value, p, sizeof(value));
  return __builtin_bswap16(value);
}
int16_t read_i16(const uint8_t* p) { return static_cast<int16_t>(read_u16(p)); }
uint32_t read_u32(const uint8_t* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return __builtin_bswap32(value);
}
int32_t read_i32(const uint8_t* p) { return static_cast<int32_t>(read_u32(p)); }
int64_t read_i64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
  return static_cast<int64_t>(__builtin_bswap64(value));
}

struct TypeInfo {
  uint32_t oid;
  const char* name;
  // Element type of an array type, 0 for a scalar type.
  uint32_t element;
};

constexpr TypeInfo kTypes[] = {
    {pg_type::kBool, "bool", 0},
    {pg_type::kInt8, "int8", 0},
    {pg_type::kInt2, "int2", 0},
    {pg_type::kInt4, "int4", 0},
    {pg_type::kText, "text", 0},
    {pg_type::kJson, "json", 0},
    {pg_type::kFloat4, "float4", 0},
    {pg_type::kFloat8, "float8", 0},
    {pg_type::kBpchar, "char(n)", 0},
    {pg_type::kVarchar, "varchar", 0},
    {pg_type::kDate, "date", 0},
    {pg_type::kTimestamp, "timestamp", 0},
    {pg_type::kTimestamptz, "timestamptz", 0},
    {pg_type::kNumeric, "numeric", 0},
    {pg_type::kUuid, "uuid", 0},
    {pg_type::kJsonb, "jsonb", 0},
    {pg_type::kBoolArray, "bool[]", pg_type::kBool},
    {pg_type::kInt2Array, "int2[]", pg_type::kInt2},
    {pg_type::kInt4Array, "int4[]", pg_type::kInt4},
    {pg_type::kTextArray, "text[]", pg_type::kText},
    {pg_type::kBpcharArray, "char(n)[]", pg_type::kBpchar},
    {pg_type::kVarcharArray, "varchar[]", pg_type::kVarchar},
    {pg_type::kInt8Array, "int8[]", pg_type::kInt8},
    {pg_type::kFloat4Array, "float4[]", pg_type::kFloat4},
    {pg_type::kFloat8Array, "float8[]", pg_type::kFloat8},
    {pg_type::kTimestampArray, "timestamp[]", pg_type::kTimestamp},
    {pg_type::kDateArray, "date[]", pg_type::kDate},
    {pg_type::kTimestamptzArray, "timestamptz[]", pg_type::kTimestamptz},
    {pg_type::kNumericArray, "numeric[]", pg_type::kNumeric},
    {pg_type::kUuidArray, "uuid[]", pg_type::kUuid},
};

uint32_t array_element(uint32_t oid) {
  for (const TypeInfo& type : kTypes) {
    if (type.oid == oid) return type.element;
  }
  return 0;
}

// The column types a field of `type` is read from. Array fields use their
// element's list.
std::vector<uint32_t> readable_types(FieldType type) {
  using namespace pg_type;
  switch (type) {
    case FieldType::kObjectId: return {kBpchar, kText, kVarchar};
    case FieldType::kString: return {kText, kVarchar, kBpchar, kUuid};
    case FieldType::kDate: return {kTimestamptz, kTimestamp, kDate};
    case FieldType::kDecimal128: return {kNumeric, kInt2, kInt4, kInt8};
    case FieldType::kInt32:
    case FieldType::kBigInt: return {kInt2, kInt4, kInt8, kNumeric};
    case FieldType::kDouble:
    case FieldType::kNumber: return {kFloat8, kFloat4, kInt2, kInt4, kInt8, kNumeric};
    case FieldType::kBoolean: return {kBool};
    case FieldType::kMap: return {kJsonb, kJson};
    case FieldType::kArray:
    case FieldType::kObject: return {};
  }
  return {};
}

bool reads_type(FieldType type, uint32_t oid) {
  const std::vector<uint32_t> types = readable_types(type);
  return std::find(types.begin(), types.end(), oid) != types.end();
}

std::string readable_type_names(FieldType type, const char* suffix) {
  std::string text;
  const std::vector<uint32_t> types = readable_types(type);
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) text += i + 1 == types.size() ? " or " : ", ";
    text += pg_type_name(types[i]) + suffix;
  }
  return text;
}

enum class Outcome { kOk, kViolation, kCorrupt };

std::string found_text(std::string_view text) { return fmt::format("text {}", quote_value(text)); }

// Reads an int2, int4 or int8 value. Returns false when `bytes` has the
// wrong length for `oid`.
bool read_integer(uint32_t oid, std::string_view bytes, int64_t* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (oid == pg_type::kInt2 && bytes.size() == 2) {
    *out = read_i16(p);
  } else if (oid == pg_type::kInt4 && bytes.size() == 4) {
    *out = read_i32(p);
  } else if (oid == pg_type::kInt8 && bytes.size() == 8) {
    *out = read_i64(p);
  } else {
    return false;
  }
  return true;
}

// Writes a numeric in numeric's send format (digit count, weight, sign and
// display scale as int16, then base-10000 digits) as numeric_out prints it:
// no leading zeros, exactly `dscale` fraction digits, "NaN", "Infinity" or
// "-Infinity". Returns false with `problem` set when the bytes are malformed.
bool numeric_text(std::string_view bytes, std::string* out, std::string* problem) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < 8) {
    *problem = fmt::format("a numeric of {} bytes, expected at least 8", bytes.size());
    return false;
  }
  const int16_t ndigits = read_i16(p);
  const int16_t weight = read_i16(p + 2);
  const uint16_t sign = read_u16(p + 4);
  const uint16_t dscale = read_u16(p + 6);
  if (ndigits < 0 || bytes.size() != 8 + 2 * static_cast<size_t>(ndigits)) {
    *problem = fmt::format("a numeric of {} bytes with {} digits", bytes.size(), ndigits);
    return false;
  }
  out->clear();
  switch (sign) {
    case kNumericNaN: out->assign("NaN"); return true;
    case kNumericPlusInfinity: out->assign("Infinity"); return true;
    case kNumericMinusInfinity: out->assign("-Infinity"); return true;
    case kNumericPositive:
    case kNumericNegative: break;
    default:
      *problem = fmt::format("a numeric with sign word 0x{:04x}", sign);
      return false;
  }
  if (dscale > kNumericMaxScale) {
    *problem = fmt::format("a numeric with display scale {}", dscale);
    return false;
  }
  for (int i = 0; i < ndigits; ++i) {
    if (read_u16(p + 8 + 2 * i) > 9999) {
      *problem = fmt::format("a numeric digit {} above 9999", read_u16(p + 8 + 2 * i));
      return false;
    }
  }

  const auto digit_at = [&](int index) -> int { return index >= 0 && index < ndigits ? read_u16(p + 8 + 2 * index) : 0; };
  const auto append_group = [&](int digit, bool trim) {
    char group[4] = {static_cast<char>('0' + digit / 1000), static_cast<char>('0' + digit / 100 % 10),
                     static_cast<char>('0' + digit / 10 % 10), static_cast<char>('0' + digit % 10)};
    int start = 0;
    while (trim && start < 3 && group[start] == '0') ++start;
    out->append(group + start, 4 - start);
  };
  if (sign == kNumericNegative) out->push_back('-');
  int index = 0;
  if (weight < 0) {
    index = weight + 1;
    out->push_back('0');
  } else {
    for (; index <= weight; ++index) append_group(digit_at(index), index == 0);
  }
  if (dscale > 0) {
    out->push_back('.');
    const size_t end = out->size() + dscale;
    for (int written = 0; written < dscale; written += 4, ++index) append_group(digit_at(index), false);
    out->resize(end);
  }
  return true;
}

template <typename Number>
bool parse_text(std::string_view text, Number* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Compared inline: enum values are a few bytes, shorter than a call to memcmp
// costs.
bool same_text(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (size_t i = 0; i < left.size(); ++i) {
    if (left[i] != right[i]) return false;
  }
  return true;
}

bool is_enum_value(const FieldSchema& field, std::string_view text) {
  if (field.enum_values.empty()) return true;
  for (const std::string& value : field.enum_values) {
    if (same_text(value, text)) return true;
  }
  return false;
}

// Sets a Number field's value the way Mongoose's driver writes a number:
// int32 for integers in int32 range other than -0, double otherwise.
void set_number(double number, ScalarView* value) {
  const bool negative_zero = number == 0 && std::signbit(number);
  if (std::trunc(number) == number && number >= INT32_MIN && number <= INT32_MAX && !negative_zero) {
    value->kind = ValueKind::kInt32;
    value->integer = static_cast<int64_t>(number);
  } else {
    value->kind = ValueKind::kDouble;
    value->number = std::isnan(number) ? std::numeric_limits<double>::quiet_NaN() : number;
  }
}

// Reads a float8, float4, integer or numeric column as a double. A float4
// becomes the double nearest its shortest decimal text, as float4's text
// output parsed as a double would. A numeric beyond double's range is a
// violation. `text` is scratch storage, and `detail` is set as in
// decode_scalar.
Outcome read_double(uint32_t oid, std::string_view bytes, double* out, std::string* text, std::string* detail) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  int64_t integer = 0;
  if (oid == pg_type::kFloat8 && bytes.size() == 8) {
    const uint64_t bits = static_cast<uint64_t>(read_i64(p));
    std::memcpy(out, &bits, 8);
    return Outcome::kOk;
  }
  if (oid == pg_type::kFloat4 && bytes.size() == 4) {
    const uint32_t bits = read_u32(p);
    float single;
    std::memcpy(&single, &bits, 4);
    if (!std::isfinite(single)) {
      *out = single;
      return Outcome::kOk;
    }
    char shortest[32];
    const auto written = std::to_chars(shortest, shortest + sizeof(shortest), single);
    std::from_chars(shortest, written.ptr, *out);
    return Outcome::kOk;
  }
  if (read_integer(oid, bytes, &integer)) {
    *out = static_cast<double>(integer);
    return Outcome::kOk;
  }
  if (oid == pg_type::kNumeric) {
    if (!numeric_text(bytes, text, detail)) return Outcome::kCorrupt;
    if (parse_text(*text, out)) return Outcome::kOk;
    *detail = found_text(*text);
    return Outcome::kViolation;
  }
  *detail = fmt::format("a {} value of {} bytes", pg_type_name(oid), bytes.size());
  return Outcome::kCorrupt;
}

// Reads an integer or numeric column as an integer of `Integer`'s range.
template <typename Integer>
Outcome read_bounded_integer(uint32_t oid, std::string_view bytes, int64_t* out, std::string* text, std::string* detail) {
  int64_t integer = 0;
  if (read_integer(oid, bytes, &integer)) {
    if (integer >= std::numeric_limits<Integer>::min() && integer <= std::numeric_limits<Integer>::max()) {
      *out = integer;
      return Outcome::kOk;
    }
    *detail = found_text(std::to_string(integer));
    return Outcome::kViolation;
  }
  if (oid == pg_type::kNumeric) {
    if (!numeric_text(bytes, text, detail)) return Outcome::kCorrupt;
    Integer parsed = 0;
    if (parse_text(*text, &parsed)) {
      *out = parsed;
      return Outcome::kOk;
    }
    *detail = found_text(*text);
    return Outcome::kViolation;
  }
  *detail = fmt::format("a {} value of {} bytes", pg_type_name(oid), bytes.size());
  return Outcome::kCorrupt;
}

// Converts PostgreSQL timestamp microseconds to epoch milliseconds.
int64_t timestamp_ms(int64_t micros) {
  int64_t ms = micros / 1000;
  const int64_t rest = micros % 1000;
  if (rest >= 500) ++ms;
  if (rest <= -500) --ms;
  return ms + kPostgresEpochMs;
}

bool is_infinite_timestamp(int64_t micros) {
  return micros == std::numeric_limits<int64_t>::max() || micros == std::numeric_limits<int64_t>::min();
}
bool is_infinite_date(int32_t days) {
  return days == std::numeric_limits<int32_t>::max() || days == std::numeric_limits<int32_t>::min();
}

// Reads a timestamptz, timestamp or date column as epoch milliseconds,
// rounding microseconds half away from zero as (extract(epoch from value) *
// 1000)::int8 does. Infinite values break the schema.
Outcome read_date(uint32_t oid, std::string_view bytes, int64_t* out, std::string* detail) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if ((oid == pg_type::kTimestamptz || oid == pg_type::kTimestamp) && bytes.size() == 8) {
    const int64_t micros = read_i64(p);
    if (is_infinite_timestamp(micros)) {
      *detail = found_text(micros > 0 ? "infinity" : "-infinity");
      return Outcome::kViolation;
    }
    *out = timestamp_ms(micros);
    return Outcome::kOk;
  }
  if (oid == pg_type::kDate && bytes.size() == 4) {
    const int32_t days = read_i32(p);
    if (is_infinite_date(days)) {
      *detail = found_text(days > 0 ? "infinity" : "-infinity");
      return Outcome::kViolation;
    }
    *out = (days + kPostgresEpochDays) * kDayMs;
    return Outcome::kOk;
  }
  *detail = fmt::format("a {} value of {} bytes", pg_type_name(oid), bytes.size());
  return Outcome::kCorrupt;
}

// The value of each byte as a hex digit (either case), or -1.
constexpr std::array<int8_t, 256> kHexDigits = [] {
  std::array<int8_t, 256> digits{};
  digits.fill(-1);
  for (int i = 0; i < 10; ++i) digits['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    digits['a' + i] = static_cast<int8_t>(10 + i);
    digits['A' + i] = static_cast<int8_t>(10 + i);
  }
  return digits;
}();

// Writes the 12 bytes of an ObjectId's 24 hex digits. Every digit is read
// before the one check at the end: a non-digit's -1 turns `digits` negative.
bool parse_object_id(std::string_view text, char* bytes) {
  if (text.size() != 24) return false;
  int digits = 0;
  for (size_t i = 0; i < 12; ++i) {
    const int high = kHexDigits[static_cast<unsigned char>(text[2 * i])];
    const int low = kHexDigits[static_cast<unsigned char>(text[2 * i + 1])];
    digits |= high | low;
    bytes[i] = static_cast<char>(static_cast<unsigned>(high) << 4 | static_cast<unsigned>(low));
  }
  return digits >= 0;
}

// Sets the high bit of each byte of `word` that lies in [low, high], for
// words whose bytes are all below 0x80, so no sum carries into the next byte.
uint64_t bytes_in_range(uint64_t word, uint8_t low, uint8_t high) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t at_least_low = word + kOnes * (0x80 - low);
  const uint64_t above_high = word + kOnes * (0x7f - high);
  return at_least_low & ~above_high;
}

// Checks that `text` is 24 hex digits (either case) without decoding them,
// eight bytes at a time, for an ObjectId that is only validated.
bool is_object_id(std::string_view text) {
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  constexpr uint64_t kCaseBits = 0x2020202020202020ull;
  if (text.size() != 24) return false;
  for (size_t at = 0; at < 24; at += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + at, sizeof(word));
    if ((word & kHighBits) != 0) return false;
    const uint64_t digits = bytes_in_range(word, '0', '9') | bytes_in_range(word | kCaseBits, 'a', 'f');
    if ((digits & kHighBits) != kHighBits) return false;
  }
  return true;
}

// Checks UTF-8 without NUL, as bson_utf8_validate does, with a fast path
// for ASCII, which most schema strings are: eight bytes at a time, a word
// passes when no byte has its high bit set and none is zero. A word that
// fails (non-ASCII or NUL) sends the whole text to the full check.
bool is_utf8(std::string_view text) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  const char* p = text.data();
  size_t left = text.size();
  for (; left >= 8; p += 8, left -= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    // A zero byte borrows in word - kOnes and sets its high bit there.
    if (((word | (word - kOnes)) & kHighBits) != 0) {
      return bson_utf8_validate(text.data(), text.size(), /*allow_null=*/false);
    }
  }
  for (; left > 0; ++p, --left) {
    const auto byte = static_cast<unsigned char>(*p);
    if (byte == 0 || byte >= 0x80) return bson_utf8_validate(text.data(), text.size(), /*allow_null=*/false);
  }
  return true;
}

void uuid_text(std::string_view bytes, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->clear();
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out->push_back('-');
    const auto byte = static_cast<unsigned char>(bytes[i]);
    out->push_back(kHex[byte >> 4]);
    out->push_back(kHex[byte & 15]);
  }
}

// Decodes the non-NULL scalar `bytes` of a column of type `oid` as `field`.
// `raw` (16 bytes) and `text` are storage the value's bytes may point into.
// On kViolation `detail` is the found value for the report, on kCorrupt
// what is malformed.
Outcome decode_scalar(const FieldSchema& field, uint32_t oid, std::string_view bytes, ScalarView* value, char* raw,
                      std::string* text, std::string* detail) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  switch (field.type) {
    case FieldType::kObjectId:
      if (!parse_object_id(bytes, raw)) {
        *detail = found_text(bytes);
        return Outcome::kViolation;
      }
      value->kind = ValueKind::kObjectId;
      value->bytes = std::string_view(raw, 12);
      return Outcome::kOk;
    case FieldType::kString: {
      std::string_view string = bytes;
      if (oid == pg_type::kUuid) {
        if (bytes.size() != 16) {
          *detail = fmt::format("a uuid of {} bytes", bytes.size());
          return Outcome::kCorrupt;
        }
        uuid_text(bytes, text);
        string = *text;
      } else if (!is_utf8(bytes)) {
        *detail = found_text(bytes);
        return Outcome::kViolation;
      }
      if (!is_enum_value(field, string)) {
        *detail = found_text(string);
        return Outcome::kViolation;
      }
      value->kind = ValueKind::kString;
      value->bytes = string;
      return Outcome::kOk;
    }
    case FieldType::kDate: {
      const Outcome outcome = read_date(oid, bytes, &value->integer, detail);
      if (outcome == Outcome::kOk) value->kind = ValueKind::kDate;
      return outcome;
    }
    case FieldType::kDecimal128: {
      int64_t integer = 0;
      if (read_integer(oid, bytes, &integer)) {
        *text = std::to_string(integer);
      } else if (oid != pg_type::kNumeric) {
        *detail = fmt::format("a {} value of {} bytes", pg_type_name(oid), bytes.size());
        return Outcome::kCorrupt;
      } else if (!numeric_text(bytes, text, detail)) {
        return Outcome::kCorrupt;
      }
      // libbson rounds nothing: a numeric with more than 34 significant
      // digits fails here, so it is reported instead of silently rounded.
      bson_decimal128_t decimal;
      if (!bson_decimal128_from_string_w_len(text->c_str(), static_cast<int>(text->size()), &decimal)) {
        *detail = found_text(*text);
        return Outcome::kViolation;
      }
      std::memcpy(raw, &decimal.low, 8);
      std::memcpy(raw + 8, &decimal.high, 8);
      value->kind = ValueKind::kDecimal128;
      value->bytes = std::string_view(raw, 16);
      return Outcome::kOk;
    }
    case FieldType::kInt32: {
      const Outcome outcome = read_bounded_integer<int32_t>(oid, bytes, &value->integer, text, detail);
      if (outcome == Outcome::kOk) value->kind = ValueKind::kInt32;
      return outcome;
    }
    case FieldType::kBigInt: {
      const Outcome outcome = read_bounded_integer<int64_t>(oid, bytes, &value->integer, text, detail);
      if (outcome == Outcome::kOk) value->kind = ValueKind::kInt64;
      return outcome;
    }
    case FieldType::kDouble:
    case FieldType::kNumber: {
      double number = 0;
      const Outcome outcome = read_double(oid, bytes, &number, text, detail);
      if (outcome != Outcome::kOk) return outcome;
      if (field.type == FieldType::kNumber) {
        set_number(number, value);
      } else {
        value->kind = ValueKind::kDouble;
        value->number = std::isnan(number) ? std::numeric_limits<double>::quiet_NaN() : number;
      }
      return Outcome::kOk;
    }
    case FieldType::kBoolean:
      if (bytes.size() != 1 || p[0] > 1) {
        *detail = fmt::format("a bool of {} bytes", bytes.size());
        if (bytes.size() == 1) *detail = fmt::format("a bool byte {}", p[0]);
        return Outcome::kCorrupt;
      }
      value->kind = ValueKind::kBool;
      value->boolean = p[0] == 1;
      return Outcome::kOk;
    case FieldType::kArray:
    case FieldType::kObject:
    case FieldType::kMap: break;
  }
  *detail = fmt::format("a {} value for a {} field", pg_type_name(oid), field_type_name(field.type));
  return Outcome::kCorrupt;
}

void to_value(const ScalarView& scalar, Value* out) {
  out->kind = scalar.kind;
  out->boolean = scalar.boolean;
  out->integer = scalar.integer;
  out->number = scalar.number;
  out->bytes.assign(scalar.bytes);
}

// Decodes an array in the binary array format: dimension count, a has-NULL
// flag, the element type, per dimension its size and lower bound, then each
// element as a length (-1 for NULL) and its bytes.
Outcome decode_array(const FieldSchema& field, uint32_t element_oid, std::string_view bytes, const std::string& path,
                     Value* out, std::vector<Violation>* violations, std::string* problem) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < 12) {
    *problem = fmt::format("an array of {} bytes, expected at least 12", bytes.size());
    return Outcome::kCorrupt;
  }
  const int32_t dimensions = read_i32(p);
  const int32_t flags = read_i32(p + 4);
  const uint32_t oid = read_u32(p + 8);
  if (dimensions < 0 || dimensions > kMaxArrayDimensions || (flags != 0 && flags != 1) || oid != element_oid) {
    *problem = fmt::format("an array header with {} dimensions, flags {}, element type {}", dimensions, flags, oid);
    return Outcome::kCorrupt;
  }
  if (bytes.size() < 12 + 8 * static_cast<size_t>(dimensions)) {
    *problem = fmt::format("an array of {} bytes with {} dimensions", bytes.size(), dimensions);
    return Outcome::kCorrupt;
  }
  const auto report = [&](std::string found) {
    violations->push_back(Violation{"", "", path, field.expected(), std::move(found)});
    *out = Value{};
    return Outcome::kViolation;
  };
  out->kind = ValueKind::kArray;
  if (dimensions == 0) return Outcome::kOk;
  if (dimensions > 1) return report(fmt::format("an array of {} dimensions", dimensions));
  const int32_t count = read_i32(p + 12);
  const int32_t lower_bound = read_i32(p + 16);
  size_t at = 20;
  // Every element takes at least its 4-byte length.
  if (count < 0 || static_cast<size_t>(count) > (bytes.size() - at) / 4) {
    *problem = fmt::format("an array of {} bytes claiming {} elements", bytes.size(), count);
    return Outcome::kCorrupt;
  }
  if (lower_bound != 1) return report(fmt::format("an array with lower bound {}", lower_bound));

  const FieldSchema& element = field.children.front();
  bool valid = true;
  ScalarView scalar;
  char raw[16];
  std::string text;
  std::string detail;
  out->items.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    if (bytes.size() - at < 4) {
      *problem = fmt::format("an array that ends before element {}", i);
      return Outcome::kCorrupt;
    }
    const int32_t length = read_i32(p + at);
    at += 4;
    Value& item = out->items.emplace_back();
    if (length == -1) {
      item.kind = ValueKind::kNull;
      continue;
    }
    if (length < 0 || static_cast<size_t>(length) > bytes.size() - at) {
      *problem = fmt::format("array element {} of length {} with {} bytes left", i, length, bytes.size() - at);
      return Outcome::kCorrupt;
    }
    scalar = ScalarView{};
    const Outcome outcome = decode_scalar(element, element_oid, bytes.substr(at, static_cast<size_t>(length)), &scalar,
                                          raw, &text, &detail);
    at += static_cast<size_t>(length);
    if (outcome == Outcome::kCorrupt) {
      *problem = fmt::format("array element {}: {}", i, detail);
      return Outcome::kCorrupt;
    }
    if (outcome == Outcome::kViolation) {
      violations->push_back(Violation{"", "", fmt::format("{}.{}", path, i), element.expected(), detail});
      valid = false;
      continue;
    }
    to_value(scalar, &item);
  }
  if (at != bytes.size()) {
    *problem = fmt::format("an array with {} bytes after its last element", bytes.size() - at);
    return Outcome::kCorrupt;
  }
  return valid ? Outcome::kOk : Outcome::kViolation;
}

// Decodes a json or jsonb map, whose JSON text contains the map as canonical
// Extended JSON.
Outcome decode_map(const FieldSchema& field, uint32_t oid, std::string_view bytes, const std::string& path, Value* out,
                   std::vector<Violation>* violations, std::string* problem) {
  std::string_view json = bytes;
  if (oid == pg_type::kJsonb) {
    if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kJsonbVersion) {
      *problem = bytes.empty() ? std::string("an empty jsonb value")
                               : fmt::format("a jsonb value of format version {}", static_cast<uint8_t>(bytes[0]));
      return Outcome::kCorrupt;
    }
    json.remove_prefix(1);
  }
  bson_error_t error;
  bson_t* document =
      bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()), &error);
  if (document == nullptr) {
    violations->push_back(Violation{"", "", path, field.expected(), found_text(json)});
    *out = Value{};
    return Outcome::kViolation;
  }
  const bool valid = decode_bson_map(field, document, path, out, violations);
  bson_destroy(document);
  return valid ? Outcome::kOk : Outcome::kViolation;
}

void collect_leaves(const std::vector<FieldSchema>& fields, const std::string& prefix,
                    std::vector<std::pair<const FieldSchema*, std::string>>* out) {
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    if (field.type == FieldType::kObject) {
      collect_leaves(field.children, path, out);
    } else {
      out->emplace_back(&field, path);
    }
  }
}

Error column_type_error(std::string message, std::string bound, std::string value) {
  Error error;
  error.code = Code::kFailedPrecondition;
  error.reason = "COLUMN_TYPE";
  error.message = std::move(message);
  error.bound = std::move(bound);
  error.value = std::move(value);
  return error;
}

}  // namespace

PgCopyDecoder::Plan PgCopyDecoder::plan_for(FieldType type, uint32_t oid) {
  switch (type) {
    case FieldType::kObjectId: return Plan::kObjectId;
    case FieldType::kString: return oid == pg_type::kUuid ? Plan::kGeneral : Plan::kText;
    case FieldType::kDate: return oid == pg_type::kDate ? Plan::kDate : Plan::kTimestamp;
    case FieldType::kInt32:
    case FieldType::kBigInt:
      if (oid == pg_type::kInt2) return Plan::kInt2;
      if (oid == pg_type::kInt4) return Plan::kInt4;
      if (oid == pg_type::kInt8) return Plan::kInt8;
      return Plan::kGeneral;
    case FieldType::kDouble:
    case FieldType::kNumber: return oid == pg_type::kFloat8 ? Plan::kFloat8 : Plan::kGeneral;
    case FieldType::kBoolean: return Plan::kBool;
    default: return Plan::kGeneral;
  }
}

std::string pg_type_name(uint32_t oid) {
  for (const TypeInfo& type : kTypes) {
    if (type.oid == oid) return type.name;
  }
  return fmt::format("type oid {}", oid);
}

Result<PgCopyDecoder> PgCopyDecoder::create(const ModelSchema& model, const std::vector<ColumnType>& columns,
                                            RecordSink& sink) {
  PgCopyDecoder decoder(model, sink);
  std::vector<std::pair<const FieldSchema*, std::string>> leaves;
  collect_leaves(model.fields, "", &leaves);
  if (columns.size() != leaves.size()) {
    return column_type_error(fmt::format("the PostgreSQL query returned {} columns for the {} columns of model {}",
                                         columns.size(), leaves.size(), model.name),
                             std::to_string(leaves.size()), std::to_string(columns.size()));
  }
  for (size_t i = 0; i < leaves.size(); ++i) {
    Leaf leaf;
    leaf.field = leaves[i].first;
    leaf.path = leaves[i].second;
    leaf.column = columns[i].name;
    leaf.oid = columns[i].oid;
    bool readable;
    std::string accepted;
    if (leaf.field->type == FieldType::kArray) {
      leaf.element_oid = array_element(leaf.oid);
      readable = leaf.element_oid != 0 && reads_type(leaf.field->children.front().type, leaf.element_oid);
      accepted = readable_type_names(leaf.field->children.front().type, "[]");
      decoder.records_only_ = true;
    } else {
      readable = reads_type(leaf.field->type, leaf.oid);
      accepted = readable_type_names(leaf.field->type, "");
      decoder.records_only_ |= leaf.field->type == FieldType::kMap;
    }
    if (!readable) {
      return column_type_error(fmt::format("PostgreSQL column {} is {}, but field {} of model {} is a {} read from {}",
                                           quote_value(leaf.column), pg_type_name(leaf.oid), leaf.path, model.name,
                                           field_type_name(leaf.field->type), accepted),
                               accepted, pg_type_name(leaf.oid));
    }
    leaf.plan = plan_for(leaf.field->type, leaf.oid);
    decoder.leaves_.push_back(std::move(leaf));
  }
  for (const FieldSchema& field : model.fields) decoder.flat_ &= field.type != FieldType::kObject;
  for (size_t i = 0; i < decoder.leaves_.size(); ++i) {
    if (decoder.leaves_[i].field->required) decoder.required_leaves_.push_back(i);
  }
  decoder.spans_.resize(decoder.leaves_.size());
  decoder.slots_.resize(decoder.leaves_.size());

  decoder.batch_ = sink.column_batch();
  if (decoder.batch_ == nullptr) return decoder;
  for (const std::string& path : sink.column_paths()) {
    const auto leaf = std::find_if(decoder.leaves_.begin(), decoder.leaves_.end(),
                                   [&](const Leaf& candidate) { return candidate.path == path; });
    if (leaf == decoder.leaves_.end() || leaf->field->type == FieldType::kArray ||
        leaf->field->type == FieldType::kMap) {
      return Error::invalid("aggregates", "UNKNOWN_FIELD",
                            fmt::format("aggregates: {} is not a scalar field of model {}", quote_value(path), model.name),
                            "a scalar field of model " + model.name, path);
    }
    leaf->in_batch = true;
    decoder.column_leaves_.push_back(static_cast<size_t>(leaf - decoder.leaves_.begin()));
  }
  return decoder;
}

Error PgCopyDecoder::corrupt(uint64_t row, size_t leaf, const std::string& problem) const {
  Error error = Error::internal(
      fmt::format("malformed PostgreSQL COPY data in row {}, column {} (field {}): {}", row,
                  quote_value(leaves_[leaf].column), leaves_[leaf].path, problem));
  error.reason = "CORRUPT_INPUT";
  return error;
}

namespace {

Error corrupt_stream(const std::string& problem) {
  Error error = Error::internal(fmt::format("malformed PostgreSQL COPY data: {}", problem));
  error.reason = "CORRUPT_INPUT";
  return error;
}

}  // namespace

Status PgCopyDecoder::feed(const uint8_t* data, size_t size) {
  if (push(data, size)) return Status::Ok();
  return *failure_;
}

Status PgCopyDecoder::status() const {
  if (failure_) return *failure_;
  return Status::Ok();
}

bool PgCopyDecoder::push(const uint8_t* data, size_t size) {
  if (failure_) return false;
  size_t used = 0;
  bool consumed;
  if (pending_.empty()) {
    consumed = consume(data, size, &used);
    if (consumed && used < size) pending_.assign(reinterpret_cast<const char*>(data) + used, size - used);
  } else {
    pending_.append(reinterpret_cast<const char*>(data), size);
    consumed = consume(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size(), &used);
    if (consumed) pending_.erase(0, used);
  }
  return consumed;
}

bool PgCopyDecoder::fail(Error error) {
  failure_ = std::move(error);
  return false;
}

Status PgCopyDecoder::finish() const {
  if (failure_) return *failure_;
  if (!header_read_) return corrupt_stream(fmt::format("the stream ended inside its header ({} bytes)", pending_.size()));
  if (trailer_read_) return Status::Ok();
  if (pending_.empty()) return corrupt_stream(fmt::format("the stream ended after row {} without its trailer", rows_));
  if (short_field_ == 0) {
    return corrupt_stream(fmt::format("the stream ended inside the field count of row {}", rows_ + 1));
  }
  return corrupt(rows_ + 1, short_field_ - 1, "the stream ended inside this field");
}

bool PgCopyDecoder::consume(const uint8_t* data, size_t size, size_t* used) {
  size_t at = 0;
  *used = 0;
  if (!header_read_) {
    if (size < kHeaderSize) return true;
    if (std::memcmp(data, kSignature, kSignatureSize) != 0) return fail(corrupt_stream("the binary COPY signature is missing"));
    const uint32_t flags = read_u32(data + kSignatureSize);
    if ((flags & kFlagWithOids) != 0 || (flags & kCriticalFlags) != 0) {
      return fail(corrupt_stream(fmt::format("unsupported header flags 0x{:08x}", flags)));
    }
    const int32_t extension = read_i32(data + kSignatureSize + 4);
    if (extension < 0 || extension > kMaxHeaderExtension) {
      return fail(corrupt_stream(
          fmt::format("a header extension of {} bytes, expected 0..{}", extension, kMaxHeaderExtension)));
    }
    if (size - kHeaderSize < static_cast<size_t>(extension)) return true;
    at = kHeaderSize + static_cast<size_t>(extension);
    header_read_ = true;
  }
  while (at < size) {
    if (trailer_read_) return fail(corrupt_stream(fmt::format("{} bytes after the trailer", size - at)));
    size_t length = 0;
    const Step step = frame_tuple(data + at, size - at, &length);
    if (step == Step::kFailed) return false;
    if (step == Step::kNeedMore) break;
    at += length;
    *used = at;
    if (step == Step::kTrailer) {
      trailer_read_ = true;
      continue;
    }
    ++rows_;
    if (!decode_tuple()) return false;
  }
  *used = at;
  return true;
}

PgCopyDecoder::Step PgCopyDecoder::frame_tuple(const uint8_t* data, size_t size, size_t* used) {
  const uint64_t row = rows_ + 1;
  if (size < 2) {
    short_field_ = 0;
    return Step::kNeedMore;
  }
  const int16_t count = read_i16(data);
  if (count == -1) {
    *used = 2;
    return Step::kTrailer;
  }
  if (count < 0 || static_cast<size_t>(count) != leaves_.size()) {
    fail(corrupt_stream(fmt::format("row {} has {} fields, the query selected {} columns", row, count, leaves_.size())));
    return Step::kFailed;
  }
  size_t at = 2;
  Span* const spans = spans_.data();
  const size_t fields = leaves_.size();
  for (size_t i = 0; i < fields; ++i) {
    if (size - at < 4) {
      short_field_ = i + 1;
      return Step::kNeedMore;
    }
    const int32_t length = read_i32(data + at);
    at += 4;
    if (length < -1) {
      fail(corrupt(row, i, fmt::format("a field length of {}", length)));
      return Step::kFailed;
    }
    spans[i] = Span{data + at, length};
    if (length > 0) {
      if (size - at < static_cast<size_t>(length)) {
        short_field_ = i + 1;
        return Step::kNeedMore;
      }
      at += static_cast<size_t>(length);
    }
  }
  *used = at;
  return Step::kTuple;
}

bool PgCopyDecoder::decode_tuple() {
  violations_.clear();
  if (batch_ != nullptr && !records_only_) {
    // A row the plan cannot take (a value that breaks the schema, malformed
    // bytes or a missing required field) is decoded again from the start by
    // the full decoder, which reports it.
    bool valid = decode_planned();
    if (!valid && !decode_into_columns(&valid)) return false;
    if (valid) {
      append_row();
      Status accepted = sink_.accept_row();
      return accepted.ok() || fail(accepted.error());
    }
  }

  // A row that breaks the schema is decoded again into a record, so the
  // violations are the same whichever way the sink takes rows.
  Value record;
  bool valid = true;
  Status status = decode_record(&record, &valid);
  if (status.ok()) status = valid ? sink_.accept(record) : sink_.reject(violations_);
  return status.ok() || fail(status.error());
}

bool PgCopyDecoder::decode_planned() {
  // Local copies: the stores below could alias the vectors' members, which
  // would make the compiler reload them for every field.
  const Leaf* const leaves = leaves_.data();
  const Span* const spans = spans_.data();
  Slot* const slots = slots_.data();
  const size_t fields = leaves_.size();
  for (size_t i = 0; i < fields; ++i) {
    const Leaf& leaf = leaves[i];
    Slot& slot = slots[i];
    // Each case sets the kind and the members append_scalar reads for it.
    ScalarView& value = slot.value;
    const Span& span = spans[i];
    if (span.length < 0) {
      value.kind = ValueKind::kMissing;
      continue;
    }
    const uint8_t* p = span.data;
    const auto size = static_cast<size_t>(span.length);
    const std::string_view bytes(reinterpret_cast<const char*>(p), size);
    const FieldType type = leaf.field->type;
    switch (leaf.plan) {
      case Plan::kObjectId:
        // Only a column needs the ObjectId's bytes.
        if (!(leaf.in_batch ? parse_object_id(bytes, slot.raw) : is_object_id(bytes))) return false;
        value.kind = ValueKind::kObjectId;
        value.bytes = std::string_view(slot.raw, 12);
        break;
      case Plan::kText:
        if (!is_utf8(bytes) || !is_enum_value(*leaf.field, bytes)) return false;
        value.kind = ValueKind::kString;
        value.bytes = bytes;
        break;
      case Plan::kTimestamp: {
        if (size != 8) return false;
        const int64_t micros = read_i64(p);
        if (is_infinite_timestamp(micros)) return false;
        value.kind = ValueKind::kDate;
        value.integer = timestamp_ms(micros);
        break;
      }
      case Plan::kDate: {
        if (size != 4) return false;
        const int32_t days = read_i32(p);
        if (is_infinite_date(days)) return false;
        value.kind = ValueKind::kDate;
        value.integer = (days + kPostgresEpochDays) * kDayMs;
        break;
      }
      case Plan::kInt2:
      case Plan::kInt4:
      case Plan::kInt8: {
        int64_t integer;
        if (leaf.plan == Plan::kInt2 && size == 2) {
          integer = read_i16(p);
        } else if (leaf.plan == Plan::kInt4 && size == 4) {
          integer = read_i32(p);
        } else if (leaf.plan == Plan::kInt8 && size == 8) {
          integer = read_i64(p);
        } else {
          return false;
        }
        if (type == FieldType::kInt32) {
          if (integer < INT32_MIN || integer > INT32_MAX) return false;
          value.kind = ValueKind::kInt32;
        } else {
          value.kind = ValueKind::kInt64;
        }
        value.integer = integer;
        break;
      }
      case Plan::kFloat8: {
        if (size != 8) return false;
        const uint64_t bits = static_cast<uint64_t>(read_i64(p));
        double number;
        std::memcpy(&number, &bits, sizeof(number));
        if (type == FieldType::kNumber) {
          set_number(number, &value);
        } else {
          value.kind = ValueKind::kDouble;
          value.number = std::isnan(number) ? std::numeric_limits<double>::quiet_NaN() : number;
        }
        break;
      }
      case Plan::kBool:
        if (size != 1 || p[0] > 1) return false;
        value.kind = ValueKind::kBool;
        value.boolean = p[0] == 1;
        break;
      case Plan::kGeneral:
        value = ScalarView{};
        if (decode_scalar(*leaf.field, leaf.oid, bytes, &value, slot.raw, &slot.text, &detail_) != Outcome::kOk) {
          return false;
        }
        break;
    }
  }
  return has_required();
}

void PgCopyDecoder::append_row() {
  const size_t* const column_leaves = column_leaves_.data();
  const Slot* const slots = slots_.data();
  Column* const columns = batch_->columns.data();
  const size_t count = column_leaves_.size();
  for (size_t i = 0; i < count; ++i) {
    const ScalarView& value = slots[column_leaves[i]].value;
    Column& column = columns[i];
    // The common pairs are appended here; append_scalar converts the rest.
    switch (column.kind) {
      case Column::Kind::kText:
        if (value.kind != ValueKind::kString) break;
        column.present.push_back(1);
        column.append_text(value.bytes);
        continue;
      case Column::Kind::kInteger:
        if (value.kind != ValueKind::kDate && value.kind != ValueKind::kInt32 && value.kind != ValueKind::kInt64) break;
        column.present.push_back(1);
        column.integers.push_back(value.integer);
        continue;
      case Column::Kind::kNumber:
        if (value.kind != ValueKind::kDouble) break;
        column.present.push_back(1);
        column.numbers.push_back(value.number);
        continue;
    }
    append_scalar(value, column);
  }
}

bool PgCopyDecoder::decode_into_columns(bool* valid) {
  for (size_t i = 0; i < leaves_.size(); ++i) {
    Slot& slot = slots_[i];
    slot.value = ScalarView{};
    const Span& span = spans_[i];
    if (span.length < 0) continue;
    const std::string_view bytes(reinterpret_cast<const char*>(span.data), static_cast<size_t>(span.length));
    const Outcome outcome =
        decode_scalar(*leaves_[i].field, leaves_[i].oid, bytes, &slot.value, slot.raw, &slot.text, &detail_);
    if (outcome == Outcome::kCorrupt) return fail(corrupt(rows_, i, detail_));
    if (outcome == Outcome::kViolation) {
      *valid = false;
      return true;
    }
  }
  *valid = has_required();
  return true;
}

bool PgCopyDecoder::has_required() const {
  if (flat_) {
    for (const size_t leaf : required_leaves_) {
      if (spans_[leaf].length < 0) return false;
    }
    return true;
  }
  size_t next_leaf = 0;
  bool any_column = false;
  return check_required(model_.fields, &next_leaf, &any_column);
}

bool PgCopyDecoder::check_required(const std::vector<FieldSchema>& fields, size_t* next_leaf, bool* any_column) const {
  bool valid = true;
  for (const FieldSchema& field : fields) {
    bool present;
    if (field.type == FieldType::kObject) {
      present = false;
      const bool children_valid = check_required(field.children, next_leaf, &present);
      if (present) valid &= children_valid;
    } else {
      present = spans_[(*next_leaf)++].length >= 0;
    }
    if (field.required && !present) valid = false;
    *any_column |= present;
  }
  return valid;
}

Status PgCopyDecoder::decode_record(Value* record, bool* valid) {
  size_t next_leaf = 0;
  bool any_column = false;
  if (Status status = build_fields(model_.fields, "", &next_leaf, record, &any_column, valid); !status.ok()) {
    return status;
  }
  if (*valid) return Status::Ok();
  const std::string id = record_id_text(*record);
  for (Violation& violation : violations_) {
    violation.collection = model_.table;
    violation.id = id;
  }
  return Status::Ok();
}

Status PgCopyDecoder::build_fields(const std::vector<FieldSchema>& fields, const std::string& prefix,
                                   size_t* next_leaf, Value* out, bool* any_column, bool* valid) {
  out->kind = ValueKind::kDocument;
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    out->keys.push_back(field.name);
    Value& item = out->items.emplace_back();
    bool present = false;
    bool reported = false;
    if (field.type == FieldType::kObject) {
      // An absent Object (every column NULL) has no required children to miss.
      const size_t first_violation = violations_.size();
      bool children_valid = true;
      Status status = build_fields(field.children, path, next_leaf, &item, &present, &children_valid);
      if (!status.ok()) return status;
      if (present) {
        *valid &= children_valid;
      } else {
        violations_.resize(first_violation);
        item = Value{};
      }
    } else {
      const size_t leaf = (*next_leaf)++;
      present = spans_[leaf].length >= 0;
      if (present) {
        bool leaf_valid = true;
        if (Status status = decode_leaf(leaf, &item, &leaf_valid); !status.ok()) return status;
        reported = !leaf_valid;
        *valid &= leaf_valid;
      }
    }
    if (field.required && !reported && !item.present()) {
      violations_.push_back(Violation{"", "", path, field.expected(), "missing"});
      *valid = false;
    }
    *any_column |= present;
  }
  return Status::Ok();
}

Status PgCopyDecoder::decode_leaf(size_t leaf, Value* out, bool* valid) {
  const Leaf& column = leaves_[leaf];
  const Span& span = spans_[leaf];
  const std::string_view bytes(reinterpret_cast<const char*>(span.data), static_cast<size_t>(span.length));
  std::string detail;
  Outcome outcome;
  if (column.field->type == FieldType::kArray) {
    outcome = decode_array(*column.field, column.element_oid, bytes, column.path, out, &violations_, &detail);
  } else if (column.field->type == FieldType::kMap) {
    outcome = decode_map(*column.field, column.oid, bytes, column.path, out, &violations_, &detail);
  } else {
    Slot& slot = slots_[leaf];
    slot.value = ScalarView{};
    outcome = decode_scalar(*column.field, column.oid, bytes, &slot.value, slot.raw, &slot.text, &detail);
    if (outcome == Outcome::kOk) to_value(slot.value, out);
    if (outcome == Outcome::kViolation) {
      violations_.push_back(Violation{"", "", column.path, column.field->expected(), detail});
      *out = Value{};
    }
  }
  if (outcome == Outcome::kCorrupt) return corrupt(rows_, leaf, detail);
  *valid = outcome == Outcome::kOk;
  return Status::Ok();
}

}  // namespace heavylift
