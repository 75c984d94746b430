// libFuzzer target for the schema-driven BSON decoder. Any bytes must decode
// without a crash. A valid document's canonical Extended JSON must parse back
// (with libbson) into a document that decodes to the same JSON, unless a key
// starts with "$".
#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "store/bson_decoder.h"
#include "store/schema.h"

namespace {

// A model with every field type, as schema/generate.mjs describes it.
constexpr char kSchema[] = R"({"version":1,"models":[{"name":"Specimen","collection":"specimens","table":"specimens",
  "fields":[{"name":"_id","type":"ObjectId","required":true},{"name":"label","type":"String","required":true},
  {"name":"kind","type":"String","enum":["plain","edge"]},{"name":"born","type":"Date"},
  {"name":"price","type":"Decimal128"},{"name":"small","type":"Int32"},{"name":"big","type":"BigInt"},
  {"name":"ratio","type":"Double"},{"name":"score","type":"Number"},{"name":"active","type":"Boolean"},
  {"name":"tags","type":"Array","of":{"type":"String"}},
  {"name":"address","type":"Object","fields":[{"name":"city","type":"String","required":true}]},
  {"name":"counters","type":"Map","of":{"type":"Number"}}]}]})";

const heavylift::ModelSchema& model() {
  static const heavylift::Schema schema = heavylift::parse_schema(kSchema).value();
  return schema.models.front();
}

// Keys starting with "$" read as Extended JSON operators ({"$numberInt": ...}),
// so documents with such keys do not survive a trip through JSON text.
bool has_dollar_key(const heavylift::Value& value) {
  for (const std::string& key : value.keys) {
    if (!key.empty() && key[0] == '$') return true;
  }
  for (const heavylift::Value& item : value.items) {
    if (has_dollar_key(item)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const heavylift::BsonDecoder decoder(model());
  heavylift::Value record;
  std::vector<heavylift::Violation> violations;
  if (!decoder.decode(data, size, &record, &violations) || has_dollar_key(record)) return 0;

  const std::string json = heavylift::to_canonical_json(record);
  bson_error_t error;
  bson_t* again = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()), &error);
  if (again == nullptr) std::abort();
  heavylift::Value second;
  violations.clear();
  const bool valid = decoder.decode(bson_get_data(again), again->len, &second, &violations);
  bson_destroy(again);
  if (!valid || heavylift::to_canonical_json(second) != json) std::abort();
  return 0;
}
