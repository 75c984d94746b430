// libFuzzer target for the projected BSON decoder that writes typed columns.
// Any bytes must decode without a crash, and the outcome must equal
// BsonDecoder's: the same validity, the same violations, and for a valid
// document the same column values as the tree's values converted.
#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "same_column.h"
#include "store/bson_columns.h"
#include "store/schema.h"

namespace {

// Every scalar type, an enum, a nested Object and fields the projection drops.
constexpr char kSchema[] = R"({"version":1,"models":[{"name":"Specimen","collection":"specimens","table":"specimens",
  "fields":[{"name":"_id","type":"ObjectId","required":true},{"name":"label","type":"String","required":true},
  {"name":"kind","type":"String","enum":["plain","edge"]},{"name":"born","type":"Date"},
  {"name":"price","type":"Decimal128"},{"name":"small","type":"Int32"},{"name":"big","type":"BigInt"},
  {"name":"ratio","type":"Double"},{"name":"score","type":"Number"},{"name":"active","type":"Boolean"},
  {"name":"ref","type":"ObjectId"},{"name":"tags","type":"Array","of":{"type":"String"}},
  {"name":"address","type":"Object","fields":[{"name":"city","type":"String","required":true},
    {"name":"zip","type":"Int32"}]},
  {"name":"counters","type":"Map","of":{"type":"Number"}}]}]})";

const std::vector<std::string> kPaths = {"label", "kind",  "born",  "price", "small",        "big",
                                         "ratio", "score", "active", "ref",  "address.city", "address.zip"};

const heavylift::ModelSchema& projected() {
  static const heavylift::Schema schema = heavylift::parse_schema(kSchema).value();
  static const heavylift::ModelSchema model = schema.models.front().project(kPaths, "fuzz").value();
  return model;
}

heavylift::ColumnBatch empty_batch() {
  heavylift::ColumnBatch batch;
  for (const std::string& path : kPaths) {
    batch.columns.emplace_back().kind = heavylift::BsonColumnDecoder::kind_for(projected().find_path(path)->type);
  }
  return batch;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static heavylift::BsonColumnDecoder decoder = heavylift::BsonColumnDecoder::create(projected(), kPaths, "fuzz").value();
  heavylift::ColumnBatch batch = empty_batch();
  std::vector<heavylift::Violation> violations;
  const bool valid = decoder.decode(data, size, &batch, &violations);

  heavylift::Value record;
  std::vector<heavylift::Violation> tree_violations;
  const bool tree_valid = heavylift::BsonDecoder(projected()).decode(data, size, &record, &tree_violations);
  if (valid != tree_valid || violations.size() != tree_violations.size()) std::abort();
  for (size_t i = 0; i < violations.size(); ++i) {
    const heavylift::Violation& a = violations[i];
    const heavylift::Violation& b = tree_violations[i];
    if (a.collection != b.collection || a.id != b.id || a.field != b.field || a.expected != b.expected ||
        a.found != b.found) {
      std::abort();
    }
  }
  if (!valid) {
    for (const heavylift::Column& column : batch.columns) {
      if (column.size() != 0) std::abort();
    }
    return 0;
  }
  heavylift::ColumnBatch expected = empty_batch();
  for (size_t i = 0; i < kPaths.size(); ++i) heavylift::append_value(record.get_path(kPaths[i]), expected.columns[i]);
  for (size_t i = 0; i < kPaths.size(); ++i) {
    if (!heavylift::same_column(batch.columns[i], expected.columns[i])) std::abort();
  }
  return 0;
}
