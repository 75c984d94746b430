// Where readers deliver decoded records. A reader calls accept() for each
// record that matches the schema and reject() for each that does not. A
// sink that only needs some scalar fields as typed columns also returns a
// batch from column_batch(). A reader that can decode straight into columns
// then appends one row per valid record there and calls accept_row()
// instead of accept().
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "store/bson_decoder.h"
#include "store/columns.h"
#include "store/record.h"

namespace heavylift {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Takes a valid record. A non-OK status stops the read with that status.
  virtual Status accept(Value& record) = 0;
  // Takes the violations of one record that broke the schema. A non-OK
  // status stops the read (the STOP policy).
  virtual Status reject(std::vector<Violation>& violations) = 0;

  // The batch rows are appended to, or nullptr when the sink takes records
  // only through accept(). Column i contains the value at column_paths()[i].
  virtual ColumnBatch* column_batch() { return nullptr; }
  virtual std::vector<std::string> column_paths() const { return {}; }
  // Takes the row just appended to every column of column_batch().
  virtual Status accept_row() { return Status::Ok(); }
};

}  // namespace heavylift
