// libFuzzer target for the NDJSON profiler: any bytes, fed whole and in
// chunks of a size picked by the first byte, must profile to the same result
// without a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tasks/files/profile.h"

namespace {

std::string profile(std::string_view input, size_t chunk) {
  heavylift::ProfileLimits limits;
  limits.max_field_bytes = 1 << 16;
  limits.max_columns = 64;
  heavylift::NdjsonProfiler profiler(limits);
  for (size_t offset = 0; offset < input.size(); offset += chunk) {
    if (!profiler.feed(input.substr(offset, chunk)).ok()) return "error";
  }
  heavylift::v1::DataProfile result;
  if (!profiler.finish(&result).ok()) return "error";
  return result.SerializeAsString();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 23;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (profile(input, chunk) != profile(input, input.size() + 1)) std::abort();
  return 0;
}
