#include "store/pg_array.h"

#include <fmt/format.h>

namespace heavylift {
namespace {

Error malformed(std::string_view text, size_t offset, const char* what) {
  return Error::invalid("", "CORRUPT_INPUT",
                        fmt::format("malformed PostgreSQL array at offset {}: {} in {}", offset, what, quote_value(text)));
}

}  // namespace

Result<std::vector<std::optional<std::string>>> parse_pg_array(std::string_view text) {
  std::vector<std::optional<std::string>> elements;
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return malformed(text, 0, "expected {...}");
  const std::string_view body = text.substr(1, text.size() - 2);
  if (body.empty()) return elements;

  size_t i = 0;
  for (;;) {
    if (i >= body.size()) return malformed(text, i + 1, "missing element");
    if (body[i] == '{') return malformed(text, i + 1, "nested arrays are not supported");
    if (body[i] == '"') {
      std::string element;
      ++i;
      for (;;) {
        if (i >= body.size()) return malformed(text, i + 1, "unterminated quoted element");
        const char c = body[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= body.size()) return malformed(text, i + 1, "dangling backslash");
          element.push_back(body[i++]);
        } else {
          element.push_back(c);
        }
      }
      elements.emplace_back(std::move(element));
    } else {
      const size_t end = body.find(',', i);
      const std::string_view element = body.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
      if (element.empty()) return malformed(text, i + 1, "empty element");
      if (element.find_first_of("\"{}\\") != std::string_view::npos) return malformed(text, i + 1, "unexpected character");
      if (element == "NULL") {
        elements.emplace_back(std::nullopt);
      } else {
        elements.emplace_back(std::string(element));
      }
      i += element.size();
    }
    if (i == body.size()) return elements;
    if (body[i] != ',') return malformed(text, i + 1, "expected ,");
    ++i;
  }
}

}  // namespace heavylift
