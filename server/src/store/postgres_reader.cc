#include "store/postgres_reader.h"

#include <bson/bson.h>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>

#include "store/pg_array.h"

namespace heavylift {
namespace {

struct ConnectionDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Connection = std::unique_ptr<PGconn, ConnectionDeleter>;
using QueryResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (const char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

void add_violation(std::vector<Violation>* violations, const std::string& path, const FieldSchema& field,
                   std::string_view text) {
  violations->push_back(Violation{"", "", path, field.expected(), fmt::format("text {}", quote_value(text))});
}

template <typename Integer>
bool parse_integer(std::string_view text, Integer* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_double(std::string_view text, double* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_object_id(std::string_view text, std::string* bytes) {
  if (text.size() != 24) return false;
  bytes->resize(12);
  for (size_t i = 0; i < 12; ++i) {
    uint8_t byte = 0;
    const auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, byte, 16);
    if (ec != std::errc() || end != text.data() + 2 * i + 2) return false;
    (*bytes)[i] = static_cast<char>(byte);
  }
  return true;
}

// Leaf columns in schema order, with the field and its dotted path.
struct LeafColumn {
  const FieldSchema* field;
  std::string path;
};

void collect_leaves(const std::vector<FieldSchema>& fields, const std::string& prefix, std::vector<LeafColumn>* out) {
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    if (field.type == FieldType::kObject) {
      collect_leaves(field.children, path, out);
    } else {
      out->push_back({&field, path});
    }
  }
}

// Builds the record document from the row's columns, consuming leaves in
// order. Returns whether any value in `fields` was present.
bool build_document(const std::vector<FieldSchema>& fields, PGresult* result, int row, int* column,
                    const std::string& prefix, Value* out, std::vector<Violation>* violations, bool* valid) {
  out->kind = ValueKind::kDocument;
  bool any = false;
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    out->keys.push_back(field.name);
    Value& item = out->items.emplace_back();
    bool reported = false;
    if (field.type == FieldType::kObject) {
      // An absent Object (every column NULL) has no required children to miss.
      std::vector<Violation> child_violations;
      bool child_valid = true;
      if (build_document(field.children, result, row, column, path, &item, &child_violations, &child_valid)) {
        violations->insert(violations->end(), child_violations.begin(), child_violations.end());
        *valid &= child_valid;
      } else {
        item = Value{};
      }
    } else {
      const int index = (*column)++;
      if (!PQgetisnull(result, row, index)) {
        const std::string_view text(PQgetvalue(result, row, index), static_cast<size_t>(PQgetlength(result, row, index)));
        reported = !decode_pg_text(field, text, path, &item, violations);
        *valid &= !reported;
      }
    }
    if (field.required && !reported && !item.present()) {
      violations->push_back(Violation{"", "", path, field.expected(), "missing"});
      *valid = false;
    }
    any |= item.present();
  }
  return any;
}

}  // namespace

bool decode_pg_text(const FieldSchema& field, std::string_view text, const std::string& path, Value* out,
                    std::vector<Violation>* violations) {
  bool ok = false;
  switch (field.type) {
    case FieldType::kObjectId:
      out->kind = ValueKind::kObjectId;
      ok = parse_object_id(text, &out->bytes);
      break;
    case FieldType::kString:
      out->kind = ValueKind::kString;
      out->bytes.assign(text);
      ok = bson_utf8_validate(text.data(), text.size(), false) &&
           (field.enum_values.empty() ||
            std::find(field.enum_values.begin(), field.enum_values.end(), out->bytes) != field.enum_values.end());
      break;
    case FieldType::kDate:
      out->kind = ValueKind::kDate;
      ok = parse_integer(text, &out->integer);
      break;
    case FieldType::kDecimal128: {
      bson_decimal128_t decimal;
      ok = bson_decimal128_from_string_w_len(std::string(text).c_str(), static_cast<int>(text.size()), &decimal);
      // libbson rounds nothing: a numeric with more than 34 significant
      // digits fails here, so it is reported instead of silently rounded.
      out->kind = ValueKind::kDecimal128;
      out->bytes.resize(16);
      std::memcpy(out->bytes.data(), &decimal.low, 8);
      std::memcpy(out->bytes.data() + 8, &decimal.high, 8);
      break;
    }
    case FieldType::kInt32: {
      int32_t value = 0;
      ok = parse_integer(text, &value);
      out->kind = ValueKind::kInt32;
      out->integer = value;
      break;
    }
    case FieldType::kBigInt:
      out->kind = ValueKind::kInt64;
      ok = parse_integer(text, &out->integer);
      break;
    case FieldType::kDouble:
      out->kind = ValueKind::kDouble;
      ok = parse_double(text, &out->number);
      break;
    case FieldType::kNumber: {
      double value = 0;
      ok = parse_double(text, &value);
      // The BSON type Mongoose's driver would write: int32 for integers in
      // int32 range other than -0, double otherwise.
      const bool negative_zero = value == 0 && std::signbit(value);
      if (ok && std::trunc(value) == value && value >= INT32_MIN && value <= INT32_MAX && !negative_zero) {
        out->kind = ValueKind::kInt32;
        out->integer = static_cast<int64_t>(value);
      } else {
        out->kind = ValueKind::kDouble;
        out->number = value;
      }
      break;
    }
    case FieldType::kBoolean:
      out->kind = ValueKind::kBool;
      ok = text == "t" || text == "f";
      out->boolean = text == "t";
      break;
    case FieldType::kArray: {
      auto elements = parse_pg_array(text);
      if (!elements.ok()) break;
      out->kind = ValueKind::kArray;
      ok = true;
      for (size_t i = 0; i < elements.value().size(); ++i) {
        Value& item = out->items.emplace_back();
        const auto& element = elements.value()[i];
        if (!element) {
          item.kind = ValueKind::kNull;
          continue;
        }
        ok &= decode_pg_text(field.children.front(), *element, fmt::format("{}.{}", path, i), &item, violations);
      }
      return ok;
    }
    case FieldType::kMap: {
      bson_error_t error;
      bson_t* document = bson_new_from_json(reinterpret_cast<const uint8_t*>(text.data()),
                                            static_cast<ssize_t>(text.size()), &error);
      if (document == nullptr) break;
      ok = decode_bson_map(field, document, path, out, violations);
      bson_destroy(document);
      return ok;
    }
    case FieldType::kObject:
      break;
  }
  if (!ok) {
    add_violation(violations, path, field, text);
    *out = Value{};
  }
  return ok;
}

std::string postgres_select_list(const ModelSchema& model) {
  std::vector<LeafColumn> leaves;
  collect_leaves(model.fields, "", &leaves);
  std::string list;
  for (const LeafColumn& leaf : leaves) {
    if (!list.empty()) list += ", ";
    const std::string column = quote_identifier(leaf.field->column.name);
    if (leaf.field->type == FieldType::kDate) {
      list += fmt::format("(extract(epoch from {}) * 1000)::int8", column);
    } else {
      list += column;
    }
  }
  return list;
}

Status read_postgres(const v1::PostgresSource& source, const ModelSchema& model, RecordSink& sink,
                     const TaskContext& context) {
  Connection connection(PQconnectdb(source.conninfo().c_str()));
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return Error::unavailable(fmt::format("cannot connect to PostgreSQL: {}", PQerrorMessage(connection.get())));
  }
  const auto run = [&](const std::string& sql) -> Result<QueryResult> {
    QueryResult result(PQexec(connection.get(), sql.c_str()));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return Error::unavailable(fmt::format("PostgreSQL query failed: {}", PQresultErrorMessage(result.get())));
    }
    return result;
  };
  const std::string table = quote_identifier(source.table().empty() ? model.table : source.table());
  for (const std::string& sql :
       {std::string("BEGIN READ ONLY"), std::string("SET LOCAL extra_float_digits = 3"),
        fmt::format("DECLARE heavylift_rows NO SCROLL CURSOR FOR SELECT {} FROM {}", postgres_select_list(model), table)}) {
    if (auto result = run(sql); !result.ok()) return result.error();
  }

  const std::string fetch = fmt::format("FETCH {} FROM heavylift_rows", kPostgresFetchRows);
  std::vector<Violation> violations;
  for (;;) {
    if (Status s = context.check(); !s.ok()) return s;
    auto result = run(fetch);
    if (!result.ok()) return result.error();
    PGresult* rows = result.value().get();
    const int count = PQntuples(rows);
    if (count == 0) break;
    for (int row = 0; row < count; ++row) {
      Value record;
      int column = 0;
      bool valid = true;
      violations.clear();
      build_document(model.fields, rows, row, &column, "", &record, &violations, &valid);
      if (valid) {
        if (Status s = sink.accept(record); !s.ok()) return s;
        continue;
      }
      const std::string id = record_id_text(record);
      for (Violation& violation : violations) {
        violation.collection = model.table;
        violation.id = id;
      }
      if (Status s = sink.reject(violations); !s.ok()) return s;
    }
  }
  run("COMMIT");
  return Status::Ok();
}

}  // namespace heavylift
