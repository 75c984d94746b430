// Micro-benchmarks of the file tasks on one thread: the CSV parser alone
// (with the fastest block scanner, then with each one), the CSV profile
// with type inference, the digests and the single-pass upload pipeline
// (SHA-256 + XXH3 + zstd level 3). Throughput is bytes of input per CPU
// second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>

#include "tasks/files/csv_parser.h"
#include "tasks/files/digest.h"
#include "tasks/files/profile.h"
#include "tasks/files/upload.h"

namespace {

constexpr size_t kChunk = 1 << 20;

// Appends k / 100 as JavaScript prints it: no trailing zeros in the fraction
// and no fraction when it is zero.
void append_hundredths(int64_t k, std::string* out) {
  if (k < 0) out->push_back('-');
  const uint64_t magnitude = static_cast<uint64_t>(k < 0 ? -k : k);
  *out += std::to_string(magnitude / 100);
  const uint64_t fraction = magnitude % 100;
  if (fraction == 0) return;
  out->push_back('.');
  out->push_back(static_cast<char>('0' + fraction / 10));
  if (fraction % 10 != 0) out->push_back(static_cast<char>('0' + fraction % 10));
}

// About 32 MiB of CSV with an integer, a decimal, a 50-value string, an ISO
// date, a boolean and a quoted comment column: the same rows, from the same
// generator, as writeCsv in bench/files/files.mjs, so that this measures the
// data the daemon benchmark profiles.
const std::string& sample_csv() {
  static const std::string csv = [] {
    std::string text = "id,amount,city,day,active,comment\n";
    uint32_t state = 1;
    for (uint64_t id = 1; text.size() < (32u << 20); ++id) {
      state = state * 1103515245u + 12345u;
      text += std::to_string(id);
      text += ',';
      append_hundredths(static_cast<int64_t>(state % 2000000) - 500000, &text);
      text += ",city" + std::to_string(state % 50) + ",2024-";
      const uint32_t month = state % 12 + 1;
      const uint32_t day = state % 28 + 1;
      text += (month < 10 ? "0" : "") + std::to_string(month) + "-" + (day < 10 ? "0" : "") + std::to_string(day);
      text += state % 3 == 0 ? ",true," : ",false,";
      if (state % 7 != 0) text += "\"note " + std::to_string(state % 1000) + ", ok\"";
      text += '\n';
    }
    return text;
  }();
  return csv;
}

const std::string& sample_binary() {
  static const std::string data = [] {
    std::string bytes(64u << 20, '\0');
    std::mt19937_64 random(9);
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      const uint64_t value = random();
      std::memcpy(bytes.data() + i, &value, 8);
    }
    return bytes;
  }();
  return data;
}

struct CountingVisitor {
  uint64_t fields = 0;
  bool on_field(std::string_view value, bool) {
    fields += value.size() + 1;
    return true;
  }
  bool on_record_end(uint64_t) { return true; }
  void on_malformed(uint64_t, const char*) {}
};

// Parses the sample CSV in 1 MiB chunks once per iteration with the block
// scanner of `level`.
void parse_sample_csv(benchmark::State& state, heavylift::CsvScanLevel level) {
  const std::string& csv = sample_csv();
  for (auto _ : state) {
    heavylift::CsvParser parser(',', 1 << 20, level);
    CountingVisitor visitor;
    for (size_t offset = 0; offset < csv.size(); offset += kChunk) {
      (void)parser.feed(std::string_view(csv).substr(offset, kChunk), visitor);
    }
    (void)parser.finish(visitor);
    benchmark::DoNotOptimize(visitor.fields);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
}

void BM_CsvParse(benchmark::State& state) { parse_sample_csv(state, heavylift::best_csv_scan_level()); }
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

// The parser with each block scanner: 0 portable, 1 SSE2, 2 AVX2.
void BM_CsvParseScanLevel(benchmark::State& state) {
  const auto level = static_cast<heavylift::CsvScanLevel>(state.range(0));
  if (heavylift::csv_block_scan(level) == nullptr) {
    state.SkipWithError("this CPU lacks the scanner's instructions");
    return;
  }
  parse_sample_csv(state, level);
}
BENCHMARK(BM_CsvParseScanLevel)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_CsvProfile(benchmark::State& state) {
  const std::string& csv = sample_csv();
  for (auto _ : state) {
    heavylift::ProfileLimits limits;
    limits.max_bad_row_examples = static_cast<uint32_t>(state.range(0));
    heavylift::CsvProfiler profiler({}, limits);
    for (size_t offset = 0; offset < csv.size(); offset += kChunk) {
      (void)profiler.feed(std::string_view(csv).substr(offset, kChunk));
    }
    heavylift::v1::DataProfile profile;
    (void)profiler.finish(&profile);
    benchmark::DoNotOptimize(profile);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
}
BENCHMARK(BM_CsvProfile)->Arg(10)->Arg(0)->Unit(benchmark::kMillisecond);

void BM_Sha256(benchmark::State& state) {
  const std::string& data = sample_binary();
  heavylift::v1::DigestSelection selection;
  selection.set_sha256(true);
  for (auto _ : state) benchmark::DoNotOptimize(heavylift::digest_bytes(data, selection));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Sha256)->Unit(benchmark::kMillisecond);

void BM_AllDigests(benchmark::State& state) {
  const std::string& data = sample_binary();
  for (auto _ : state) benchmark::DoNotOptimize(heavylift::digest_bytes(data, {}));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_AllDigests)->Unit(benchmark::kMillisecond);

// SHA-256 + XXH3 + zstd level 3 over random bytes (state.range(0) == 0) or CSV text (1).
void BM_UploadPipeline(benchmark::State& state) {
  const std::string& data = state.range(0) == 0 ? sample_binary() : sample_csv();
  heavylift::v1::UploadOptions options;
  options.mutable_digests()->set_sha256(true);
  options.mutable_digests()->set_xxh3_64(true);
  options.set_compression(heavylift::v1::COMPRESSION_FORMAT_ZSTD);
  options.set_compression_level(3);
  for (auto _ : state) {
    auto pipeline = heavylift::UploadPipeline::create(options, heavylift::FilesLimits{}, "").value();
    for (size_t offset = 0; offset < data.size(); offset += kChunk) {
      (void)pipeline->write(std::string_view(data).substr(offset, kChunk));
    }
    heavylift::v1::UploadResult result;
    (void)pipeline->finish(&result);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_UploadPipeline)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
