// A decoded record: a tree of typed values that keeps every BSON type the
// schema allows exactly (ObjectId bytes, Decimal128 bits, int32 vs double,
// -0 and NaN payload-free doubles, millisecond dates), and tells a missing
// field from a null one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace heavylift {

enum class ValueKind : uint8_t {
  kMissing,
  kNull,
  kObjectId,    // bytes: 12 bytes
  kDate,        // integer: epoch milliseconds
  kDecimal128,  // bytes: 16 bytes, low 64 bits then high 64 bits, little-endian
  kInt32,       // integer
  kInt64,       // integer
  kDouble,      // number
  kBool,        // boolean
  kString,      // bytes: UTF-8
  kArray,       // items
  kDocument,    // keys and items, in document order
};

struct Value {
  ValueKind kind = ValueKind::kMissing;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string bytes;
  std::vector<std::string> keys;
  std::vector<Value> items;

  bool present() const { return kind != ValueKind::kMissing && kind != ValueKind::kNull; }
  // Returns the item of a document under `key`, or nullptr.
  const Value* get(std::string_view key) const;
  // Resolves a dotted path through nested documents, or returns nullptr.
  const Value* get_path(std::string_view path) const;
};

// Appends `value` to `out` as canonical Extended JSON (v2). A missing value
// inside a document is left out; a top-level missing value writes null.
void append_canonical_json(const Value& value, std::string* out);
std::string to_canonical_json(const Value& value);

// Returns 24 lowercase hex digits of a 12-byte ObjectId.
std::string object_id_hex(std::string_view bytes);

// Returns a record's _id as text for reports: hex for an ObjectId, the
// canonical JSON otherwise, empty when missing.
std::string record_id_text(const Value& record);

}  // namespace heavylift
