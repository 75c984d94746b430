// libFuzzer target for the chunk-resumable CSV parser, the CSV profiler and
// the CSV to NDJSON converter. The first byte picks the chunk size, so the
// same bytes are also parsed split at many offsets, with each block scanner:
// the records must be the same as in one piece, and every NDJSON line
// written must be valid JSON.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/files/csv_parser.h"
#include "tasks/files/profile.h"

namespace {

struct Recorder {
  std::vector<std::string> fields;
  bool on_field(std::string_view value, bool) {
    fields.emplace_back(value);
    return true;
  }
  bool on_record_end(uint64_t line) {
    fields.push_back("\n" + std::to_string(line));
    return true;
  }
  void on_malformed(uint64_t, const char*) {}
};

std::vector<std::string> parse(std::string_view input, char delimiter, size_t chunk,
                               heavylift::CsvScanLevel level = heavylift::best_csv_scan_level()) {
  heavylift::CsvParser parser(delimiter, 1 << 16, level);
  Recorder recorder;
  for (size_t offset = 0; offset < input.size(); offset += chunk) {
    if (!parser.feed(input.substr(offset, chunk), recorder).ok()) return {"too large"};
  }
  if (!parser.finish(recorder).ok()) return {"too large"};
  return recorder.fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = 1 + data[0] % 17;
  const char delimiter = static_cast<char>(data[1]) == '"' || data[1] == '\n' || data[1] == '\r' ? ',' : static_cast<char>(data[1]);
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const std::vector<std::string> whole = parse(input, delimiter, input.size() + 1);
  if (parse(input, delimiter, chunk) != whole) std::abort();
  // Every block scanner the CPU supports gives the same records.
  for (const auto level : {heavylift::CsvScanLevel::kScalar, heavylift::CsvScanLevel::kSse2, heavylift::CsvScanLevel::kAvx2}) {
    if (heavylift::csv_block_scan(level) != nullptr && parse(input, delimiter, chunk, level) != whole) std::abort();
  }

  heavylift::ProfileLimits limits;
  limits.max_field_bytes = 1 << 16;
  limits.max_columns = 64;
  heavylift::CsvProfiler profiler({}, limits);
  bool ok = true;
  for (size_t offset = 0; offset < input.size() && ok; offset += chunk) ok = profiler.feed(input.substr(offset, chunk)).ok();
  heavylift::v1::DataProfile profile;
  if (ok) (void)profiler.finish(&profile);

  std::string ndjson;
  heavylift::CsvToNdjson converter({}, false, limits, [&ndjson](std::string_view bytes) {
    ndjson.append(bytes);
    return heavylift::Status::Ok();
  });
  ok = true;
  for (size_t offset = 0; offset < input.size() && ok; offset += chunk) ok = converter.feed(input.substr(offset, chunk)).ok();
  heavylift::v1::CsvToNdjsonResponse response;
  if (ok && converter.finish(&response).ok()) {
    simdjson::dom::parser json;
    size_t start = 0;
    while (start < ndjson.size()) {
      const size_t end = ndjson.find('\n', start);
      simdjson::padded_string line(std::string_view(ndjson).substr(start, end - start));
      simdjson::dom::element element;
      // The converter copies numbers as the CSV wrote them once
      // is_json_number() accepts them, and JSON allows integers beyond 64
      // bits, which simdjson 3.0 rejects with NUMBER_ERROR. Every other
      // parse error (strings, escapes, structure) is a converter bug.
      const simdjson::error_code parsed = json.parse(line).get(element);
      if (parsed != simdjson::SUCCESS && parsed != simdjson::NUMBER_ERROR) std::abort();
      start = end + 1;
    }
  }
  return 0;
}
