#include "store/record.h"

#include <bson/bson.h>

#include <charconv>
#include <cmath>
#include <cstring>

namespace heavylift {
namespace {

void append_json_string(std::string_view text, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (byte < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[byte >> 4]);
          out->push_back(kHex[byte & 15]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Shortest text that parses back to the same double, with ".0" added to
// integral values as canonical Extended JSON writes them.
void append_double_text(double number, std::string* out) {
  if (std::isnan(number)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(number)) {
    out->append(number > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
  (void)ec;
  std::string_view text(buffer, static_cast<size_t>(end - buffer));
  out->append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

void append_wrapped(const char* key, std::string_view text, std::string* out) {
  out->append("{\"");
  out->append(key);
  out->append("\":\"");
  out->append(text);
  out->append("\"}");
}

}  // namespace

const Value* Value::get(std::string_view key) const {
  if (kind != ValueKind::kDocument) return nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

const Value* Value::get_path(std::string_view path) const {
  const Value* current = this;
  for (;;) {
    const size_t dot = path.find('.');
    current = current->get(path.substr(0, dot));
    if (current == nullptr || dot == std::string_view::npos) return current;
    path = path.substr(dot + 1);
  }
}

std::string object_id_hex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

std::string record_id_text(const Value& record) {
  const Value* id = record.get("_id");
  if (id == nullptr || !id->present()) return "";
  if (id->kind == ValueKind::kObjectId) return object_id_hex(id->bytes);
  return to_canonical_json(*id);
}

void append_canonical_json(const Value& value, std::string* out) {
  switch (value.kind) {
    case ValueKind::kMissing:
    case ValueKind::kNull:
      out->append("null");
      return;
    case ValueKind::kObjectId:
      append_wrapped("$oid", object_id_hex(value.bytes), out);
      return;
    case ValueKind::kDate:
      out->append("{\"$date\":");
      append_wrapped("$numberLong", std::to_string(value.integer), out);
      out->push_back('}');
      return;
    case ValueKind::kDecimal128: {
      bson_decimal128_t decimal;
      std::memcpy(&decimal.low, value.bytes.data(), 8);
      std::memcpy(&decimal.high, value.bytes.data() + 8, 8);
      char text[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&decimal, text);
      append_wrapped("$numberDecimal", text, out);
      return;
    }
    case ValueKind::kInt32:
      append_wrapped("$numberInt", std::to_string(value.integer), out);
      return;
    case ValueKind::kInt64:
      append_wrapped("$numberLong", std::to_string(value.integer), out);
      return;
    case ValueKind::kDouble: {
      std::string text;
      append_double_text(value.number, &text);
      append_wrapped("$numberDouble", text, out);
      return;
    }
    case ValueKind::kBool:
      out->append(value.boolean ? "true" : "false");
      return;
    case ValueKind::kString:
      append_json_string(value.bytes, out);
      return;
    case ValueKind::kArray:
      out->push_back('[');
      for (size_t i = 0; i < value.items.size(); ++i) {
        if (i) out->push_back(',');
        append_canonical_json(value.items[i], out);
      }
      out->push_back(']');
      return;
    case ValueKind::kDocument: {
      out->push_back('{');
      bool first = true;
      for (size_t i = 0; i < value.items.size(); ++i) {
        if (value.items[i].kind == ValueKind::kMissing) continue;
        if (!first) out->push_back(',');
        first = false;
        append_json_string(value.keys[i], out);
        out->push_back(':');
        append_canonical_json(value.items[i], out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string to_canonical_json(const Value& value) {
  std::string out;
  append_canonical_json(value, &out);
  return out;
}

}  // namespace heavylift
