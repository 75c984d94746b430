#include "realtime/json_text.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace heavylift::realtime {
namespace {

// Nesting bound of JSON accepted from clients, so a deeply nested payload
// cannot exhaust the stack while it is walked.
constexpr size_t kMaxJsonDepth = 64;

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser(simdjson::SIMDJSON_MAXSIZE_BYTES);
  thread_local bool configured = [] {
    return parser.allocate(simdjson::SIMDJSON_PADDING, kMaxJsonDepth) == simdjson::SUCCESS;
  }();
  (void)configured;
  return parser;
}

Result<simdjson::dom::element> parse_json(std::string_view text, const std::string& field) {
  simdjson::dom::element root;
  const auto error = thread_parser().parse(text.data(), text.size(), true).get(root);
  if (error != simdjson::SUCCESS) {
    return Error::invalid(field, "MALFORMED_JSON",
                          fmt::format("{} is not valid JSON: {}", field, simdjson::error_message(error)), "",
                          std::string(text.substr(0, 64)));
  }
  return root;
}

Status walk_placeholders(simdjson::dom::element element, size_t attachments, const std::string& field) {
  if (element.is_array()) {
    for (simdjson::dom::element child : element.get_array()) {
      if (Status s = walk_placeholders(child, attachments, field); !s.ok()) return s;
    }
    return Status::Ok();
  }
  if (!element.is_object()) return Status::Ok();
  simdjson::dom::object object = element.get_object();
  bool placeholder = false;
  if (object["_placeholder"].get(placeholder) == simdjson::SUCCESS && placeholder) {
    uint64_t number = 0;
    if (object["num"].get(number) != simdjson::SUCCESS || number >= attachments) {
      return Error::invalid(field, "INVALID_PLACEHOLDER",
                            fmt::format("{} has an attachment placeholder whose num is not in 0..{}", field,
                                        attachments == 0 ? 0 : attachments - 1),
                            fmt::format("< {}", attachments), simdjson::minify(element));
    }
    return Status::Ok();
  }
  for (auto member : object) {
    if (Status s = walk_placeholders(member.value, attachments, field); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

Result<JsonArray> split_json_array(std::string_view text, const std::string& field) {
  Result<simdjson::dom::element> root = parse_json(text, field);
  if (!root.ok()) return root.error();
  simdjson::dom::array array;
  if (root.value().get(array) != simdjson::SUCCESS) {
    return Error::invalid(field, "NOT_AN_ARRAY", fmt::format("{} must be a JSON array", field), "",
                          std::string(text.substr(0, 64)));
  }
  JsonArray out;
  for (simdjson::dom::element element : array) out.elements.push_back(simdjson::minify(element));
  return out;
}

std::string join_json_array(const std::vector<std::string>& elements, size_t first) {
  std::string out = "[";
  for (size_t i = first; i < elements.size(); ++i) {
    if (i > first) out.push_back(',');
    out += elements[i];
  }
  out.push_back(']');
  return out;
}

Result<std::string> json_object_string(std::string_view text, std::string_view key, const std::string& field) {
  Result<simdjson::dom::element> root = parse_json(text, field);
  if (!root.ok()) return root.error();
  simdjson::dom::object object;
  if (root.value().get(object) != simdjson::SUCCESS) {
    return Error::invalid(field, "NOT_AN_OBJECT", fmt::format("{} must be a JSON object", field), "",
                          std::string(text.substr(0, 64)));
  }
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) return std::string();
  return std::string(value);
}

Result<std::string> json_string_value(std::string_view text, const std::string& field) {
  Result<simdjson::dom::element> root = parse_json(text, field);
  if (!root.ok()) return root.error();
  std::string_view value;
  if (root.value().get(value) != simdjson::SUCCESS) {
    return Error::invalid(field, "NOT_A_STRING", fmt::format("{} must be a JSON string", field), "",
                          std::string(text.substr(0, 64)));
  }
  return std::string(value);
}

Status check_placeholders(std::string_view text, size_t attachments, const std::string& field) {
  Result<simdjson::dom::element> root = parse_json(text, field);
  if (!root.ok()) return root.error();
  return walk_placeholders(root.value(), attachments, field);
}

}  // namespace heavylift::realtime
