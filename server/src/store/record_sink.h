// Where readers deliver decoded records. A reader calls accept() for each
// record that matches the schema and reject() for each that does not.
#pragma once

#include <vector>

#include "core/error.h"
#include "store/bson_decoder.h"
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
};

}  // namespace heavylift
