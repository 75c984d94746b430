// libFuzzer target for the argon2 PHC string parser and the unpadded base64
// codec it uses. Any string that parses must format back to a string that
// parses to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tasks/crypto/phc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto parsed = heavylift::parse_phc_argon2(text, "hash");
  if (parsed.ok()) {
    const std::string formatted = heavylift::format_phc_argon2(parsed.value());
    auto again = heavylift::parse_phc_argon2(formatted, "hash");
    if (!again.ok()) std::abort();
    const auto& a = parsed.value();
    const auto& b = again.value();
    if (a.variant != b.variant || a.memory_cost != b.memory_cost || a.time_cost != b.time_cost ||
        a.parallelism != b.parallelism || a.salt != b.salt || a.hash != b.hash) {
      std::abort();
    }
  }

  std::string decoded;
  if (heavylift::base64_decode(text, heavylift::Base64Alphabet::kStandard, &decoded)) {
    if (heavylift::base64_encode(decoded, heavylift::Base64Alphabet::kStandard) != text) std::abort();
  }
  return 0;
}
