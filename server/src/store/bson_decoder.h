// Typed decoding of BSON documents against a model of the shared schema.
// Each field is checked against the BSON types the schema allows (a Mongoose
// Number may be int32 or double, a BigInt only int64, and so on); a value of
// another type is a violation, never converted. Fields the schema does not
// name are skipped, as Mongoose's strict mode ignores them.
//
// Thread-safety: a BsonDecoder is immutable after construction; decode() may
// be called from many threads at once.
#pragma once

#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/record.h"
#include "store/schema.h"

namespace heavylift {

// One field of one record that breaks the schema.
struct Violation {
  std::string collection;
  std::string id;        // the record's _id as text, empty when unknown
  std::string field;     // dotted path, for example "address.city" or "tags.2"
  std::string expected;  // what the schema allows
  std::string found;     // what the record holds, for example "string \"12\""
};

// Returns whether `decimal` is in canonical form. The BSON Decimal128
// encoding (IEEE 754-2008 BID) can hold coefficients above 10^34 - 1, which
// the standard reads as zero and libbson prints as out-of-range digits, so
// they could not round-trip and are reported instead.
bool is_canonical_decimal128(const bson_decimal128_t& decimal);

// Decodes one value at `iter` as `field`. Appends violations (without
// collection and id) under `path` and returns false when the value breaks
// the schema.
bool decode_bson_value(const FieldSchema& field, const bson_iter_t& iter, const std::string& path, Value* out,
                       std::vector<Violation>* violations);

// Decodes the document at `document` as a Map of `field`'s value type.
bool decode_bson_map(const FieldSchema& field, const bson_t* document, const std::string& path, Value* out,
                     std::vector<Violation>* violations);

class BsonDecoder {
 public:
  // `model` must outlive the decoder. Only the model's fields are decoded,
  // so a projected model (ModelSchema::project) decodes less.
  explicit BsonDecoder(const ModelSchema& model) : model_(model) {}

  // Decodes the BSON document in `data[0, length)` into `record` (a
  // document value). Returns true when every field matches the schema. On
  // false, appends one Violation per field at fault with collection and _id
  // filled in; a corrupt document yields one violation on field "".
  bool decode(const uint8_t* data, size_t length, Value* record, std::vector<Violation>* violations) const;

 private:
  const ModelSchema& model_;
};

}  // namespace heavylift
