#include "store/schema_check.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace heavylift {
namespace {

using nlohmann::json;

// The bsonType Mongoose's toJSONSchema states for each schema type.
std::string mongoose_bson_type(FieldType type) {
  switch (type) {
    case FieldType::kObjectId: return "objectId";
    case FieldType::kString: return "string";
    case FieldType::kDate: return "date";
    case FieldType::kDecimal128: return "decimal";
    case FieldType::kInt32: return "int";
    case FieldType::kBigInt: return "long";
    case FieldType::kDouble: return "double";
    case FieldType::kNumber: return "number";
    case FieldType::kBoolean: return "bool";
    case FieldType::kArray: return "array";
    case FieldType::kObject:
    case FieldType::kMap: return "object";
  }
  return "unknown";
}

// The bsonType of a JSON Schema node without "null", and whether null was listed.
std::set<std::string> node_types(const json& node, bool* nullable) {
  std::set<std::string> types;
  *nullable = false;
  const auto it = node.find("bsonType");
  if (it == node.end()) return types;
  const auto add = [&](const json& value) {
    if (!value.is_string()) return;
    if (value.get<std::string>() == "null") {
      *nullable = true;
    } else {
      types.insert(value.get<std::string>());
    }
  };
  if (it->is_array()) {
    for (const json& value : *it) add(value);
  } else {
    add(*it);
  }
  return types;
}

std::string join(const std::set<std::string>& values) {
  std::string text;
  for (const std::string& value : values) text += (text.empty() ? "" : " or ") + value;
  return text.empty() ? "no type" : text;
}

void compare_field(const FieldSchema& field, const json& node, bool required_in_model, const std::string& model,
                   const std::string& path, std::vector<Drift>* drifts);

void compare_fields(const std::vector<FieldSchema>& fields, const json& object, const std::string& model,
                    const std::string& prefix, std::vector<Drift>* drifts) {
  static const json kEmpty = json::object();
  const json& properties = object.contains("properties") ? object["properties"] : kEmpty;
  std::set<std::string> required;
  if (object.contains("required") && object["required"].is_array()) {
    for (const json& name : object["required"]) {
      if (name.is_string()) required.insert(name.get<std::string>());
    }
  }
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    // Mongoose leaves its version key out of toJSONSchema.
    if (field.name == "__v" && prefix.empty()) continue;
    if (!properties.contains(field.name)) {
      drifts->push_back({model, path, "the field is in the schema but not in the Node model"});
      continue;
    }
    compare_field(field, properties[field.name], required.count(field.name) > 0, model, path, drifts);
  }
  for (const auto& [name, node] : properties.items()) {
    const bool known = std::any_of(fields.begin(), fields.end(), [&](const FieldSchema& field) { return field.name == name; });
    if (!known) {
      drifts->push_back({model, prefix.empty() ? name : prefix + "." + name,
                         "the field is in the Node model but not in the schema"});
    }
  }
}

void compare_field(const FieldSchema& field, const json& node, bool required_in_model, const std::string& model,
                   const std::string& path, std::vector<Drift>* drifts) {
  bool nullable = false;
  const std::set<std::string> types = node_types(node, &nullable);
  const std::set<std::string> expected = {mongoose_bson_type(field.type)};
  if (types != expected) {
    drifts->push_back({model, path, fmt::format("the schema has {} ({}), the Node model has {}", join(expected),
                                                field_type_name(field.type), join(types))});
    return;
  }
  if (field.required != required_in_model) {
    drifts->push_back({model, path, field.required ? "the schema requires the field, the Node model does not"
                                                   : "the Node model requires the field, the schema does not"});
  }
  std::vector<std::string> model_enum;
  if (node.contains("enum") && node["enum"].is_array()) {
    for (const json& value : node["enum"]) {
      if (value.is_string()) model_enum.push_back(value.get<std::string>());
    }
  }
  if (model_enum != field.enum_values) {
    drifts->push_back({model, path, "the enum values differ between the schema and the Node model"});
  }
  if (field.type == FieldType::kObject) compare_fields(field.children, node, model, path, drifts);
  if (field.type == FieldType::kArray && node.contains("items")) {
    compare_field(field.children.front(), node["items"], field.children.front().required, model, path + ".$", drifts);
  }
  if (field.type == FieldType::kMap && node.contains("additionalProperties")) {
    compare_field(field.children.front(), node["additionalProperties"], field.children.front().required, model,
                  path + ".$*", drifts);
  }
}

Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::invalid(what, "NOT_FOUND", fmt::format("cannot read {} {}", what, quote_value(path)));
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

constexpr char kUsage[] =
    "usage: heavylift schema check --schema-file FILE --models FILE\n"
    "  --schema-file  the schema descriptor heavylift loads (schema/gen/schema.json)\n"
    "  --models       JSON object of the Node models' toJSONSchema({ useBsonType: true }) output by model name\n"
    "                 (write it with exportModelSchemas from the heavylift npm package)\n"
    "Exits 0 when they agree, 1 with one line per drifted field, 2 on a usage or file error.\n";

}  // namespace

Result<std::vector<Drift>> check_schema_drift(const Schema& schema, std::string_view models_json) {
  const json models = json::parse(models_json, nullptr, /*allow_exceptions=*/false);
  if (models.is_discarded() || !models.is_object()) {
    return Error::invalid("models", "INVALID_JSON", "the models file must be a JSON object keyed by model name");
  }
  std::vector<Drift> drifts;
  for (const ModelSchema& model : schema.models) {
    if (!models.contains(model.name)) {
      drifts.push_back({model.name, "", "the model is in the schema but not among the Node models"});
      continue;
    }
    compare_fields(model.fields, models[model.name], model.name, "", &drifts);
  }
  return drifts;
}

int run_schema_command(int argc, const char* const* argv) {
  std::string schema_file;
  std::string models_file;
  if (argc < 3 || std::string_view(argv[2]) != "check") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  for (int i = 3; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--schema-file" || arg == "--models") && i + 1 < argc) {
      (arg == "--models" ? models_file : schema_file) = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "heavylift schema check: unknown argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (schema_file.empty() || models_file.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto schema = load_schema_file(schema_file);
  if (!schema.ok()) {
    std::fprintf(stderr, "heavylift schema check: %s\n", schema.error().message.c_str());
    return 2;
  }
  auto models = read_file(models_file, "the models file");
  if (!models.ok()) {
    std::fprintf(stderr, "heavylift schema check: %s\n", models.error().message.c_str());
    return 2;
  }
  auto drifts = check_schema_drift(schema.value(), models.value());
  if (!drifts.ok()) {
    std::fprintf(stderr, "heavylift schema check: %s\n", drifts.error().message.c_str());
    return 2;
  }
  for (const Drift& drift : drifts.value()) {
    std::fprintf(stderr, "drift: model %s field %s: %s\n", drift.model.c_str(),
                 drift.field.empty() ? "(model)" : drift.field.c_str(), drift.message.c_str());
  }
  if (!drifts.value().empty()) {
    std::fprintf(stderr, "heavylift schema check: %zu difference(s) between %s and the Node models\n",
                 drifts.value().size(), schema_file.c_str());
    return 1;
  }
  std::printf("heavylift schema check: the Node models match %s (%zu models)\n", schema_file.c_str(),
              schema.value().models.size());
  return 0;
}

}  // namespace heavylift
