#include "store/bson_decoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace heavylift {
namespace {

const char* bson_type_label(bson_type_t type) {
  switch (type) {
    case BSON_TYPE_DOUBLE: return "double";
    case BSON_TYPE_UTF8: return "string";
    case BSON_TYPE_DOCUMENT: return "document";
    case BSON_TYPE_ARRAY: return "array";
    case BSON_TYPE_BINARY: return "binary";
    case BSON_TYPE_UNDEFINED: return "undefined";
    case BSON_TYPE_OID: return "objectId";
    case BSON_TYPE_BOOL: return "bool";
    case BSON_TYPE_DATE_TIME: return "date";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_REGEX: return "regex";
    case BSON_TYPE_INT32: return "int32";
    case BSON_TYPE_TIMESTAMP: return "timestamp";
    case BSON_TYPE_INT64: return "int64";
    case BSON_TYPE_DECIMAL128: return "decimal128";
    default: return "other BSON type";
  }
}

// Renders the value at `iter` for a violation report: its BSON type and,
// for scalars, the value.
std::string describe_found(const bson_iter_t& iter) {
  const bson_type_t type = bson_iter_type(&iter);
  const char* label = bson_type_label(type);
  switch (type) {
    case BSON_TYPE_UTF8: {
      uint32_t length = 0;
      const char* text = bson_iter_utf8(&iter, &length);
      return fmt::format("{} {}", label, quote_value(std::string_view(text, length)));
    }
    case BSON_TYPE_INT32: return fmt::format("{} {}", label, bson_iter_int32(&iter));
    case BSON_TYPE_INT64: return fmt::format("{} {}", label, bson_iter_int64(&iter));
    case BSON_TYPE_DOUBLE: return fmt::format("{} {}", label, bson_iter_double(&iter));
    case BSON_TYPE_BOOL: return fmt::format("{} {}", label, bson_iter_bool(&iter));
    default: return label;
  }
}

void add_violation(std::vector<Violation>* violations, const std::string& path, std::string expected,
                   std::string found) {
  violations->push_back(Violation{"", "", path, std::move(expected), std::move(found)});
}

std::string child_path(const std::string& parent, std::string_view name) {
  return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

// Decodes the fields of the embedded document or array at `iter`.
bool decode_children(const FieldSchema& field, const bson_iter_t& iter, const std::string& path, Value* out,
                     std::vector<Violation>* violations);

// Decodes `fields` from the document iterator `iter` into the document `out`,
// in the schema's field order.
bool decode_fields(const std::vector<FieldSchema>& fields, bson_iter_t* iter, const std::string& path, Value* out,
                   std::vector<Violation>* violations) {
  out->kind = ValueKind::kDocument;
  out->keys.clear();
  out->items.assign(fields.size(), Value{});
  for (const FieldSchema& field : fields) out->keys.push_back(field.name);

  bool valid = true;
  // Fields already reported for a wrong value are not reported again as missing.
  std::vector<bool> reported(fields.size(), false);
  while (bson_iter_next(iter)) {
    const char* key = bson_iter_key(iter);
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name != key) continue;
      if (!decode_bson_value(fields[i], *iter, child_path(path, key), &out->items[i], violations)) {
        valid = false;
        reported[i] = true;
      }
      break;
    }
  }
  if (iter->err_off != 0) {
    add_violation(violations, path, "a well-formed BSON document", fmt::format("corrupt bytes at offset {}", iter->err_off));
    return false;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].required && !reported[i] && !out->items[i].present()) {
      add_violation(violations, child_path(path, fields[i].name), fields[i].expected(),
                    out->items[i].kind == ValueKind::kNull ? "null" : "missing");
      valid = false;
    }
  }
  return valid;
}

// Decodes the elements at `child` (inside an Array or a Map): each one has
// the element schema, and null elements are kept as Mongoose stores them.
bool decode_elements(const FieldSchema& field, bson_iter_t* child, const std::string& path, Value* out,
                     std::vector<Violation>* violations) {
  const FieldSchema& element = field.children.front();
  out->kind = field.type == FieldType::kArray ? ValueKind::kArray : ValueKind::kDocument;
  bool valid = true;
  while (bson_iter_next(child)) {
    const char* key = bson_iter_key(child);
    if (field.type == FieldType::kMap && !bson_utf8_validate(key, std::strlen(key), /*allow_null=*/false)) {
      add_violation(violations, path, "map keys of valid UTF-8", "a key with invalid UTF-8");
      valid = false;
      continue;
    }
    Value item;
    if (bson_iter_type(child) == BSON_TYPE_NULL) {
      item.kind = ValueKind::kNull;
    } else {
      valid &= decode_bson_value(element, *child, child_path(path, key), &item, violations);
    }
    if (field.type == FieldType::kMap) out->keys.emplace_back(key);
    out->items.push_back(std::move(item));
  }
  if (child->err_off != 0) {
    add_violation(violations, path, "a well-formed BSON document", fmt::format("corrupt bytes at offset {}", child->err_off));
    return false;
  }
  return valid;
}

bool decode_children(const FieldSchema& field, const bson_iter_t& iter, const std::string& path, Value* out,
                     std::vector<Violation>* violations) {
  bson_iter_t child;
  if (!bson_iter_recurse(&iter, &child)) {
    add_violation(violations, path, field.expected(), "corrupt embedded document");
    return false;
  }
  if (field.type == FieldType::kObject) return decode_fields(field.children, &child, path, out, violations);
  return decode_elements(field, &child, path, out, violations);
}

}  // namespace

