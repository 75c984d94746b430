// libFuzzer target for the PostgreSQL array text parser. Any text must parse
// or fail without a crash; elements that parse, quoted again, must parse
// back to the same elements.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/pg_array.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = heavylift::parse_pg_array(text);
  if (!parsed.ok()) return 0;

  std::string quoted = "{";
  for (size_t i = 0; i < parsed.value().size(); ++i) {
    if (i > 0) quoted.push_back(',');
    const auto& element = parsed.value()[i];
    if (!element) {
      quoted += "NULL";
      continue;
    }
    quoted.push_back('"');
    for (const char c : *element) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    quoted.push_back('"');
  }
  quoted.push_back('}');
  auto again = heavylift::parse_pg_array(quoted);
  if (!again.ok() || again.value() != parsed.value()) std::abort();
  return 0;
}
