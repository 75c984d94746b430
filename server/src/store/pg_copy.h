// Decoder for the output of COPY (SELECT ...) TO STDOUT (FORMAT binary),
// checked against a model of the shared schema. The query selects one
// column per scalar, Array or Map field of the model, in schema order
// (nested Objects flattened). Each tuple goes straight to a RecordSink: into
// the sink's typed columns when it takes columns, else as a value-tree
// record. SQL NULL is read as a missing field, and a nested Object is present
// when any of its columns is not NULL.
//
// A value that does not fit its field breaks the schema and is reported as
// a violation. A scalar is shown there as PostgreSQL's text output shows it.
// Such values are:
// - a bigint beyond an Int32 field, a numeric beyond Decimal128's 34 digits,
// - an infinite timestamp or date,
// - text that is not UTF-8 or not in the enum,
// - an ObjectId that is not 24 hex digits,
// - a multi-dimensional array, or one whose lower bound is not 1.
// Bytes that are not valid binary COPY output (a short value, a bad length,
// a wrong field count) stop the read with an error naming the row and the
// column.
//
// Thread-safety: a PgCopyDecoder keeps per-row scratch state, so use one per
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/column_values.h"
#include "store/record_sink.h"
#include "store/schema.h"

namespace heavylift {

// OIDs of the built-in PostgreSQL types the decoder reads, as pg_type.dat
// fixes them for every PostgreSQL version.
namespace pg_type {
inline constexpr uint32_t kBool = 16;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kBpchar = 1042;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestamptz = 1184;
inline constexpr uint32_t kNumeric = 1700;
inline constexpr uint32_t kUuid = 2950;
inline constexpr uint32_t kJsonb = 3802;
inline constexpr uint32_t kBoolArray = 1000;
inline constexpr uint32_t kInt2Array = 1005;
inline constexpr uint32_t kInt4Array = 1007;
inline constexpr uint32_t kTextArray = 1009;
inline constexpr uint32_t kBpcharArray = 1014;
inline constexpr uint32_t kVarcharArray = 1015;
inline constexpr uint32_t kInt8Array = 1016;
inline constexpr uint32_t kFloat4Array = 1021;
inline constexpr uint32_t kFloat8Array = 1022;
inline constexpr uint32_t kTimestampArray = 1115;
inline constexpr uint32_t kDateArray = 1182;
inline constexpr uint32_t kTimestamptzArray = 1185;
inline constexpr uint32_t kNumericArray = 1231;
inline constexpr uint32_t kUuidArray = 2951;
}  // namespace pg_type

// Returns the name of a type OID for messages: "int4", "text[]", or
// "type oid 1234" for a type the decoder does not read.
std::string pg_type_name(uint32_t oid);

class PgCopyDecoder {
 public:
  // One selected column: its name and its type OID (PQftype).
  struct ColumnType {
    std::string name;
    uint32_t oid = 0;
  };

  // `model` and `sink` must outlive the decoder. `columns` describes the
  // query's columns, one per leaf of `model` in schema order. Fails with
  // FAILED_PRECONDITION (reason COLUMN_TYPE) naming the column, its type and
  // the types its field reads when a column cannot be read as its field, or
  // when the count differs. When the sink takes columns, each of its
  // column_paths() must name a scalar field of `model`, else INVALID_ARGUMENT
  // naming "aggregates".
  static Result<PgCopyDecoder> create(const ModelSchema& model, const std::vector<ColumnType>& columns,
                                      RecordSink& sink);

  // Decodes the next `size` bytes of the COPY stream, which may end anywhere
  // inside a tuple. For each complete tuple, calls the sink's accept_row()
  // (after appending one row to every column) or accept() when the row
  // matches the schema, else reject() with its violations. Returns the
  // sink's status when it stops the read. Malformed bytes fail with INTERNAL
  // (reason CORRUPT_INPUT) naming the row (counted from 1) and the column,
  // and every later call fails the same way.
  Status feed(const uint8_t* data, size_t size);

