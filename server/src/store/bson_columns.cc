#include "store/bson_columns.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace heavylift {
namespace {

// Loads `size` (2, 4 or 8) bytes as an integer.
template <size_t size>
uint64_t load(const char* data) {
  if constexpr (size == 2) {
    uint16_t value = 0;
    std::memcpy(&value, data, size);
    return value;
  } else if constexpr (size == 4) {
    uint32_t value = 0;
    std::memcpy(&value, data, size);
    return value;
  } else {
    uint64_t value = 0;
    std::memcpy(&value, data, size);
    return value;
  }
}

// Compares the first and last `size` bytes (two loads that may overlap),
// which covers every byte of a length in [size, 2 * size].
template <size_t size>
bool same_ends(const char* a, const char* b, size_t length) {
  return load<size>(a) == load<size>(b) && load<size>(a + length - size) == load<size>(b + length - size);
}

// Reports whether the name.size() bytes at `key` equal `name`. Compared
// inline with loads that stay inside both strings: field names are short,
// and a call to memcmp cost more than the comparison in perf.
bool same_key(std::string_view name, const char* key) {
  const char* data = name.data();
  const size_t size = name.size();
  if (size <= 1) return size == 0 || data[0] == key[0];
  if (size <= 4) return same_ends<2>(data, key, size);
  if (size <= 8) return same_ends<4>(data, key, size);
  size_t i = 0;
  for (; i + 8 < size; i += 8) {
    if (load<8>(data + i) != load<8>(key + i)) return false;
  }
  return load<8>(data + size - 8) == load<8>(key + size - 8);
}

// The iterator's current key and its length, read from the iterator's
// offsets as libbson's own inline accessors do: the value's first byte (d1)
// follows the key's terminating NUL.
const char* key_of(const bson_iter_t& iter) { return bson_iter_key_unsafe(&iter); }
uint32_t key_length_of(const bson_iter_t& iter) { return iter.d1 - iter.key - 1; }
bson_type_t type_of(const bson_iter_t& iter) { return static_cast<bson_type_t>(iter.raw[iter.type]); }

bool is_enum_value(const FieldSchema& field, std::string_view text) {
  for (const std::string& value : field.enum_values) {
    if (value.size() == text.size() && same_key(value, text.data())) return true;
  }
  return false;
}

}  // namespace

Column::Kind BsonColumnDecoder::kind_for(FieldType type) {
  switch (type) {
    case FieldType::kString:
    case FieldType::kObjectId: return Column::Kind::kText;
    case FieldType::kInt32:
    case FieldType::kBigInt:
    case FieldType::kDate:
    case FieldType::kBoolean: return Column::Kind::kInteger;
    default: return Column::Kind::kNumber;
  }
}

Result<BsonColumnDecoder> BsonColumnDecoder::create(const ModelSchema& model, const std::vector<std::string>& paths,
                                                    const std::string& request_field) {
  BsonColumnDecoder decoder(model);
  decoder.add_nodes(model.fields);
  decoder.slots_.resize(decoder.nodes_.size());
  for (const std::string& path : paths) {
    const FieldSchema* field = model.find_path(path);
    if (path.empty() || field == nullptr || field->type == FieldType::kArray || field->type == FieldType::kMap ||
        field->type == FieldType::kObject) {
      return Error::invalid(request_field, "UNKNOWN_FIELD",
                            fmt::format("{}: {} is not a scalar field of model {}", request_field, quote_value(path),
                                        model.name),
                            "a scalar field of model " + model.name, path);
    }
    // Walk the nodes along the path; find_path has checked every step.
    uint32_t first = 0;
    auto count = static_cast<uint32_t>(model.fields.size());
    uint32_t found = 0;
    size_t start = 0;
    for (;;) {
      const size_t dot = path.find('.', start);
      const std::string_view name = std::string_view(path).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      for (uint32_t j = first; j < first + count; ++j) {
        if (decoder.nodes_[j].field->name == name) found = j;
      }
      if (dot == std::string::npos) break;
      first = decoder.nodes_[found].first_child;
      count = decoder.nodes_[found].child_count;
      start = dot + 1;
    }
    decoder.column_nodes_.push_back(found);
    decoder.column_paths_.push_back(path);
  }
  return decoder;
}