bool is_canonical_decimal128(const bson_decimal128_t& decimal) {
  const uint64_t combination = (decimal.high >> 58) & 0x1f;
  if (combination >= 0x1e) return true;                    // infinity or NaN
  if (((decimal.high >> 61) & 3) == 3) return false;      // the large-coefficient form
  __extension__ using Uint128 = unsigned __int128;
  Uint128 max_coefficient = 1;
  for (int i = 0; i < 34; ++i) max_coefficient *= 10;
  const Uint128 coefficient = (static_cast<Uint128>(decimal.high & ((uint64_t{1} << 49) - 1)) << 64) | decimal.low;
  return coefficient < max_coefficient;
}

bool decode_bson_value(const FieldSchema& field, const bson_iter_t& iter, const std::string& path, Value* out,
                       std::vector<Violation>* violations) {
  const bson_type_t type = bson_iter_type(&iter);
  if (type == BSON_TYPE_NULL) {
    out->kind = ValueKind::kNull;
    return true;  // a required field's null is reported by the caller
  }
  bool matches = false;
  switch (field.type) {
    case FieldType::kObjectId:
      if ((matches = type == BSON_TYPE_OID)) {
        out->kind = ValueKind::kObjectId;
        out->bytes.assign(reinterpret_cast<const char*>(bson_iter_oid(&iter)->bytes), 12);
      }
      break;
    case FieldType::kString:
      if ((matches = type == BSON_TYPE_UTF8)) {
        uint32_t length = 0;
        const char* text = bson_iter_utf8(&iter, &length);
        if (!bson_utf8_validate(text, length, /*allow_null=*/false)) {
          add_violation(violations, path, "string (valid UTF-8)", "string with invalid UTF-8");
          return false;
        }
        out->kind = ValueKind::kString;
        out->bytes.assign(text, length);
        if (!field.enum_values.empty() &&
            std::find(field.enum_values.begin(), field.enum_values.end(), out->bytes) == field.enum_values.end()) {
          add_violation(violations, path, field.expected(), describe_found(iter));
          return false;
        }
      }
      break;
    case FieldType::kDate:
      if ((matches = type == BSON_TYPE_DATE_TIME)) {
        out->kind = ValueKind::kDate;
        out->integer = bson_iter_date_time(&iter);
      }
      break;
    case FieldType::kDecimal128:
      if ((matches = type == BSON_TYPE_DECIMAL128)) {
        bson_decimal128_t decimal;
        bson_iter_decimal128(&iter, &decimal);
        if (!is_canonical_decimal128(decimal)) {
          add_violation(violations, path, "decimal128 (canonical)", "non-canonical decimal128");
          return false;
        }
        out->kind = ValueKind::kDecimal128;
        out->bytes.resize(16);
        std::memcpy(out->bytes.data(), &decimal.low, 8);
        std::memcpy(out->bytes.data() + 8, &decimal.high, 8);
      }
      break;
    case FieldType::kInt32:
      if ((matches = type == BSON_TYPE_INT32)) {
        out->kind = ValueKind::kInt32;
        out->integer = bson_iter_int32(&iter);
      }
      break;
    case FieldType::kBigInt:
      if ((matches = type == BSON_TYPE_INT64)) {
        out->kind = ValueKind::kInt64;
        out->integer = bson_iter_int64(&iter);
      }
      break;
    case FieldType::kNumber:
      if (type == BSON_TYPE_INT32) {
        matches = true;
        out->kind = ValueKind::kInt32;
        out->integer = bson_iter_int32(&iter);
        break;
      }
      [[fallthrough]];
    case FieldType::kDouble:
      if ((matches = type == BSON_TYPE_DOUBLE)) {
        out->kind = ValueKind::kDouble;
        out->number = bson_iter_double(&iter);
      }
      break;
    case FieldType::kBoolean:
      if ((matches = type == BSON_TYPE_BOOL)) {
        out->kind = ValueKind::kBool;
        out->boolean = bson_iter_bool(&iter);
      }
      break;
    case FieldType::kArray:
      if ((matches = type == BSON_TYPE_ARRAY)) return decode_children(field, iter, path, out, violations);
      break;
    case FieldType::kObject:
    case FieldType::kMap:
      if ((matches = type == BSON_TYPE_DOCUMENT)) return decode_children(field, iter, path, out, violations);
      break;
  }
  if (!matches) {
    add_violation(violations, path, field.expected(), describe_found(iter));
    out->kind = ValueKind::kMissing;
  }
  return matches;
}

bool decode_bson_map(const FieldSchema& field, const bson_t* document, const std::string& path, Value* out,
                     std::vector<Violation>* violations) {
  bson_iter_t iter;
  if (!bson_iter_init(&iter, document)) {
    add_violation(violations, path, field.expected(), "corrupt document");
    return false;
  }
  return decode_elements(field, &iter, path, out, violations);
}

bool BsonDecoder::decode(const uint8_t* data, size_t length, Value* record, std::vector<Violation>* violations) const {
  const size_t first = violations->size();
  bson_t document;
  bool valid;
  if (!bson_init_static(&document, data, length)) {
    *record = Value{};
    record->kind = ValueKind::kDocument;
    add_violation(violations, "", "a well-formed BSON document", fmt::format("{} bytes that are not one", length));
    valid = false;
  } else {
    bson_iter_t iter;
    bson_iter_init(&iter, &document);
    valid = decode_fields(model_.fields, &iter, "", record, violations);
  }
  if (!valid) {
    const std::string id = record_id_text(*record);
    for (size_t i = first; i < violations->size(); ++i) {
      (*violations)[i].collection = model_.collection;
      (*violations)[i].id = id;
    }
  }
  return valid;
}

}  // namespace heavylift