  // Same as feed() without building a Status, for a reader that feeds one
  // message per row: returns false when the read stopped, and status() then
  // returns why.
  bool push(const uint8_t* data, size_t size);
  // The error that stopped the read, or OK.
  Status status() const;

  // Checks that the stream ended with the COPY trailer and no partial
  // tuple. Call once, after the last feed().
  Status finish() const;

  // Tuples decoded so far, valid or not.
  uint64_t rows() const { return rows_; }

 private:
  // Decode plan of one leaf on the column path, chosen once per request from its
  // field type and column type. kGeneral goes through the full decoder.
  enum class Plan : uint8_t { kGeneral, kObjectId, kText, kTimestamp, kDate, kInt2, kInt4, kInt8, kFloat8, kBool };
  struct Leaf {
    const FieldSchema* field = nullptr;
    std::string path;
    std::string column;
    uint32_t oid = 0;
    // Element type of an array column.
    uint32_t element_oid = 0;
    Plan plan = Plan::kGeneral;
    // True when the sink's batch has a column of this leaf.
    bool in_batch = false;
  };
  // The decoded value of one leaf in the current row.
  struct Slot {
    ScalarView value;
    // Storage `value.bytes` points into: an ObjectId's 12 bytes or a
    // Decimal128's 16 bytes.
    char raw[16];
    // Storage for values built as text: a numeric, a uuid.
    std::string text;
  };
  // One field of a tuple. `length` is -1 for NULL.
  struct Span {
    const uint8_t* data = nullptr;
    int32_t length = -1;
  };
  enum class Step { kNeedMore, kTuple, kTrailer, kFailed };

  PgCopyDecoder(const ModelSchema& model, RecordSink& sink) : model_(model), sink_(sink) {}
  static Plan plan_for(FieldType type, uint32_t oid);
  // The per-row steps return false (or Step::kFailed) after storing the
  // error in failure_, so no Status is built for a row that succeeds.
  bool fail(Error error);
  bool consume(const uint8_t* data, size_t size, size_t* used);
  Step frame_tuple(const uint8_t* data, size_t size, size_t* used);
  bool decode_tuple();
  // Decodes the current tuple into slots_ by each leaf's plan. Returns
  // false, having reported nothing, when the row is not plainly valid.
  bool decode_planned();
  // Appends the slots_ of the column leaves to the batch.
  void append_row();
  bool decode_into_columns(bool* valid);
  Status decode_record(Value* record, bool* valid);
  Status build_fields(const std::vector<FieldSchema>& fields, const std::string& prefix, size_t* next_leaf,
                      Value* out, bool* any_column, bool* valid);
  Status decode_leaf(size_t leaf, Value* out, bool* valid);
  // Reports whether the current tuple has every required field, an Object's
  // only when the Object is present.
  bool has_required() const;
  bool check_required(const std::vector<FieldSchema>& fields, size_t* next_leaf, bool* any_column) const;
  Error corrupt(uint64_t row, size_t leaf, const std::string& problem) const;

  const ModelSchema& model_;
  RecordSink& sink_;
  std::vector<Leaf> leaves_;
  std::vector<Span> spans_;
  std::vector<Slot> slots_;
  // For a sink that takes columns: the batch and, per column, its leaf.
  ColumnBatch* batch_ = nullptr;
  std::vector<size_t> column_leaves_;
  // True when the model keeps an Array or Map, which only records carry.
  bool records_only_ = false;
  // True when the model has no nested Object, so a row has its required
  // fields when required_leaves_ are all non-NULL.
  bool flat_ = true;
  std::vector<size_t> required_leaves_;
  std::vector<Violation> violations_;
  // The found value or the problem of the last value that failed.
  std::string detail_;
  // Bytes of a tuple that continues in the next feed().
  std::string pending_;
  bool header_read_ = false;
  bool trailer_read_ = false;
  uint64_t rows_ = 0;
  // Where the last tuple ran out of bytes, for finish(): 0 in the field
  // count, i + 1 in field i.
  size_t short_field_ = 0;
  // The error that stopped the stream; later calls return it again.
  std::optional<Error> failure_;
};

}  // namespace heavylift