uint32_t BsonColumnDecoder::add_nodes(const std::vector<FieldSchema>& fields) {
  const auto first = static_cast<uint32_t>(nodes_.size());
  for (const FieldSchema& field : fields) {
    Node node{&field, field.name, 0, 0, true};
    for (const std::string& value : field.enum_values) {
      node.clean_enum &= bson_utf8_validate(value.data(), value.size(), /*allow_null=*/false);
    }
    nodes_.push_back(node);
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].type == FieldType::kObject) {
      const uint32_t children = add_nodes(fields[i].children);
      nodes_[first + i].first_child = children;
      nodes_[first + i].child_count = static_cast<uint32_t>(fields[i].children.size());
    } else if (fields[i].type == FieldType::kArray || fields[i].type == FieldType::kMap) {
      tree_only_ = true;
    }
  }
  return first;
}

void BsonColumnDecoder::reset(uint32_t first, uint32_t count) {
  for (uint32_t j = first; j < first + count; ++j) {
    slots_[j].value = ScalarView{};
    if (nodes_[j].child_count != 0) reset(nodes_[j].first_child, nodes_[j].child_count);
  }
}

bool BsonColumnDecoder::check_required(uint32_t first, uint32_t count) const {
  for (uint32_t j = first; j < first + count; ++j) {
    if (nodes_[j].field->required && !slots_[j].value.present()) return false;
  }
  return true;
}

bool BsonColumnDecoder::read_fields(bson_iter_t* iter, uint32_t first, uint32_t count) {
  const uint32_t end = first + count;
  // The search for a key starts after the field the previous key matched:
  // documents written by one model keep its field order, so the first name
  // compared is usually the right one. Names are unique within a model, so
  // the order of the search does not change which field a key matches.
  uint32_t next = first;
  while (bson_iter_next(iter)) {
    const char* key = key_of(*iter);
    const uint32_t key_length = key_length_of(*iter);
    uint32_t j = next;
    for (uint32_t tried = 0; tried < count; ++tried, j = j + 1 == end ? first : j + 1) {
      const std::string_view name = nodes_[j].name;
      if (name.size() != key_length || !same_key(name, key)) continue;
      if (!read_value(nodes_[j], *iter, &slots_[j])) return false;
      next = j + 1 == end ? first : j + 1;
      break;
    }
  }
  return iter->err_off == 0;
}

