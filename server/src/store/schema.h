// The record schema heavylift loads: the descriptor schema/gen/schema.json
// that schema/generate.mjs writes from schema/models/*.json. It states, per
// model and field, the BSON types a value may have and the PostgreSQL column
// that holds it.
//
// Thread-safety: a loaded Schema is immutable and may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

// The schema's field types, named as in schema/models/*.json.
enum class FieldType : uint8_t {
  kObjectId,
  kString,
  kDate,
  kDecimal128,
  kInt32,
  kBigInt,   // BSON int64
  kDouble,
  kNumber,   // Mongoose Number: BSON int32 or double
  kBoolean,
  kArray,
  kObject,
  kMap,
};

// Returns the schema's name of `type`, for example "Decimal128".
const char* field_type_name(FieldType type);

struct PostgresColumn {
  std::string name;
  std::string type;  // SQL type, for example "double precision" or "text[]"
  bool not_null = false;
};

struct FieldSchema {
  std::string name;
  FieldType type = FieldType::kString;
  // A required field is present and not null; any other may be missing or null.
  bool required = false;
  // Allowed strings of an enum String field; empty when any string is allowed.
  std::vector<std::string> enum_values;
  // Element type of an Array, value type of a Map (one entry), or the fields
  // of a nested Object.
  std::vector<FieldSchema> children;
  // Empty name for an Object, whose children carry their own columns.
  PostgresColumn column;

  const FieldSchema* child(std::string_view child_name) const;
  // Returns what the field allows, for violation reports: "int32 or double",
  // "one of view, click".
  std::string expected() const;
};

struct ModelSchema {
  std::string name;
  std::string collection;
  std::string table;
  bool timestamps = false;
  bool version_key = false;
  // Top-level fields, _id first.
  std::vector<FieldSchema> fields;

  const FieldSchema* field(std::string_view name) const;
  // Resolves a dotted path ("address.city") through nested Objects; returns
  // nullptr when a step is missing or not an Object.
  const FieldSchema* find_path(std::string_view path) const;
  // Returns a copy keeping only _id and the fields on the given dotted paths
  // (an Object keeps only the listed children). Unknown paths fail with
  // INVALID_ARGUMENT naming `request_field`.
  Result<ModelSchema> project(const std::vector<std::string>& paths, const std::string& request_field) const;
};

struct Schema {
  std::vector<ModelSchema> models;

  const ModelSchema* model(std::string_view name) const;
};

// Parses the descriptor JSON. Errors are INVALID_ARGUMENT naming the JSON
// path at fault.
Result<Schema> parse_schema(std::string_view json);

// Reads and parses the descriptor at `path`.
Result<Schema> load_schema_file(const std::string& path);

}  // namespace heavylift
