// Micro-benchmark of the binary COPY decoder on the Event rows the
// aggregation benchmark reads from PostgreSQL: _id, type, amount and at, one
// CopyData message per tuple as PostgreSQL sends them, into typed columns in
// batches of 4096 rows.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "store/pg_copy.h"
#include "store/schema.h"

namespace heavylift {
namespace {

constexpr size_t kRows = 100'000;
constexpr size_t kBatchRows = 4096;

constexpr char kEventSchema[] = R"({"version":1,"models":[{"name":"Event","collection":"events","table":"events",
  "fields":[{"name":"_id","type":"ObjectId","required":true,"column":{"name":"_id"}},
  {"name":"user","type":"ObjectId","required":true,"column":{"name":"user"}},
  {"name":"type","type":"String","required":true,"enum":["view","click","purchase","refund"],"column":{"name":"type"}},
  {"name":"amount","type":"Double","required":true,"column":{"name":"amount"}},
  {"name":"quantity","type":"Int32","required":true,"column":{"name":"quantity"}},
  {"name":"at","type":"Date","required":true,"column":{"name":"at"}}]}]})";

const std::vector<std::string> kPaths = {"type", "amount", "at"};

void append_be(uint64_t value, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void append_field(const std::string& bytes, std::string* out) {
  append_be(bytes.size(), 4, out);
  out->append(bytes);
}

// The header, one message per tuple, then the trailer, as COPY ... (FORMAT
// binary) of (_id, type, amount, at) writes them.
std::vector<std::string> event_messages() {
  static const char* const kTypes[] = {"view", "click", "purchase", "refund"};
  std::mt19937_64 random(42);
  std::vector<std::string> messages;
  std::string header("PGCOPY\n\377\r\n\0", 11);
  append_be(0, 8, &header);
  for (size_t i = 0; i < kRows; ++i) {
    std::string tuple = i == 0 ? header : std::string();
    append_be(4, 2, &tuple);
    char id[25];
    std::snprintf(id, sizeof(id), "%024zx", i + 1);
    append_field(id, &tuple);
    append_field(kTypes[i % 4], &tuple);
    const double amount = static_cast<double>(random() % 1'000'000) / 100.0;
    uint64_t bits;
    std::memcpy(&bits, &amount, 8);
    std::string value;
    append_be(bits, 8, &value);
    append_field(value, &tuple);
    value.clear();
    append_be(static_cast<uint64_t>(753'315'200'000'000 + static_cast<int64_t>(random() % 2'592'000'000'000)), 8, &value);
    append_field(value, &tuple);
    messages.push_back(std::move(tuple));
  }
  messages.emplace_back("\xff\xff", 2);
  return messages;
}

// Takes rows into typed columns and empties them every 4096 rows.
class BatchSink : public RecordSink {
 public:
  BatchSink() {
    batch_.columns.resize(3);
    batch_.columns[0].kind = Column::Kind::kText;
    batch_.columns[1].kind = Column::Kind::kNumber;
    batch_.columns[2].kind = Column::Kind::kInteger;
  }
  Status accept(Value&) override { return Error::internal("a row was not read into columns"); }
  Status reject(std::vector<Violation>&) override { return Error::internal("a row broke the schema"); }
  ColumnBatch* column_batch() override { return &batch_; }
  std::vector<std::string> column_paths() const override { return kPaths; }
  Status accept_row() override {
    if (++batch_.rows == kBatchRows) {
      benchmark::DoNotOptimize(batch_.columns[0].text_bytes.data());
      batch_.rows = 0;
      for (Column& column : batch_.columns) column.clear();
    }
    return Status::Ok();
  }

 private:
  ColumnBatch batch_;
};

// Feeds `order` (the header's message first, the trailer last) to a decoder
// into typed columns on each iteration.
void decode_columns(benchmark::State& state, const std::vector<const std::string*>& order) {
  const Schema schema = parse_schema(kEventSchema).value();
  const ModelSchema projected = schema.models[0].project(kPaths, "bench").value();
  const std::vector<PgCopyDecoder::ColumnType> columns = {
      {"_id", pg_type::kBpchar}, {"type", pg_type::kText}, {"amount", pg_type::kFloat8}, {"at", pg_type::kTimestamptz}};
  for (auto _ : state) {
    BatchSink sink;
    PgCopyDecoder decoder = PgCopyDecoder::create(projected, columns, sink).value();
    for (const std::string* message : order) {
      if (!decoder.push(reinterpret_cast<const uint8_t*>(message->data()), message->size())) {
        state.SkipWithError(decoder.status().error().message.c_str());
        return;
      }
    }
    if (!decoder.finish().ok()) state.SkipWithError("the stream did not end with its trailer");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRows));
}

void BM_PgCopyDecodeColumns(benchmark::State& state) {
  const std::vector<std::string> messages = event_messages();
  std::vector<const std::string*> order;
  for (const std::string& message : messages) order.push_back(&message);
  decode_columns(state, order);
}
BENCHMARK(BM_PgCopyDecodeColumns)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same number of rows from the first 256 messages over and over. These
// stay in the CPU cache, as a row that PQgetCopyData has just copied does,
// so the gap to BM_PgCopyDecodeColumns estimates the time spent waiting for
// memory on 100,000 messages spread over the heap.
void BM_PgCopyDecodeColumnsCached(benchmark::State& state) {
  constexpr size_t kCached = 256;
  const std::vector<std::string> messages = event_messages();
  std::vector<const std::string*> order;
  // Message 0 carries the header, so the rows after the first 256 repeat
  // messages 1 to 255.
  for (size_t i = 0; i < kRows; ++i) order.push_back(&messages[i < kCached ? i : 1 + i % (kCached - 1)]);
  order.push_back(&messages.back());
  decode_columns(state, order);
}
BENCHMARK(BM_PgCopyDecodeColumnsCached)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace heavylift
