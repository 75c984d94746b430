// Drift check between the loaded record schema and the Node models in use:
// the models' JSON Schemas as Mongoose 8.10+ emits them with
// toJSONSchema({ useBsonType: true }), gathered into one JSON object keyed
// by model name (sdk/node's exportModelSchemas writes that file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/schema.h"

namespace heavylift {

// One difference, for example model "Event", field "amount", message
// "the schema has double, the Node model has number".
struct Drift {
  std::string model;
  std::string field;
  std::string message;
};

// Compares every model of `schema` with `models_json`. Returns the
// differences (empty when they agree), or INVALID_ARGUMENT when
// `models_json` is not a JSON object of JSON Schemas.
Result<std::vector<Drift>> check_schema_drift(const Schema& schema, std::string_view models_json);

// Runs `heavylift schema check --schema-file FILE --models FILE`, printing
// one line per drift to stderr. Returns 0 when the models agree, 1 on
// drift, 2 on a usage or file error.
int run_schema_command(int argc, const char* const* argv);

}  // namespace heavylift
