// libFuzzer target for the binary COPY decoder. Input: one byte choosing the
// model and the column types, one byte choosing where the stream is split
// between two feed() calls, then the COPY stream. Any bytes must decode or
// fail without a crash. The two models of scalar fields differ in having a
// nested Object or not. For them the stream is decoded twice, into typed
// columns and into records, and both must agree: the same status, the same
// violations, and columns equal to the records' values converted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "same_column.h"
#include "store/bson_columns.h"
#include "store/pg_copy.h"
#include "store/schema.h"

namespace {

using heavylift::pg_type::kBool;
using heavylift::pg_type::kBpchar;
using heavylift::pg_type::kDate;
using heavylift::pg_type::kFloat4;
using heavylift::pg_type::kFloat8;
using heavylift::pg_type::kFloat8Array;
using heavylift::pg_type::kInt2;
using heavylift::pg_type::kInt4;
using heavylift::pg_type::kInt8;
using heavylift::pg_type::kJson;
using heavylift::pg_type::kJsonb;
using heavylift::pg_type::kNumeric;
using heavylift::pg_type::kNumericArray;
using heavylift::pg_type::kText;
using heavylift::pg_type::kTextArray;
using heavylift::pg_type::kTimestamp;
using heavylift::pg_type::kTimestamptz;
using heavylift::pg_type::kUuid;
using heavylift::pg_type::kVarchar;

// Every scalar type, an enum, a nested Object, an Array and a Map.
constexpr char kSchema[] = R"({"version":1,"models":[{"name":"Specimen","collection":"specimens","table":"specimens",
  "fields":[{"name":"_id","type":"ObjectId","required":true},{"name":"label","type":"String","required":true},
  {"name":"kind","type":"String","enum":["plain","edge"]},{"name":"born","type":"Date"},
  {"name":"price","type":"Decimal128"},{"name":"small","type":"Int32"},{"name":"big","type":"BigInt"},
  {"name":"ratio","type":"Double"},{"name":"score","type":"Number"},{"name":"active","type":"Boolean"},
  {"name":"address","type":"Object","fields":[{"name":"city","type":"String","required":true},
    {"name":"zip","type":"String"}]},
  {"name":"tags","type":"Array","of":{"type":"String"}},{"name":"readings","type":"Array","of":{"type":"Number"}},
  {"name":"counters","type":"Map","of":{"type":"Number"}}]}]})";

const std::vector<std::string> kPaths = {"_id",   "label", "kind",   "born",         "price",      "small",
                                         "big",   "ratio", "score",  "active",       "address.city", "address.zip"};
// The scalar paths outside the nested Object, which make a flat model.
const std::vector<std::string> kFlatPaths(kPaths.begin(), kPaths.begin() + 10);

// The column types each leaf may have, in schema order.
const std::vector<std::vector<uint32_t>> kScalarTypes = {
    {kBpchar, kText, kVarchar}, {kText, kUuid},   {kText},  {kTimestamptz, kTimestamp, kDate},
    {kNumeric, kInt8, kInt2},   {kInt4, kInt2, kInt8, kNumeric},   {kInt8, kInt4, kNumeric},
    {kFloat8, kFloat4, kNumeric, kInt4}, {kFloat8, kFloat4, kInt8, kNumeric}, {kBool}, {kText}, {kVarchar, kText}};
const std::vector<std::vector<uint32_t>> kCollectionTypes = {{kTextArray}, {kFloat8Array, kNumericArray}, {kJsonb, kJson}};

const heavylift::ModelSchema& full_model() {
  static const heavylift::Schema schema = heavylift::parse_schema(kSchema).value();
  return schema.models.front();
}

const heavylift::ModelSchema& scalar_model(bool flat) {
  static const heavylift::ModelSchema model = full_model().project(kPaths, "fuzz").value();
  static const heavylift::ModelSchema flat_model = full_model().project(kFlatPaths, "fuzz").value();
  return flat ? flat_model : model;
}

// Column types for the first `count` scalar leaves, plus the Array and Map
// leaves when `full` is set.
std::vector<heavylift::PgCopyDecoder::ColumnType> column_types(uint8_t choice, size_t count, bool full) {
  std::vector<std::vector<uint32_t>> options(kScalarTypes.begin(), kScalarTypes.begin() + count);
  if (full) options.insert(options.end(), kCollectionTypes.begin(), kCollectionTypes.end());
  std::vector<heavylift::PgCopyDecoder::ColumnType> columns;
  for (size_t i = 0; i < options.size(); ++i) {
    columns.push_back({"c" + std::to_string(i), options[i][(choice / (i + 1)) % options[i].size()]});
  }
  return columns;
}

