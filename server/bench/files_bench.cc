// Micro-benchmarks of the file tasks on one thread: the CSV parser alone
// (with the fastest block scanner, then with each one), the CSV profile
// with type inference, the digests and the single-pass upload pipeline
// (SHA-256 + XXH3 + zstd level 3). Throughput is bytes of input per CPU
// second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "tasks/files/csv_parser.h"
#include "tasks/files/digest.h"
#include "tasks/files/profile.h"
#include "tasks/files/upload.h"

namespace {

constexpr size_t kChunk = 1 << 20;

// About 32 MiB of CSV with an integer, a decimal, a 50-value string, a date,
// a boolean and a quoted comment column.
const std::string& sample_csv() {
  static const std::string csv = [] {
    std::string text = "id,amount,city,day,active,comment\n";
    std::mt19937 random(7);
    for (int id = 1; text.size() < (32u << 20); ++id) {
      const uint32_t r = random();
      text += std::to_string(id) + "," + std::to_string(static_cast<int>(r % 2000000) - 500000) + "." +
              std::to_string(r % 100) + ",city" + std::to_string(r % 50) + ",2024-" +
              std::to_string(10 + r % 3) + "-" + std::to_string(10 + r % 18) + "," + (r % 3 == 0 ? "true" : "false") +
              "," + (r % 7 == 0 ? "" : "\"note " + std::to_string(r % 1000) + ", ok\"") + "\n";
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

void BM_CsvParse(benchmark::State& state) {
  const std::string& csv = sample_csv();
  for (auto _ : state) {
    heavylift::CsvParser parser(',', 1 << 20);
    CountingVisitor visitor;
    for (size_t offset = 0; offset < csv.size(); offset += kChunk) {
      (void)parser.feed(std::string_view(csv).substr(offset, kChunk), visitor);
    }
    (void)parser.finish(visitor);
    benchmark::DoNotOptimize(visitor.fields);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

// The parser with each block scanner: 0 portable, 1 SSE2, 2 AVX2.
void BM_CsvParseScanLevel(benchmark::State& state) {
  const auto level = static_cast<heavylift::CsvScanLevel>(state.range(0));
  if (heavylift::csv_block_scan(level) == nullptr) {
    state.SkipWithError("this CPU lacks the scanner's instructions");
    return;
  }
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
