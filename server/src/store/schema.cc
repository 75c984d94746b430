#include "store/schema.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace heavylift {
namespace {

using nlohmann::json;

struct TypeName {
  const char* name;
  FieldType type;
};

constexpr TypeName kTypeNames[] = {
    {"ObjectId", FieldType::kObjectId}, {"String", FieldType::kString},   {"Date", FieldType::kDate},
    {"Decimal128", FieldType::kDecimal128}, {"Int32", FieldType::kInt32}, {"BigInt", FieldType::kBigInt},
    {"Double", FieldType::kDouble},     {"Number", FieldType::kNumber},   {"Boolean", FieldType::kBoolean},
    {"Array", FieldType::kArray},       {"Object", FieldType::kObject},   {"Map", FieldType::kMap},
};

Error schema_error(const std::string& path, const std::string& message) {
  return Error::invalid(path, "INVALID_SCHEMA", fmt::format("schema descriptor: {}: {}", path, message));
}

Result<FieldSchema> parse_field(const json& node, const std::string& path) {
  if (!node.is_object()) return schema_error(path, "must be an object");
  FieldSchema field;
  field.name = node.value("name", "");
  const std::string type = node.value("type", "");
  bool known = false;
  for (const TypeName& entry : kTypeNames) {
    if (type == entry.name) {
      field.type = entry.type;
      known = true;
    }
  }
  if (!known) return schema_error(path + ".type", fmt::format("unknown type {}", quote_value(type)));
  field.required = node.value("required", false);
  if (auto it = node.find("enum"); it != node.end()) {
    for (const json& value : *it) {
      if (!value.is_string()) return schema_error(path + ".enum", "must hold strings");
      field.enum_values.push_back(value.get<std::string>());
    }
  }
  if (auto it = node.find("column"); it != node.end() && it->is_object()) {
    field.column.name = it->value("name", "");
    field.column.type = it->value("type", "");
    field.column.not_null = it->value("notNull", false);
  }
  if (field.type == FieldType::kArray || field.type == FieldType::kMap) {
    auto it = node.find("of");
    if (it == node.end()) return schema_error(path + ".of", "is missing");
    Result<FieldSchema> element = parse_field(*it, path + ".of");
    if (!element.ok()) return element.error();
    field.children.push_back(std::move(element).value());
  }
  if (field.type == FieldType::kObject) {
    auto it = node.find("fields");
    if (it == node.end() || !it->is_array()) return schema_error(path + ".fields", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      Result<FieldSchema> child = parse_field((*it)[i], fmt::format("{}.fields[{}]", path, i));
      if (!child.ok()) return child.error();
      field.children.push_back(std::move(child).value());
    }
  }
  return field;
}

const FieldSchema* find_child(const std::vector<FieldSchema>& fields, std::string_view name) {
  for (const FieldSchema& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

// Keeps in `fields` only what `path` names, adding to `out`.
bool add_projected(const std::vector<FieldSchema>& fields, std::string_view path, std::vector<FieldSchema>* out) {
  const size_t dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  const FieldSchema* field = find_child(fields, head);
  if (field == nullptr) return false;
  FieldSchema* existing = nullptr;
  for (FieldSchema& kept : *out) {
    if (kept.name == head) existing = &kept;
  }
  if (dot == std::string_view::npos) {
    if (existing != nullptr) {
      *existing = *field;
    } else {
      out->push_back(*field);
    }
    return true;
  }
  if (field->type != FieldType::kObject) return false;
  if (existing == nullptr) {
    FieldSchema shell = *field;
    shell.children.clear();
    out->push_back(std::move(shell));
    existing = &out->back();
  }
  return add_projected(field->children, path.substr(dot + 1), &existing->children);
}

}  // namespace

const char* field_type_name(FieldType type) {
  for (const TypeName& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

const FieldSchema* FieldSchema::child(std::string_view child_name) const { return find_child(children, child_name); }

std::string FieldSchema::expected() const {
  if (!enum_values.empty()) {
    std::string text = "one of ";
    for (size_t i = 0; i < enum_values.size(); ++i) text += (i ? ", " : "") + enum_values[i];
    return text;
  }
  switch (type) {
    case FieldType::kObjectId: return "objectId";
    case FieldType::kString: return "string";
    case FieldType::kDate: return "date";
    case FieldType::kDecimal128: return "decimal128";
    case FieldType::kInt32: return "int32";
    case FieldType::kBigInt: return "int64";
    case FieldType::kDouble: return "double";
    case FieldType::kNumber: return "int32 or double";
    case FieldType::kBoolean: return "bool";
    case FieldType::kArray: return "array";
    case FieldType::kObject: return "document";
    case FieldType::kMap: return "document (map)";
  }
  return "unknown";
}

const FieldSchema* ModelSchema::field(std::string_view name) const { return find_child(fields, name); }

const FieldSchema* ModelSchema::find_path(std::string_view path) const {
  const std::vector<FieldSchema>* level = &fields;
  const FieldSchema* found = nullptr;
  for (;;) {
    const size_t dot = path.find('.');
    found = find_child(*level, path.substr(0, dot));
    if (found == nullptr || dot == std::string_view::npos) return found;
    if (found->type != FieldType::kObject) return nullptr;
    level = &found->children;
    path = path.substr(dot + 1);
  }
}

Result<ModelSchema> ModelSchema::project(const std::vector<std::string>& paths, const std::string& request_field) const {
  ModelSchema projected = *this;
  projected.fields.clear();
  add_projected(fields, "_id", &projected.fields);
  for (const std::string& path : paths) {
    if (!add_projected(fields, path, &projected.fields)) {
      return Error::invalid(request_field, "UNKNOWN_FIELD",
                            fmt::format("{}: model {} has no field {}", request_field, name, quote_value(path)),
                            "a field of model " + name, path);
    }
  }
  return projected;
}

const ModelSchema* Schema::model(std::string_view name) const {
  for (const ModelSchema& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

Result<Schema> parse_schema(std::string_view text) {
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return schema_error("$", "is not valid JSON");
  if (root.value("version", 0) != 1) return schema_error("$.version", "must be 1");
  auto models = root.find("models");
  if (models == root.end() || !models->is_array()) return schema_error("$.models", "must be an array");
  Schema schema;
  for (size_t i = 0; i < models->size(); ++i) {
    const json& node = (*models)[i];
    const std::string path = fmt::format("$.models[{}]", i);
    if (!node.is_object()) return schema_error(path, "must be an object");
    ModelSchema model;
    model.name = node.value("name", "");
    model.collection = node.value("collection", "");
    model.table = node.value("table", "");
    model.timestamps = node.value("timestamps", false);
    model.version_key = node.value("versionKey", false);
    if (model.name.empty()) return schema_error(path + ".name", "is missing");
    auto fields = node.find("fields");
    if (fields == node.end() || !fields->is_array()) return schema_error(path + ".fields", "must be an array");
    for (size_t j = 0; j < fields->size(); ++j) {
      Result<FieldSchema> field = parse_field((*fields)[j], fmt::format("{}.fields[{}]", path, j));
      if (!field.ok()) return field.error();
      model.fields.push_back(std::move(field).value());
    }
    schema.models.push_back(std::move(model));
  }
  return schema;
}

Result<Schema> load_schema_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Error::invalid("schema.file", "NOT_FOUND", fmt::format("cannot read the schema file {}", quote_value(path)));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return parse_schema(text.str());
}

}  // namespace heavylift
