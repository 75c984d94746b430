#include "store/postgres_reader.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_copy.h"

namespace heavylift {
namespace {

// COPY messages (one per row from PostgreSQL) between deadline checks.
constexpr int kMessagesPerCheck = 4096;

struct ConnectionDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
struct FreememDeleter {
  void operator()(char* memory) const { PQfreemem(memory); }
};
using Connection = std::unique_ptr<PGconn, ConnectionDeleter>;
using QueryResult = std::unique_ptr<PGresult, ResultDeleter>;
using LibpqString = std::unique_ptr<char, FreememDeleter>;

Error query_failed(const char* what, const char* message) {
  return Error::unavailable(fmt::format("PostgreSQL {} failed: {}", what, message));
}

// Quotes `name` as an SQL identifier with the connection's encoding rules.
Result<std::string> quote_identifier(PGconn* connection, std::string_view name) {
  LibpqString quoted(PQescapeIdentifier(connection, name.data(), name.size()));
  if (!quoted) return query_failed("identifier quoting", PQerrorMessage(connection));
  return std::string(quoted.get());
}

void collect_columns(const std::vector<FieldSchema>& fields, std::vector<const std::string*>* out) {
  for (const FieldSchema& field : fields) {
    if (field.type == FieldType::kObject) {
      collect_columns(field.children, out);
    } else {
      out->push_back(&field.column.name);
    }
  }
}

// Returns SELECT of the model's columns, in the order PgCopyDecoder reads
// them, from `table`.
Result<std::string> select_statement(PGconn* connection, const ModelSchema& model, std::string_view table) {
  std::vector<const std::string*> columns;
  collect_columns(model.fields, &columns);
  std::string sql = "SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    auto column = quote_identifier(connection, *columns[i]);
    if (!column.ok()) return column.error();
    if (i > 0) sql += ", ";
    sql += column.value();
  }
  auto quoted_table = quote_identifier(connection, table);
  if (!quoted_table.ok()) return quoted_table.error();
  return sql + " FROM " + quoted_table.value();
}

}  // namespace

Status read_postgres(const v1::PostgresSource& source, const ModelSchema& model, RecordSink& sink,
                     const TaskContext& context) {
  const std::string& table = source.table().empty() ? model.table : source.table();
  if (table.empty() || table.find('\0') != std::string::npos) {
    return Error::invalid("source.postgres.table", "INVALID_TABLE",
                          fmt::format("source.postgres.table must name a table without NUL bytes, got {}",
                                      quote_value(table)),
                          "a table name", table);
  }
  Connection connection(PQconnectdb(source.conninfo().c_str()));
  PGconn* const db = connection.get();
  if (PQstatus(db) != CONNECTION_OK) {
    return Error::unavailable(fmt::format("cannot connect to PostgreSQL: {}", PQerrorMessage(db)));
  }
  // Text arrives in UTF-8 whatever the database encoding, so the UTF-8
  // check of String fields holds for every database.
  if (PQsetClientEncoding(db, "UTF8") != 0) return query_failed("SET client_encoding", PQerrorMessage(db));
  auto select = select_statement(db, model, table);
  if (!select.ok()) return select.error();

  QueryResult begin(PQexec(db, "BEGIN READ ONLY"));
  if (PQresultStatus(begin.get()) != PGRES_COMMAND_OK) return query_failed("BEGIN", PQresultErrorMessage(begin.get()));

  // The binary format carries no types, so the column types come from
  // describing the SELECT first (no rows are read).
  QueryResult prepared(PQprepare(db, "", select.value().c_str(), 0, nullptr));
  if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    return query_failed("query preparation", PQresultErrorMessage(prepared.get()));
  }
  QueryResult described(PQdescribePrepared(db, ""));
  if (PQresultStatus(described.get()) != PGRES_COMMAND_OK) {
    return query_failed("query description", PQresultErrorMessage(described.get()));
  }
  std::vector<PgCopyDecoder::ColumnType> columns;
  for (int i = 0; i < PQnfields(described.get()); ++i) {
    columns.push_back({PQfname(described.get(), i), static_cast<uint32_t>(PQftype(described.get(), i))});
  }
  auto decoder = PgCopyDecoder::create(model, columns, sink);
  if (!decoder.ok()) return decoder.error();

  const std::string copy = fmt::format("COPY ({}) TO STDOUT (FORMAT binary)", select.value());
  QueryResult started(PQexec(db, copy.c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_OUT) return query_failed("COPY", PQresultErrorMessage(started.get()));
  for (int messages = 1;; ++messages) {
    char* buffer = nullptr;
    const int size = PQgetCopyData(db, &buffer, /*async=*/0);
    if (size == -1) break;
    if (size < 0) return query_failed("COPY", PQerrorMessage(db));
    // The row is decoded straight from libpq's buffer, which is freed at
    // the end of this iteration, before the next message is read.
    const LibpqString owned(buffer);
    if (!decoder.value().push(reinterpret_cast<const uint8_t*>(buffer), static_cast<size_t>(size))) {
      return decoder.value().status();
    }
    if (messages % kMessagesPerCheck == 0) {
      if (Status checked = context.check(); !checked.ok()) return checked;
    }
  }
  QueryResult finished(PQgetResult(db));
  if (PQresultStatus(finished.get()) != PGRES_COMMAND_OK) {
    return query_failed("COPY", PQresultErrorMessage(finished.get()));
  }
  while (QueryResult(PQgetResult(db))) {
  }
  if (Status status = decoder.value().finish(); !status.ok()) return status;
  QueryResult commit(PQexec(db, "COMMIT"));
  return Status::Ok();
}

}  // namespace heavylift
