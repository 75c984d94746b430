// Reads the records of a model from a PostgreSQL table made by the schema's
// CREATE TABLE, through a server-side cursor in text format, and decodes
// each row with the schema's types. SQL NULL is read as a missing field,
// since PostgreSQL has one NULL; a nested Object is present when any of its
// columns is not NULL.
//
// Thread-safety: read_postgres may run on many threads at once, each with its
// own connection.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/task_context.h"
#include "heavylift/v1/aggregate.pb.h"
#include "store/record_sink.h"
#include "store/schema.h"

namespace heavylift {

// Rows fetched per FETCH from the cursor.
inline constexpr int kPostgresFetchRows = 4096;

// Decodes one column value in PostgreSQL text output as `field`. Returns
// false and appends a violation under `path` when the text does not hold a
// value of the field's type (a numeric beyond Decimal128's 34 digits, an
// ObjectId that is not 24 hex digits, an enum value not listed).
bool decode_pg_text(const FieldSchema& field, std::string_view text, const std::string& path, Value* out,
                    std::vector<Violation>* violations);

// Returns the SELECT list for `model`'s columns (dates as epoch milliseconds).
std::string postgres_select_list(const ModelSchema& model);

// Streams every row of the table into `sink`. Fails with UNAVAILABLE when
// the server cannot be reached or a query fails, with the sink's status when
// it stops the read, and with the context's status when the call is
// cancelled or its deadline passes (checked once per fetch).
Status read_postgres(const v1::PostgresSource& source, const ModelSchema& model, RecordSink& sink,
                     const TaskContext& context);

}  // namespace heavylift