class RecordCollector : public heavylift::RecordSink {
 public:
  heavylift::Status accept(heavylift::Value& record) override {
    records.push_back(record);
    return heavylift::Status::Ok();
  }
  heavylift::Status reject(std::vector<heavylift::Violation>& found) override {
    violations.insert(violations.end(), found.begin(), found.end());
    return heavylift::Status::Ok();
  }
  std::vector<heavylift::Value> records;
  std::vector<heavylift::Violation> violations;
};

class ColumnCollector : public RecordCollector {
 public:
  ColumnCollector(const heavylift::ModelSchema& model, const std::vector<std::string>& paths) : paths_(paths) {
    for (const std::string& path : paths) {
      const heavylift::Column::Kind kind = heavylift::BsonColumnDecoder::kind_for(model.find_path(path)->type);
      batch.columns.emplace_back().kind = kind;
      expected.columns.emplace_back().kind = kind;
    }
  }
  heavylift::ColumnBatch* column_batch() override { return &batch; }
  std::vector<std::string> column_paths() const override { return paths_; }
  heavylift::Status accept_row() override {
    ++batch.rows;
    return heavylift::Status::Ok();
  }
  heavylift::ColumnBatch batch;
  heavylift::ColumnBatch expected;

 private:
  std::vector<std::string> paths_;
};

// Feeds `stream` in two parts and finishes. Returns the first failure.
heavylift::Status run(heavylift::PgCopyDecoder& decoder, const uint8_t* stream, size_t size, size_t split) {
  heavylift::Status status = decoder.feed(stream, split);
  if (status.ok()) status = decoder.feed(stream + split, size - split);
  if (status.ok()) status = decoder.finish();
  return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // data[0] % 3: 0 for the scalar model, 1 for the flat one, 2 for the full one.
  const int model_choice = data[0] % 3;
  const auto choice = static_cast<uint8_t>(data[0] / 3);
  const uint8_t* stream = data + 2;
  const size_t stream_size = size - 2;
  const size_t split = stream_size * data[1] / 255;

  if (model_choice == 2) {
    RecordCollector records;
    auto decoder = heavylift::PgCopyDecoder::create(full_model(), column_types(choice, kPaths.size(), true), records);
    if (!decoder.ok()) std::abort();
    (void)run(decoder.value(), stream, stream_size, split);
    return 0;
  }

  const bool flat = model_choice == 1;
  const std::vector<std::string>& paths = flat ? kFlatPaths : kPaths;
  const heavylift::ModelSchema& model = scalar_model(flat);
  RecordCollector records;
  auto record_decoder = heavylift::PgCopyDecoder::create(model, column_types(choice, paths.size(), false), records);
  ColumnCollector columns(model, paths);
  auto column_decoder = heavylift::PgCopyDecoder::create(model, column_types(choice, paths.size(), false), columns);
  if (!record_decoder.ok() || !column_decoder.ok()) std::abort();
  const heavylift::Status record_status = run(record_decoder.value(), stream, stream_size, split);
  const heavylift::Status column_status = run(column_decoder.value(), stream, stream_size, split);

  if (record_status.ok() != column_status.ok()) std::abort();
  if (!record_status.ok() && record_status.error().message != column_status.error().message) std::abort();
  if (!columns.records.empty() || columns.violations.size() != records.violations.size()) std::abort();
  for (size_t i = 0; i < records.violations.size(); ++i) {
    const heavylift::Violation& a = records.violations[i];
    const heavylift::Violation& b = columns.violations[i];
    if (a.collection != b.collection || a.id != b.id || a.field != b.field || a.expected != b.expected ||
        a.found != b.found) {
      std::abort();
    }
  }
  if (columns.batch.rows != records.records.size()) std::abort();
  for (const heavylift::Value& record : records.records) {
    for (size_t i = 0; i < paths.size(); ++i) heavylift::append_value(record.get_path(paths[i]), columns.expected.columns[i]);
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!heavylift::same_column(columns.batch.columns[i], columns.expected.columns[i])) std::abort();
  }
  return 0;
}
