// Projected BSON decoding straight into typed columns. It checks every
// field of the model (usually a projection) as BsonDecoder does. It skips the
// fields the model does not name by their length. It appends the scalar
// fields an aggregation reads to a ColumnBatch, with no value tree and no
// allocation per document. A document that breaks the schema, or that
// contains an Array or Map the model keeps, is decoded again by BsonDecoder, so
// violations are reported exactly as BsonDecoder reports them and such a
// document's values are the same.
//
// Thread-safety: a BsonColumnDecoder keeps per-document scratch state; use
// one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/bson_decoder.h"
#include "store/column_values.h"
#include "store/record_sink.h"
#include "store/schema.h"

namespace heavylift {

class BsonColumnDecoder {
 public:
  // `model` must outlive the decoder. Column i of each batch takes the value
  // at `paths[i]`, a dotted path to a scalar field of `model`. An unknown
  // path, or one that names an Array, Map or Object, fails with
  // INVALID_ARGUMENT naming `request_field`.
  static Result<BsonColumnDecoder> create(const ModelSchema& model, const std::vector<std::string>& paths,
                                          const std::string& request_field);

  // Returns the column kind a scalar field of `type` is read as.
  static Column::Kind kind_for(FieldType type);

  // Decodes the document in `data[0, length)`. When it matches the schema,
  // appends one row to every column of `batch` (columns[i] for paths[i];
  // the caller counts batch->rows) and returns true. Otherwise appends the
  // violations BsonDecoder::decode would report, leaves the batch as it was
  // and returns false.
  bool decode(const uint8_t* data, size_t length, ColumnBatch* batch, std::vector<Violation>* violations);

 private:
  // One field of the model; an Object's children are nodes
  // [first_child, first_child + child_count).
  struct Node {
    const FieldSchema* field = nullptr;
    // The field's name, kept here so matching a key reads no FieldSchema.
    std::string_view name;
    uint32_t first_child = 0;
    uint32_t child_count = 0;
    // True when every enum value is valid UTF-8 without NUL.
    bool clean_enum = true;
  };
  // The value of a node in the document being decoded.
  struct Slot {
    ScalarView value;
    char decimal[16];
  };

  explicit BsonColumnDecoder(const ModelSchema& model) : model_(model), tree_decoder_(model) {}
  uint32_t add_nodes(const std::vector<FieldSchema>& fields);
  void reset(uint32_t first, uint32_t count);
  // Reads the fields of one (sub)document; returns false when the document
  // must go to the tree decoder.
  bool read_fields(bson_iter_t* iter, uint32_t first, uint32_t count);
  bool read_value(const Node& node, const bson_iter_t& iter, Slot* slot);
  bool check_required(uint32_t first, uint32_t count) const;
  bool decode_with_tree(const uint8_t* data, size_t length, ColumnBatch* batch, std::vector<Violation>* violations);

  const ModelSchema& model_;
  BsonDecoder tree_decoder_;
  std::vector<Node> nodes_;
  std::vector<Slot> slots_;
  // Per column: the node it reads and its dotted path.
  std::vector<uint32_t> column_nodes_;
  std::vector<std::string> column_paths_;
  // True when the model keeps an Array or Map, which only the tree decoder reads.
  bool tree_only_ = false;
};

// Hands BSON documents to a RecordSink: decoded straight into the sink's
// columns when it takes columns, else as records by BsonDecoder.
class BsonRecordReader {
 public:
  // `model` and `sink` must outlive the reader.
  static Result<BsonRecordReader> create(const ModelSchema& model, RecordSink& sink);

  // Decodes one document and passes it on. `fix` is called with the
  // violations of a document that breaks the schema before the sink gets
  // them. Returns the sink's status.
  template <typename Fix>
  Status read(const uint8_t* data, size_t length, Fix&& fix) {
    violations_.clear();
    bool valid;
    if (columns_) {
      valid = columns_->decode(data, length, batch_, &violations_);
      if (valid) return sink_.accept_row();
    } else {
      Value record;
      valid = records_.decode(data, length, &record, &violations_);
      if (valid) return sink_.accept(record);
    }
    fix(violations_);
    return sink_.reject(violations_);
  }
  Status read(const uint8_t* data, size_t length) {
    return read(data, length, [](std::vector<Violation>&) {});
  }

 private:
  BsonRecordReader(const ModelSchema& model, RecordSink& sink) : sink_(sink), records_(model) {}

  RecordSink& sink_;
  BsonDecoder records_;
  std::optional<BsonColumnDecoder> columns_;
  ColumnBatch* batch_ = nullptr;
  std::vector<Violation> violations_;
};

}  // namespace heavylift