bool BsonColumnDecoder::read_value(const Node& node, const bson_iter_t& iter, Slot* slot) {
  // bson_iter_next has checked the value's bounds, so the unsafe (unchecked,
  // inline) accessors below read within the document once the type matches.
  const bson_type_t type = type_of(iter);
  ScalarView& value = slot->value;
  const FieldSchema& field = *node.field;
  if (type == BSON_TYPE_NULL) {
    value = ScalarView{};
    value.kind = ValueKind::kNull;
    if (node.child_count != 0) reset(node.first_child, node.child_count);
    return true;
  }
  switch (field.type) {
    case FieldType::kObjectId:
      if (type != BSON_TYPE_OID) return false;
      value.kind = ValueKind::kObjectId;
      value.bytes = std::string_view(reinterpret_cast<const char*>(bson_iter_oid_unsafe(&iter)->bytes), 12);
      return true;
    case FieldType::kString: {
      if (type != BSON_TYPE_UTF8) return false;
      size_t length = 0;
      const char* text = bson_iter_utf8_unsafe(&iter, &length);
      value.kind = ValueKind::kString;
      value.bytes = std::string_view(text, length);
      if (!field.enum_values.empty() && !is_enum_value(field, value.bytes)) return false;
      // A string equal to a clean enum value needs no UTF-8 check.
      return (!field.enum_values.empty() && node.clean_enum) || bson_utf8_validate(text, length, /*allow_null=*/false);
    }
    case FieldType::kDate:
      if (type != BSON_TYPE_DATE_TIME) return false;
      value.kind = ValueKind::kDate;
      value.integer = bson_iter_int64_unsafe(&iter);  // a date is an int64 of milliseconds
      return true;
    case FieldType::kDecimal128: {
      if (type != BSON_TYPE_DECIMAL128) return false;
      bson_decimal128_t decimal;
      bson_iter_decimal128(&iter, &decimal);
      if (!is_canonical_decimal128(decimal)) return false;
      std::memcpy(slot->decimal, &decimal.low, 8);
      std::memcpy(slot->decimal + 8, &decimal.high, 8);
      value.kind = ValueKind::kDecimal128;
      value.bytes = std::string_view(slot->decimal, 16);
      return true;
    }
    case FieldType::kInt32:
      if (type != BSON_TYPE_INT32) return false;
      value.kind = ValueKind::kInt32;
      value.integer = bson_iter_int32_unsafe(&iter);
      return true;
    case FieldType::kBigInt:
      if (type != BSON_TYPE_INT64) return false;
      value.kind = ValueKind::kInt64;
      value.integer = bson_iter_int64_unsafe(&iter);
      return true;
    case FieldType::kNumber:
      if (type == BSON_TYPE_INT32) {
        value.kind = ValueKind::kInt32;
        value.integer = bson_iter_int32_unsafe(&iter);
        return true;
      }
      [[fallthrough]];
    case FieldType::kDouble:
      if (type != BSON_TYPE_DOUBLE) return false;
      value.kind = ValueKind::kDouble;
      value.number = bson_iter_double_unsafe(&iter);
      return true;
    case FieldType::kBoolean:
      if (type != BSON_TYPE_BOOL) return false;
      value.kind = ValueKind::kBool;
      value.boolean = bson_iter_bool(&iter);
      return true;
    case FieldType::kObject: {
      if (type != BSON_TYPE_DOCUMENT) return false;
      bson_iter_t child;
      if (!bson_iter_recurse(&iter, &child)) return false;
      value = ScalarView{};
      value.kind = ValueKind::kDocument;
      reset(node.first_child, node.child_count);
      return read_fields(&child, node.first_child, node.child_count) &&
             check_required(node.first_child, node.child_count);
    }
    case FieldType::kArray:
    case FieldType::kMap:
      return false;
  }
  return false;
}

bool BsonColumnDecoder::decode_with_tree(const uint8_t* data, size_t length, ColumnBatch* batch,
                                         std::vector<Violation>* violations) {
  Value record;
  if (!tree_decoder_.decode(data, length, &record, violations)) return false;
  for (size_t i = 0; i < column_paths_.size(); ++i) append_value(record.get_path(column_paths_[i]), batch->columns[i]);
  return true;
}

bool BsonColumnDecoder::decode(const uint8_t* data, size_t length, ColumnBatch* batch,
                               std::vector<Violation>* violations) {
  if (tree_only_) return decode_with_tree(data, length, batch, violations);
  bson_t document;
  if (!bson_init_static(&document, data, length)) return decode_with_tree(data, length, batch, violations);
  bson_iter_t iter;
  bson_iter_init(&iter, &document);
  const auto top = static_cast<uint32_t>(model_.fields.size());
  reset(0, top);
  if (!read_fields(&iter, 0, top) || !check_required(0, top)) return decode_with_tree(data, length, batch, violations);
  for (size_t i = 0; i < column_nodes_.size(); ++i) append_scalar(slots_[column_nodes_[i]].value, batch->columns[i]);
  return true;
}

Result<BsonRecordReader> BsonRecordReader::create(const ModelSchema& model, RecordSink& sink) {
  BsonRecordReader reader(model, sink);
  reader.batch_ = sink.column_batch();
  if (reader.batch_ != nullptr) {
    auto decoder = BsonColumnDecoder::create(model, sink.column_paths(), "aggregates");
    if (!decoder.ok()) return decoder.error();
    reader.columns_.emplace(std::move(decoder).value());
  }
  return reader;
}

}  // namespace heavylift
