// Micro-benchmarks of the aggregation core on typed columns and of the
// schema-driven BSON decoder with a projection. bench/aggregate runs them
// beside DuckDB and plain JavaScript. HEAVYLIFT_BENCH_ROWS sets the rows of
// BM_AggregateCore (default 1,000,000).
#include <benchmark/benchmark.h>
#include <bson/bson.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "store/bson_columns.h"
#include "store/bson_decoder.h"
#include "store/schema.h"
#include "tasks/aggregate/aggregator.h"

namespace heavylift {
namespace {

constexpr size_t kBatchRows = 4096;
constexpr int64_t kDayMs = 86'400'000;
const char* const kTypes[] = {"view", "click", "purchase", "refund"};

size_t bench_rows() {
  const char* text = std::getenv("HEAVYLIFT_BENCH_ROWS");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 1'000'000;
}

// Batches of (type, at, amount) rows: 4 types over 30 days, uniform amounts.
std::vector<ColumnBatch> make_batches(size_t rows) {
  std::mt19937_64 random(42);
  std::vector<ColumnBatch> batches;
  for (size_t start = 0; start < rows; start += kBatchRows) {
    ColumnBatch& batch = batches.emplace_back();
    batch.rows = std::min(kBatchRows, rows - start);
    batch.columns.resize(3);
    batch.columns[0].kind = Column::Kind::kText;
    batch.columns[1].kind = Column::Kind::kInteger;
    batch.columns[2].kind = Column::Kind::kNumber;
    for (size_t i = 0; i < batch.rows; ++i) {
      batch.columns[0].append_text(kTypes[random() % 4]);
      batch.columns[1].integers.push_back(1'700'000'000'000 + static_cast<int64_t>(random() % (30 * kDayMs)));
      batch.columns[2].numbers.push_back(static_cast<double>(random() % 1'000'000) / 100.0);
      for (Column& column : batch.columns) column.present.push_back(1);
    }
  }
  return batches;
}

// Group by type and day with count, sum, mean, stddev and exact p50/p90/p99.
AggregationPlan event_plan() {
  AggregationPlan plan;
  plan.keys.push_back(KeySpec{0, v1::KeyValue::kText});
  KeySpec day{1, v1::KeyValue::kTimeMs};
  day.bucketed = true;
  day.unit = BucketUnit::kDay;
  plan.keys.push_back(day);
  const v1::AggregateSpec::Kind kinds[] = {v1::AggregateSpec::KIND_COUNT, v1::AggregateSpec::KIND_SUM,
                                           v1::AggregateSpec::KIND_MEAN, v1::AggregateSpec::KIND_STDDEV,
                                           v1::AggregateSpec::KIND_QUANTILES};
  for (const auto kind : kinds) {
    AggregateSpec spec;
    spec.kind = kind;
    spec.name = v1::AggregateSpec::Kind_Name(kind);
    spec.column = kind == v1::AggregateSpec::KIND_COUNT ? AggregateSpec::kNoColumn : 2;
    if (kind == v1::AggregateSpec::KIND_QUANTILES) spec.quantiles = {0.5, 0.9, 0.99};
    plan.aggregates.push_back(spec);
  }
  return plan;
}

void BM_AggregateCore(benchmark::State& state) {
  const size_t rows = bench_rows();
  const std::vector<ColumnBatch> batches = make_batches(rows);
  const AggregationPlan plan = event_plan();
  AggregateLimits limits;
  limits.max_request_memory_bytes = uint64_t{1} << 36;
  for (auto _ : state) {
    Aggregator aggregator(plan, limits);
    for (const ColumnBatch& batch : batches) {
      if (!aggregator.add(batch).ok()) state.SkipWithError("aggregator limit");
    }
    v1::AggregateResponse response;
    aggregator.finish(&response);
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
}
BENCHMARK(BM_AggregateCore)->Unit(benchmark::kMillisecond)->UseRealTime();

constexpr char kEventSchema[] = R"({"version":1,"models":[{"name":"Event","collection":"events","table":"events",
  "fields":[{"name":"_id","type":"ObjectId","required":true},{"name":"user","type":"ObjectId","required":true},
  {"name":"type","type":"String","required":true,"enum":["view","click","purchase","refund"]},
  {"name":"amount","type":"Double","required":true},{"name":"quantity","type":"Int32","required":true},
  {"name":"at","type":"Date","required":true}]}]})";

// 100,000 event documents of six fields.
std::vector<std::vector<uint8_t>> event_documents() {
  std::vector<std::vector<uint8_t>> documents;
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    bson_t document;
    bson_init(&document);
    bson_oid_t id;
    bson_oid_init(&id, nullptr);
    BSON_APPEND_OID(&document, "_id", &id);
    BSON_APPEND_OID(&document, "user", &id);
    // BSON_APPEND_UTF8 evaluates its value twice, so the type is picked first.
    const char* type = kTypes[random() % 4];
    BSON_APPEND_UTF8(&document, "type", type);
    BSON_APPEND_DOUBLE(&document, "amount", static_cast<double>(random() % 100000) / 100.0);
    BSON_APPEND_INT32(&document, "quantity", static_cast<int32_t>(random() % 10));
    BSON_APPEND_DATE_TIME(&document, "at", 1'700'000'000'000 + static_cast<int64_t>(random() % 1'000'000'000));
    documents.emplace_back(bson_get_data(&document), bson_get_data(&document) + document.len);
    bson_destroy(&document);
  }
  return documents;
}

const std::vector<std::string> kProjection = {"type", "amount", "at"};

// Decodes event documents into a value tree keeping type, amount and at
// (the projection an aggregation by type and day of amount uses).
void BM_BsonDecodeProjected(benchmark::State& state) {
  const Schema schema = parse_schema(kEventSchema).value();
  const ModelSchema projected = schema.models[0].project(kProjection, "bench").value();
  const std::vector<std::vector<uint8_t>> documents = event_documents();
  const BsonDecoder decoder(projected);
  std::vector<Violation> violations;
  for (auto _ : state) {
    for (const auto& bytes : documents) {
      Value record;
      if (!decoder.decode(bytes.data(), bytes.size(), &record, &violations)) {
        state.SkipWithError("a document broke the schema");
        return;
      }
      benchmark::DoNotOptimize(record);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * documents.size()));
}
BENCHMARK(BM_BsonDecodeProjected)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same documents and projection decoded straight into typed columns, in
// batches of 4096 rows as the aggregation reads them.
void BM_BsonDecodeColumns(benchmark::State& state) {
  const Schema schema = parse_schema(kEventSchema).value();
  const ModelSchema projected = schema.models[0].project(kProjection, "bench").value();
  const std::vector<std::vector<uint8_t>> documents = event_documents();
  BsonColumnDecoder decoder = BsonColumnDecoder::create(projected, kProjection, "bench").value();
  ColumnBatch batch;
  batch.columns.resize(kProjection.size());
  for (size_t i = 0; i < kProjection.size(); ++i) {
    batch.columns[i].kind = BsonColumnDecoder::kind_for(projected.find_path(kProjection[i])->type);
  }
  std::vector<Violation> violations;
  for (auto _ : state) {
    for (const auto& bytes : documents) {
      if (!decoder.decode(bytes.data(), bytes.size(), &batch, &violations)) {
        state.SkipWithError("a document broke the schema");
        return;
      }
      if (++batch.rows == kBatchRows) {
        benchmark::DoNotOptimize(batch.columns[0].text_bytes.data());
        batch.rows = 0;
        for (Column& column : batch.columns) column.clear();
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * documents.size()));
}
BENCHMARK(BM_BsonDecodeColumns)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace heavylift
