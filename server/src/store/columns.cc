#include "store/column_values.h"

#include <bson/bson.h>

#include <algorithm>

#include <cstdlib>
#include <cstring>

namespace heavylift {

void Column::clear() {
  numbers.clear();
  integers.clear();
  text_bytes.clear();
  text_ends.clear();
  present.clear();
}

void Column::append_text(std::string_view text) {
  text_bytes.append(text);
  text_ends.push_back(static_cast<uint32_t>(text_bytes.size()));
}

double decimal128_to_double(std::string_view bytes) {
  bson_decimal128_t decimal;
  std::memcpy(&decimal.low, bytes.data(), 8);
  std::memcpy(&decimal.high, bytes.data() + 8, 8);
  char text[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(&decimal, text);
  return std::strtod(text, nullptr);
}

void append_scalar(const ScalarView& value, Column& column) {
  const bool present = value.present();
  column.present.push_back(present ? 1 : 0);
  switch (column.kind) {
    case Column::Kind::kText:
      if (!present) {
        column.append_text({});
      } else if (value.kind == ValueKind::kObjectId) {
        static const char kHex[] = "0123456789abcdef";
        char hex[24];
        for (size_t i = 0; i < 12 && i < value.bytes.size(); ++i) {
          const auto byte = static_cast<unsigned char>(value.bytes[i]);
          hex[2 * i] = kHex[byte >> 4];
          hex[2 * i + 1] = kHex[byte & 15];
        }
        column.append_text(std::string_view(hex, 2 * std::min<size_t>(12, value.bytes.size())));
      } else {
        column.append_text(value.bytes);
      }
      break;
    case Column::Kind::kInteger:
      if (!present) {
        column.integers.push_back(0);
      } else if (value.kind == ValueKind::kBool) {
        column.integers.push_back(value.boolean);
      } else {
        column.integers.push_back(value.integer);
      }
      break;
    case Column::Kind::kNumber: {
      double number = 0;
      if (present) {
        if (value.kind == ValueKind::kDouble) number = value.number;
        else if (value.kind == ValueKind::kDecimal128) number = decimal128_to_double(value.bytes);
        else number = static_cast<double>(value.integer);
      }
      column.numbers.push_back(number);
      break;
    }
  }
}

void append_value(const Value* value, Column& column) {
  ScalarView view;
  if (value != nullptr) {
    view.kind = value->kind;
    view.boolean = value->boolean;
    view.integer = value->integer;
    view.number = value->number;
    view.bytes = value->bytes;
  }
  append_scalar(view, column);
}

}  // namespace heavylift
