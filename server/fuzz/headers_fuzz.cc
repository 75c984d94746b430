// Feeds arbitrary bytes to the parsers of request headers heavylift reads
// from callers: W3C traceparent and `authorization: Bearer`.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/bearer_tokens.h"
#include "core/trace_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto parent = heavylift::parse_traceparent(input)) {
    // A parsed value formats back to the same fields.
    const auto again = heavylift::parse_traceparent(heavylift::format_traceparent(*parent));
    if (!again || again->trace_id != parent->trace_id || again->parent_id != parent->parent_id) __builtin_trap();
  }

  // A token file name turns checking on; with no token loaded every header
  // goes through the full parse and is then rejected.
  static heavylift::BearerTokens tokens("/dev/null");
  if (tokens.check(true, input).ok()) __builtin_trap();
  return 0;
}
