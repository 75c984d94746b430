// Reads the records of a model from a PostgreSQL table made by the schema's
// CREATE TABLE: the columns of the model's fields go through COPY (SELECT
// ...) TO STDOUT (FORMAT binary) inside a read-only transaction, and
// PgCopyDecoder (store/pg_copy.h) decodes each row with the schema's types
// straight into the sink.
//
// Thread-safety: read_postgres may run on many threads at once, each with its
// own connection.
#pragma once

#include "core/task_context.h"
#include "heavylift/v1/aggregate.pb.h"
#include "store/record_sink.h"
#include "store/schema.h"

namespace heavylift {

// Streams every row of the table (source.table, else the model's table) into
// `sink`. Fails with:
// - INVALID_ARGUMENT for a table name that is empty or contains NUL,
// - UNAVAILABLE when the server cannot be reached or a query fails,
// - FAILED_PRECONDITION when a column's type cannot be read as its field,
// - INTERNAL when the COPY data is malformed,
// - the sink's status when it stops the read,
// - the context's status when the call is cancelled or its deadline passes
//   (checked every 4096 rows).
Status read_postgres(const v1::PostgresSource& source, const ModelSchema& model, RecordSink& sink,
                     const TaskContext& context);

}  // namespace heavylift
