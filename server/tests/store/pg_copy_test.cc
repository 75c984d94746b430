#include "store/pg_copy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace heavylift {
namespace {

constexpr char kSchema[] = R"({"version":1,"models":[{"name":"Sample","collection":"samples","table":"samples",
  "fields":[
    {"name":"_id","type":"ObjectId","required":true,"column":{"name":"_id"}},
    {"name":"label","type":"String","required":true,"column":{"name":"label"}},
    {"name":"kind","type":"String","enum":["plain","edge"],"column":{"name":"kind"}},
    {"name":"born","type":"Date","column":{"name":"born"}},
    {"name":"price","type":"Decimal128","column":{"name":"price"}},
    {"name":"small","type":"Int32","column":{"name":"small"}},
    {"name":"big","type":"BigInt","column":{"name":"big"}},
    {"name":"ratio","type":"Double","column":{"name":"ratio"}},
    {"name":"score","type":"Number","column":{"name":"score"}},
    {"name":"active","type":"Boolean","column":{"name":"active"}},
    {"name":"readings","type":"Array","of":{"type":"Number"},"column":{"name":"readings"}},
    {"name":"address","type":"Object","fields":[
      {"name":"city","type":"String","required":true,"column":{"name":"address_city"}},
      {"name":"zip","type":"String","column":{"name":"address_zip"}}]},
    {"name":"counters","type":"Map","of":{"type":"Number"},"column":{"name":"counters"}}]}]})";

// Column indexes of the Sample model, in schema order.
enum Col { kId, kLabel, kKind, kBorn, kPrice, kSmall, kBig, kRatio, kScore, kActive, kReadings, kCity, kZip, kCounters, kColumns };

const ModelSchema& sample() {
  static const Schema schema = parse_schema(kSchema).value();
  return schema.models.front();
}

// The column types schema/generate.mjs would create for Sample.
std::vector<PgCopyDecoder::ColumnType> sample_columns() {
  const char* names[] = {"_id", "label", "kind", "born", "price", "small", "big", "ratio", "score", "active",
                         "readings", "address_city", "address_zip", "counters"};
  const uint32_t oids[] = {pg_type::kBpchar,  pg_type::kText,  pg_type::kText,   pg_type::kTimestamptz, pg_type::kNumeric,
                           pg_type::kInt4,    pg_type::kInt8,  pg_type::kFloat8, pg_type::kFloat8,      pg_type::kBool,
                           pg_type::kFloat8Array, pg_type::kText, pg_type::kText, pg_type::kJsonb};
  std::vector<PgCopyDecoder::ColumnType> columns;
  for (size_t i = 0; i < kColumns; ++i) columns.push_back({names[i], oids[i]});
  return columns;
}

std::string be16(int value) {
  const auto v = static_cast<uint16_t>(value);
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}
std::string be32(int64_t value) {
  const auto v = static_cast<uint32_t>(value);
  return be16(static_cast<int>(v >> 16)) + be16(static_cast<int>(v & 0xffff));
}
std::string be64(int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  return be32(static_cast<int64_t>(v >> 32)) + be32(static_cast<int64_t>(v & 0xffffffffu));
}
std::string float8(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  return be64(static_cast<int64_t>(bits));
}
std::string float4(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return be32(bits);
}
// numeric's send format: digit count, weight, sign word, display scale, base-10000 digits.
std::string numeric(int weight, int sign, int dscale, const std::vector<int>& digits) {
  std::string out = be16(static_cast<int>(digits.size())) + be16(weight) + be16(sign) + be16(dscale);
  for (const int digit : digits) out += be16(digit);
  return out;
}
// Microseconds from 2000-01-01 for epoch milliseconds.
std::string timestamp_ms(int64_t ms) { return be64((ms - 946'684'800'000) * 1000); }
std::string one_dimension(uint32_t element, int lower_bound, const std::vector<std::optional<std::string>>& items) {
  std::string out = be32(1) + be32(0) + be32(element) + be32(static_cast<int64_t>(items.size())) + be32(lower_bound);
  for (const auto& item : items) out += item ? be32(static_cast<int64_t>(item->size())) + *item : be32(-1);
  return out;
}

using Row = std::vector<std::optional<std::string>>;

constexpr char kIdHex[] = "65f0a1b2c3d4e5f601234567";

// A valid row with only the required fields set.
Row base_row() {
  Row row(kColumns);
  row[kId] = kIdHex;
  row[kLabel] = "one";
  return row;
}

std::string header() { return std::string("PGCOPY\n\377\r\n\0", 11) + be32(0) + be32(0); }
std::string tuple(const Row& row) {
  std::string out = be16(static_cast<int>(row.size()));
  for (const auto& field : row) out += field ? be32(static_cast<int64_t>(field->size())) + *field : be32(-1);
  return out;
}
std::string trailer() { return be16(-1); }
std::string stream(const std::vector<Row>& rows) {
  std::string out = header();
  for (const Row& row : rows) out += tuple(row);
  return out + trailer();
}

// Keeps records as canonical Extended JSON, and violations. A reject stops
// the read when `stop` is set.
class RecordCollector : public RecordSink {
 public:
  Status accept(Value& record) override {
    records.push_back(to_canonical_json(record));
    return Status::Ok();
  }
  Status reject(std::vector<Violation>& found) override {
    ++rejected;
    violations.insert(violations.end(), found.begin(), found.end());
    if (stop) return Error::invalid(found.front().field, "SCHEMA_VIOLATION", "stopped");
    return Status::Ok();
  }
  bool stop = false;
  int rejected = 0;
  std::vector<std::string> records;
  std::vector<Violation> violations;
};

// Takes rows as typed columns of `paths`.
class ColumnCollector : public RecordCollector {
 public:
  ColumnCollector(std::vector<std::string> paths, std::vector<Column::Kind> kinds) : paths_(std::move(paths)) {
    for (const Column::Kind kind : kinds) batch.columns.emplace_back().kind = kind;
  }
  ColumnBatch* column_batch() override { return &batch; }
  std::vector<std::string> column_paths() const override { return paths_; }
  Status accept_row() override {
    ++batch.rows;
    return Status::Ok();
  }
  ColumnBatch batch;

 private:
  std::vector<std::string> paths_;
};

struct Decoded {
  Status status;
  std::vector<std::string> records;
  std::vector<Violation> violations;
};

Decoded decode(const std::string& bytes, const std::vector<PgCopyDecoder::ColumnType>& columns = sample_columns()) {
  RecordCollector sink;
  auto decoder = PgCopyDecoder::create(sample(), columns, sink);
  EXPECT_TRUE(decoder.ok()) << decoder.error().message;
  Decoded out;
  out.status = decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (out.status.ok()) out.status = decoder.value().finish();
  out.records = sink.records;
  out.violations = sink.violations;
  return out;
}

Decoded decode_row(const Row& row) { return decode(stream({row})); }

// The canonical JSON of a valid row holding `value` in `column`.
std::string record_with(Col column, std::string value) {
  Row row = base_row();
  row[column] = std::move(value);
  Decoded decoded = decode_row(row);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.error().message;
  EXPECT_TRUE(decoded.violations.empty()) << decoded.violations.front().found;
  return decoded.records.empty() ? "" : decoded.records.front();
}

// The one violation of a row holding `value` in `column`.
Violation violation_with(Col column, std::string value) {
  Row row = base_row();
  row[column] = std::move(value);
  Decoded decoded = decode_row(row);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.error().message;
  EXPECT_TRUE(decoded.records.empty());
  EXPECT_EQ(decoded.violations.size(), 1u);
  return decoded.violations.empty() ? Violation{} : decoded.violations.front();
}

std::string expect_prefix() { return std::string(R"({"_id":{"$oid":")") + kIdHex + R"("},"label":"one")"; }

TEST(PgCopy, DecodesEveryTypeIntoARecord) {
  Row row = base_row();
  row[kKind] = "edge";
  row[kBorn] = timestamp_ms(1'700'000'000'123);
  row[kPrice] = numeric(1, 0x4000, 3, {123, 4567, 8910});
  row[kSmall] = be32(-2147483648LL);
  row[kBig] = be64(INT64_MIN);
  row[kRatio] = float8(-0.0);
  row[kScore] = float8(42);
  row[kActive] = std::string(1, '\1');
  row[kReadings] = one_dimension(pg_type::kFloat8, 1, {float8(1.5), std::nullopt, float8(2)});
  row[kCity] = "Zürich";
  row[kCounters] = "\1{\"views\": {\"$numberInt\": \"10\"}}";
  Decoded decoded = decode_row(row);
  ASSERT_TRUE(decoded.status.ok()) << decoded.status.error().message;
  ASSERT_EQ(decoded.records.size(), 1u);
  EXPECT_EQ(decoded.records[0],
            expect_prefix() +
                R"(,"kind":"edge","born":{"$date":{"$numberLong":"1700000000123"}},)"
                R"("price":{"$numberDecimal":"-1234567.891"},"small":{"$numberInt":"-2147483648"},)"
                R"("big":{"$numberLong":"-9223372036854775808"},"ratio":{"$numberDouble":"-0.0"},)"
                R"("score":{"$numberInt":"42"},"active":true,)"
                R"("readings":[{"$numberDouble":"1.5"},null,{"$numberInt":"2"}],)"
                R"("address":{"city":"Zürich"},"counters":{"views":{"$numberInt":"10"}}})");
}

TEST(PgCopy, NullColumnsAreMissingFields) {
  EXPECT_EQ(decode_row(base_row()).records, std::vector<std::string>{expect_prefix() + "}"});
}

TEST(PgCopy, NegativeIntegersOfEveryWidth) {
  EXPECT_EQ(record_with(kSmall, be32(-7)), expect_prefix() + R"(,"small":{"$numberInt":"-7"}})");
  EXPECT_EQ(record_with(kBig, be64(-9'000'000'000LL)), expect_prefix() + R"(,"big":{"$numberLong":"-9000000000"}})");
  EXPECT_EQ(record_with(kScore, float8(-3)), expect_prefix() + R"(,"score":{"$numberInt":"-3"}})");
}

TEST(PgCopy, WiderIntegerColumnsAreRangeChecked) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kSmall].oid = pg_type::kInt8;
  columns[kBig].oid = pg_type::kInt2;
  Row row = base_row();
  row[kSmall] = be64(-5);
  row[kBig] = be16(-300);
  Decoded decoded = decode(stream({row}), columns);
  ASSERT_TRUE(decoded.status.ok());
  EXPECT_EQ(decoded.records, std::vector<std::string>{expect_prefix() +
                                                      R"(,"small":{"$numberInt":"-5"},"big":{"$numberLong":"-300"}})"});
  row[kSmall] = be64(3'000'000'000LL);
  decoded = decode(stream({row}), columns);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "small");
  EXPECT_EQ(decoded.violations[0].expected, "int32");
  EXPECT_EQ(decoded.violations[0].found, "text \"3000000000\"");
}

TEST(PgCopy, NumericWeightsAndScales) {
  const auto price = [](const std::string& bytes) { return record_with(kPrice, bytes); };
  const auto decimal = [](const char* text) {
    return expect_prefix() + R"(,"price":{"$numberDecimal":")" + text + "\"}}";
  };
  EXPECT_EQ(price(numeric(0, 0, 0, {})), decimal("0"));
  EXPECT_EQ(price(numeric(0, 0, 2, {})), decimal("0.00"));
  EXPECT_EQ(price(numeric(-1, 0, 5, {1, 2000})), decimal("0.00012"));
  // libbson prints exponents below -6 in scientific notation.
  EXPECT_EQ(price(numeric(-2, 0x4000, 8, {5})), decimal("-5E-8"));
  EXPECT_EQ(price(numeric(5, 0, 0, {1})), decimal("100000000000000000000"));
  EXPECT_EQ(price(numeric(0, 0, 1, {12, 3000})), decimal("12.3"));
  EXPECT_EQ(price(numeric(0, 0xc000, 0, {})), decimal("NaN"));
  EXPECT_EQ(price(numeric(0, 0xd000, 0, {})), decimal("Infinity"));
  EXPECT_EQ(price(numeric(0, 0xf000, 0, {})), decimal("-Infinity"));
}

TEST(PgCopy, NumericBeyondDecimal128IsReported) {
  // 1.2345678901234567890123456789012345678: 38 significant digits.
  const Violation violation = violation_with(kPrice, numeric(0, 0, 37, {1, 2345, 6789, 123, 4567, 8901, 2345, 6789, 123, 4567, 8000}));
  EXPECT_EQ(violation.field, "price");
  EXPECT_EQ(violation.expected, "decimal128");
  EXPECT_EQ(violation.found, "text \"1.2345678901234567890123456789012345678\"");
  EXPECT_EQ(violation.collection, "samples");
  EXPECT_EQ(violation.id, kIdHex);
}

TEST(PgCopy, NumericIntoIntegerAndDoubleFields) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kSmall].oid = pg_type::kNumeric;
  columns[kRatio].oid = pg_type::kNumeric;
  Row row = base_row();
  row[kSmall] = numeric(0, 0x4000, 0, {12});
  row[kRatio] = numeric(0, 0, 2, {12, 5000});
  Decoded decoded = decode(stream({row}), columns);
  ASSERT_TRUE(decoded.status.ok());
  EXPECT_EQ(decoded.records, std::vector<std::string>{expect_prefix() +
                                                      R"(,"small":{"$numberInt":"-12"},"ratio":{"$numberDouble":"12.5"}})"});
  row[kSmall] = numeric(0, 0, 1, {12, 5000});
  decoded = decode(stream({row}), columns);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].found, "text \"12.5\"");
}

TEST(PgCopy, TimestampsBefore2000And1970) {
  const auto born = [](int64_t ms) {
    return expect_prefix() + R"(,"born":{"$date":{"$numberLong":")" + std::to_string(ms) + "\"}}}";
  };
  EXPECT_EQ(record_with(kBorn, timestamp_ms(-14'182'939'877)), born(-14'182'939'877));  // 1969-07-20T20:17:40.123Z
  EXPECT_EQ(record_with(kBorn, timestamp_ms(-62'135'596'800'000)), born(-62'135'596'800'000));  // 0001-01-01
  EXPECT_EQ(record_with(kBorn, timestamp_ms(946'684'799'999)), born(946'684'799'999));  // 1999-12-31T23:59:59.999Z
  // Microseconds round half away from zero, as (extract(epoch from at) * 1000)::int8 does.
  EXPECT_EQ(record_with(kBorn, be64(-1500)), born(946'684'800'000 - 2));
  EXPECT_EQ(record_with(kBorn, be64(-1499)), born(946'684'800'000 - 1));
  EXPECT_EQ(record_with(kBorn, be64(1500)), born(946'684'800'000 + 2));
}

TEST(PgCopy, DatesAndTimestampsWithoutZone) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kBorn].oid = pg_type::kDate;
  Row row = base_row();
  row[kBorn] = be32(-10'958);  // 1969-12-31
  Decoded decoded = decode(stream({row}), columns);
  EXPECT_EQ(decoded.records, std::vector<std::string>{expect_prefix() + R"(,"born":{"$date":{"$numberLong":"-86400000"}}})"});
  columns[kBorn].oid = pg_type::kTimestamp;
  row[kBorn] = be64(0);
  decoded = decode(stream({row}), columns);
  EXPECT_EQ(decoded.records,
            std::vector<std::string>{expect_prefix() + R"(,"born":{"$date":{"$numberLong":"946684800000"}}})"});
}

TEST(PgCopy, InfiniteTimestampIsReported) {
  const Violation violation = violation_with(kBorn, be64(INT64_MAX));
  EXPECT_EQ(violation.field, "born");
  EXPECT_EQ(violation.found, "text \"infinity\"");
  EXPECT_EQ(violation_with(kBorn, be64(INT64_MIN)).found, "text \"-infinity\"");
}

TEST(PgCopy, Float4ReadsAsItsShortestText) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kRatio].oid = pg_type::kFloat4;
  Row row = base_row();
  row[kRatio] = float4(0.1f);
  Decoded decoded = decode(stream({row}), columns);
  EXPECT_EQ(decoded.records, std::vector<std::string>{expect_prefix() + R"(,"ratio":{"$numberDouble":"0.1"}})"});
}

TEST(PgCopy, NanAndInfinityDoubles) {
  EXPECT_EQ(record_with(kRatio, float8(std::nan(""))), expect_prefix() + R"(,"ratio":{"$numberDouble":"NaN"}})");
  EXPECT_EQ(record_with(kScore, float8(-INFINITY)), expect_prefix() + R"(,"score":{"$numberDouble":"-Infinity"}})");
  EXPECT_EQ(record_with(kScore, float8(2147483648.0)), expect_prefix() + R"(,"score":{"$numberDouble":"2147483648.0"}})");
}

TEST(PgCopy, StringsAreUtf8AndInTheEnum) {
  Violation violation = violation_with(kKind, "wave");
  EXPECT_EQ(violation.field, "kind");
  EXPECT_EQ(violation.expected, "one of plain, edge");
  EXPECT_EQ(violation.found, "text \"wave\"");
  violation = violation_with(kLabel, "a\xff");
  EXPECT_EQ(violation.field, "label");
  EXPECT_EQ(violation.found, "text \"a\\xff\"");
}

TEST(PgCopy, ObjectIdMustBe24HexDigits) {
  Row row = base_row();
  row[kId] = "not-an-object-id";
  Decoded decoded = decode_row(row);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "_id");
  EXPECT_EQ(decoded.violations[0].expected, "objectId");
  EXPECT_EQ(decoded.violations[0].id, "");
}

TEST(PgCopy, UuidColumnReadsAsText) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kLabel].oid = pg_type::kUuid;
  Row row = base_row();
  row[kLabel] = std::string("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x23\x45\x67\x89\xab\xcd\xef", 16);
  Decoded decoded = decode(stream({row}), columns);
  ASSERT_EQ(decoded.records.size(), 1u);
  EXPECT_NE(decoded.records[0].find(R"("label":"12345678-9abc-def0-0123-456789abcdef")"), std::string::npos);
}

TEST(PgCopy, ArraysOfOneDimensionStartingAtOne) {
  EXPECT_EQ(record_with(kReadings, be32(0) + be32(0) + be32(pg_type::kFloat8)), expect_prefix() + R"(,"readings":[]})");
  Violation violation = violation_with(kReadings, one_dimension(pg_type::kFloat8, 0, {float8(1)}));
  EXPECT_EQ(violation.field, "readings");
  EXPECT_EQ(violation.found, "an array with lower bound 0");
  const std::string two_dimensions = be32(2) + be32(0) + be32(pg_type::kFloat8) + be32(1) + be32(1) + be32(1) + be32(1) +
                                     be32(8) + float8(1);
  EXPECT_EQ(violation_with(kReadings, two_dimensions).found, "an array of 2 dimensions");
}

TEST(PgCopy, MalformedArrayIsAnError) {
  Row row = base_row();
  row[kReadings] = one_dimension(pg_type::kInt4, 1, {be32(1)});
  Decoded decoded = decode_row(row);
  ASSERT_FALSE(decoded.status.ok());
  EXPECT_NE(decoded.status.error().message.find("row 1, column \"readings\""), std::string::npos)
      << decoded.status.error().message;
  row[kReadings] = one_dimension(pg_type::kFloat8, 1, {float8(1)}) + "x";
  EXPECT_FALSE(decode_row(row).status.ok());
  row[kReadings] = be32(1) + be32(0) + be32(pg_type::kFloat8) + be32(1'000'000) + be32(1);
  EXPECT_FALSE(decode_row(row).status.ok());
}

TEST(PgCopy, ObjectPresentWhenAnyColumnIsSet) {
  Row row = base_row();
  row[kZip] = "69001";
  Decoded decoded = decode_row(row);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "address.city");
  EXPECT_EQ(decoded.violations[0].found, "missing");
  // A bad value in an otherwise empty Object is reported, not dropped.
  row = base_row();
  row[kCity] = "\xc3";
  decoded = decode_row(row);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "address.city");
}

TEST(PgCopy, MissingRequiredFieldsInOrder) {
  Row row(kColumns);
  row[kKind] = "nope";
  Decoded decoded = decode_row(row);
  ASSERT_EQ(decoded.violations.size(), 3u);
  EXPECT_EQ(decoded.violations[0].field, "_id");
  EXPECT_EQ(decoded.violations[1].field, "label");
  EXPECT_EQ(decoded.violations[2].field, "kind");
}

TEST(PgCopy, MapFromJsonb) {
  Violation violation = violation_with(kCounters, "\1{\"a\": \"text\"}");
  EXPECT_EQ(violation.field, "counters.a");
  violation = violation_with(kCounters, "\1{not json");
  EXPECT_EQ(violation.field, "counters");
  EXPECT_EQ(violation.found, "text \"{not json\"");
  Row row = base_row();
  row[kCounters] = "\2{}";
  EXPECT_FALSE(decode_row(row).status.ok());
}

TEST(PgCopy, WrongLengthsAreErrorsNamingRowAndColumn) {
  Row row = base_row();
  row[kSmall] = std::string(3, '\0');
  Decoded decoded = decode(stream({base_row(), row}));
  ASSERT_FALSE(decoded.status.ok());
  EXPECT_EQ(decoded.status.error().code, Code::kInternal);
  EXPECT_EQ(decoded.status.error().reason, "CORRUPT_INPUT");
  EXPECT_NE(decoded.status.error().message.find("row 2, column \"small\" (field small)"), std::string::npos)
      << decoded.status.error().message;
  EXPECT_EQ(decoded.records.size(), 1u);
  row = base_row();
  row[kActive] = std::string(1, '\2');
  EXPECT_FALSE(decode_row(row).status.ok());
  row[kActive] = std::nullopt;
  row[kPrice] = numeric(0, 0x1234, 0, {});
  EXPECT_FALSE(decode_row(row).status.ok());
  row[kPrice] = numeric(0, 0, 0, {10000});
  EXPECT_FALSE(decode_row(row).status.ok());
  row[kPrice] = numeric(0, 0, 0, {1}).substr(0, 9);
  EXPECT_FALSE(decode_row(row).status.ok());
}

TEST(PgCopy, WrongFieldCountIsAnError) {
  Row row = base_row();
  row.pop_back();
  Decoded decoded = decode(stream({base_row(), row}));
  ASSERT_FALSE(decoded.status.ok());
  EXPECT_NE(decoded.status.error().message.find("row 2 has 13 fields, the query selected 14 columns"), std::string::npos)
      << decoded.status.error().message;
}

TEST(PgCopy, NegativeFieldLengthIsAnError) {
  std::string bytes = stream({base_row()});
  // The length of the first field follows the 19-byte header and the field count.
  bytes.replace(21, 4, be32(-2));
  EXPECT_FALSE(decode(bytes).status.ok());
}

TEST(PgCopy, EveryTruncationIsAnError) {
  Row row = base_row();
  row[kPrice] = numeric(1, 0, 2, {12, 3456, 7800});
  row[kReadings] = one_dimension(pg_type::kFloat8, 1, {float8(1)});
  const std::string bytes = stream({row, base_row()});
  for (size_t size = 0; size < bytes.size(); ++size) {
    const Decoded decoded = decode(bytes.substr(0, size));
    EXPECT_FALSE(decoded.status.ok()) << "truncated to " << size << " bytes";
  }
  EXPECT_TRUE(decode(bytes).status.ok());
}

TEST(PgCopy, TruncationInsideAFieldNamesIt) {
  const std::string bytes = stream({base_row()});
  // Header (19), field count (2), _id length (4), 10 of its 24 bytes.
  const Decoded decoded = decode(bytes.substr(0, 19 + 2 + 4 + 10));
  ASSERT_FALSE(decoded.status.ok());
  EXPECT_NE(decoded.status.error().message.find("row 1, column \"_id\""), std::string::npos) << decoded.status.error().message;
}

TEST(PgCopy, BadHeaderAndTrailingBytesAreErrors) {
  std::string bytes = stream({base_row()});
  bytes[0] = 'X';
  EXPECT_FALSE(decode(bytes).status.ok());
  bytes = stream({base_row()});
  bytes[11 + 1] = 1;  // flag bit 16: rows with OIDs
  EXPECT_FALSE(decode(bytes).status.ok());
  EXPECT_FALSE(decode(stream({base_row()}) + "x").status.ok());
}

TEST(PgCopy, HeaderExtensionIsSkipped) {
  std::string bytes = std::string("PGCOPY\n\377\r\n\0", 11) + be32(0) + be32(3) + "abc" + tuple(base_row()) + trailer();
  const Decoded decoded = decode(bytes);
  ASSERT_TRUE(decoded.status.ok()) << decoded.status.error().message;
  EXPECT_EQ(decoded.records.size(), 1u);
}

TEST(PgCopy, SplitAtEveryByteGivesTheSameRows) {
  Row row = base_row();
  row[kRatio] = float8(2.5);
  row[kCity] = "Lyon";
  const std::string bytes = stream({row, base_row(), row});
  const Decoded whole = decode(bytes);
  ASSERT_TRUE(whole.status.ok());
  ASSERT_EQ(whole.records.size(), 3u);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    RecordCollector sink;
    auto decoder = PgCopyDecoder::create(sample(), sample_columns(), sink);
    ASSERT_TRUE(decoder.ok());
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    ASSERT_TRUE(decoder.value().feed(data, split).ok()) << split;
    ASSERT_TRUE(decoder.value().feed(data + split, bytes.size() - split).ok()) << split;
    ASSERT_TRUE(decoder.value().finish().ok()) << split;
    EXPECT_EQ(sink.records, whole.records) << split;
  }
}

TEST(PgCopy, StoppingSinkEndsTheRead) {
  Row bad = base_row();
  bad[kKind] = "wave";
  const std::string bytes = stream({bad, base_row()});
  RecordCollector sink;
  sink.stop = true;
  auto decoder = PgCopyDecoder::create(sample(), sample_columns(), sink);
  ASSERT_TRUE(decoder.ok());
  const Status status = decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "kind");
  EXPECT_TRUE(sink.records.empty());
  EXPECT_FALSE(decoder.value().finish().ok());
}

TEST(PgCopy, ColumnTypeMismatchFailsBeforeReading) {
  std::vector<PgCopyDecoder::ColumnType> columns = sample_columns();
  columns[kRatio].oid = pg_type::kText;
  RecordCollector sink;
  auto decoder = PgCopyDecoder::create(sample(), columns, sink);
  ASSERT_FALSE(decoder.ok());
  EXPECT_EQ(decoder.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(decoder.error().message,
            "PostgreSQL column \"ratio\" is text, but field ratio of model Sample is a Double read from float8, "
            "float4, int2, int4, int8 or numeric");
  columns = sample_columns();
  columns[kReadings].oid = pg_type::kTextArray;
  EXPECT_FALSE(PgCopyDecoder::create(sample(), columns, sink).ok());
  columns.pop_back();
  EXPECT_FALSE(PgCopyDecoder::create(sample(), columns, sink).ok());
}

TEST(PgCopy, ColumnsMatchRecords) {
  const ModelSchema projected = sample().project({"kind", "born", "price", "small", "ratio", "score", "active", "address.city"}, "test").value();
  const std::vector<std::string> paths = {"_id", "kind", "born", "price", "small", "ratio", "score", "active", "address.city"};
  const std::vector<Column::Kind> kinds = {Column::Kind::kText,    Column::Kind::kText,   Column::Kind::kInteger,
                                           Column::Kind::kNumber,  Column::Kind::kInteger, Column::Kind::kNumber,
                                           Column::Kind::kNumber,  Column::Kind::kInteger, Column::Kind::kText};
  const uint32_t oids[] = {pg_type::kBpchar, pg_type::kText,   pg_type::kTimestamptz, pg_type::kNumeric, pg_type::kInt4,
                           pg_type::kFloat8, pg_type::kFloat8, pg_type::kBool,        pg_type::kText};
  std::vector<PgCopyDecoder::ColumnType> columns;
  for (size_t i = 0; i < paths.size(); ++i) columns.push_back({paths[i], oids[i]});

  const auto full = [](const std::string& kind, const std::optional<std::string>& city) {
    return Row{std::string(kIdHex), kind, timestamp_ms(-1), numeric(0, 0x4000, 1, {2, 5000}), be32(9),
               float8(0.25), float8(7), std::string(1, '\0'), city};
  };
  const std::string bytes = stream({full("plain", "Lyon"), full("wave", "Lyon"), full("edge", std::nullopt)});

  ColumnCollector columns_sink(paths, kinds);
  auto decoder = PgCopyDecoder::create(projected, columns, columns_sink);
  ASSERT_TRUE(decoder.ok()) << decoder.error().message;
  ASSERT_TRUE(decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_TRUE(decoder.value().finish().ok());
  EXPECT_EQ(decoder.value().rows(), 3u);
  EXPECT_TRUE(columns_sink.records.empty());
  ASSERT_EQ(columns_sink.batch.rows, 2u);
  ASSERT_EQ(columns_sink.violations.size(), 1u);
  EXPECT_EQ(columns_sink.violations[0].field, "kind");
  EXPECT_EQ(columns_sink.violations[0].id, kIdHex);

  const ColumnBatch& batch = columns_sink.batch;
  EXPECT_EQ(batch.columns[0].text_at(1), kIdHex);
  EXPECT_EQ(batch.columns[1].text_at(0), "plain");
  EXPECT_EQ(batch.columns[1].text_at(1), "edge");
  EXPECT_EQ(batch.columns[2].integers[0], -1);
  EXPECT_EQ(batch.columns[3].numbers[0], -2.5);
  EXPECT_EQ(batch.columns[4].integers[0], 9);
  EXPECT_EQ(batch.columns[5].numbers[0], 0.25);
  EXPECT_EQ(batch.columns[6].numbers[0], 7);
  EXPECT_EQ(batch.columns[7].integers[0], 0);
  EXPECT_EQ(batch.columns[8].present, (std::vector<uint8_t>{1, 0}));

  // The same bytes read as records give the same violation.
  RecordCollector records_sink;
  auto records = PgCopyDecoder::create(projected, columns, records_sink);
  ASSERT_TRUE(records.ok());
  ASSERT_TRUE(records.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_EQ(records_sink.violations.size(), 1u);
  EXPECT_EQ(records_sink.violations[0].found, columns_sink.violations[0].found);
  EXPECT_EQ(records_sink.records.size(), 2u);
}

// Rows at the edges of each column type's simple case: the typed columns
// hold what the records hold, and the rows that break the schema are
// reported the same way both ways.
TEST(PgCopy, ColumnsMatchRecordsAtEdges) {
  const ModelSchema projected = sample().project({"label", "born", "small", "big", "ratio", "score", "active"}, "test").value();
  const std::vector<std::string> paths = {"_id", "label", "born", "small", "big", "ratio", "score", "active"};
  const std::vector<Column::Kind> kinds = {Column::Kind::kText,    Column::Kind::kText,    Column::Kind::kInteger,
                                           Column::Kind::kInteger, Column::Kind::kInteger, Column::Kind::kNumber,
                                           Column::Kind::kNumber,  Column::Kind::kInteger};
  const uint32_t oids[] = {pg_type::kVarchar, pg_type::kText,   pg_type::kDate,   pg_type::kInt8,
                           pg_type::kInt2,    pg_type::kFloat8, pg_type::kFloat8, pg_type::kBool};
  std::vector<PgCopyDecoder::ColumnType> columns;
  for (size_t i = 0; i < paths.size(); ++i) columns.push_back({paths[i], oids[i]});

  const auto row = [](std::string id, std::string label, std::optional<std::string> small) {
    return Row{std::move(id), std::move(label), be32(-1), std::move(small), be16(-7), float8(NAN), float8(-0.0),
               std::string(1, '\1')};
  };
  const std::string bytes = stream({
      row("65F0A1B2C3D4E5F60123456A", "eight ascii bytes and more", be64(INT32_MIN)),
      row(kIdHex, "caf\xc3\xa9 cr\xc3\xa8me", std::nullopt),
      row(kIdHex, "ends in \xc3", be64(1)),
      row(kIdHex, std::string("nul\0inside", 10), be64(2)),
      row(kIdHex, "ok", be64(int64_t{INT32_MAX} + 1)),
      row("65f0a1b2c3d4e5f60123456g", "ok", be64(3)),
      Row{std::string(kIdHex), std::string("ok"), be32(INT32_MAX), be64(4), be16(0), float8(1), float8(2), std::string(1, '\0')},
  });

  ColumnCollector columns_sink(paths, kinds);
  auto decoder = PgCopyDecoder::create(projected, columns, columns_sink);
  ASSERT_TRUE(decoder.ok()) << decoder.error().message;
  ASSERT_TRUE(decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_TRUE(decoder.value().finish().ok());
  RecordCollector records_sink;
  auto records = PgCopyDecoder::create(projected, columns, records_sink);
  ASSERT_TRUE(records.ok());
  ASSERT_TRUE(records.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_TRUE(records.value().finish().ok());

  ASSERT_EQ(columns_sink.batch.rows, 2u);
  ASSERT_EQ(records_sink.records.size(), 2u);
  ASSERT_EQ(columns_sink.violations.size(), 5u);
  ASSERT_EQ(records_sink.violations.size(), columns_sink.violations.size());
  for (size_t i = 0; i < columns_sink.violations.size(); ++i) {
    EXPECT_EQ(columns_sink.violations[i].field, records_sink.violations[i].field);
    EXPECT_EQ(columns_sink.violations[i].found, records_sink.violations[i].found);
  }
  EXPECT_EQ(columns_sink.violations[0].field, "label");
  EXPECT_EQ(columns_sink.violations[2].field, "small");
  EXPECT_EQ(columns_sink.violations[3].field, "_id");

  const ColumnBatch& batch = columns_sink.batch;
  EXPECT_EQ(batch.columns[0].text_at(0), "65f0a1b2c3d4e5f60123456a");
  EXPECT_EQ(batch.columns[1].text_at(0), "eight ascii bytes and more");
  EXPECT_EQ(batch.columns[1].text_at(1), "caf\xc3\xa9 cr\xc3\xa8me");
  EXPECT_EQ(batch.columns[2].integers, (std::vector<int64_t>{-86'400'000 + 946'684'800'000, -86'400'000 + 946'684'800'000}));
  EXPECT_EQ(batch.columns[3].integers, (std::vector<int64_t>{INT32_MIN, 0}));
  EXPECT_EQ(batch.columns[3].present, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(batch.columns[4].integers, (std::vector<int64_t>{-7, -7}));
  EXPECT_TRUE(std::isnan(batch.columns[5].numbers[0]));
  EXPECT_EQ(batch.columns[6].numbers[0], 0);
  EXPECT_TRUE(std::signbit(batch.columns[6].numbers[0]));
  EXPECT_EQ(batch.columns[7].integers, (std::vector<int64_t>{1, 1}));
  EXPECT_NE(records_sink.records[0].find("65f0a1b2c3d4e5f60123456a"), std::string::npos) << records_sink.records[0];
}

TEST(PgCopy, FlatModelColumnsCheckRequired) {
  const ModelSchema projected = sample().project({"label", "small"}, "test").value();
  const std::vector<PgCopyDecoder::ColumnType> columns = {
      {"_id", pg_type::kBpchar}, {"label", pg_type::kText}, {"small", pg_type::kInt4}};
  const std::string bytes = stream({{std::string(kIdHex), std::string("one"), be32(5)},
                                    {std::string(kIdHex), std::nullopt, be32(6)},
                                    {std::string(kIdHex), std::string("three"), std::nullopt}});
  ColumnCollector sink({"small"}, {Column::Kind::kInteger});
  auto decoder = PgCopyDecoder::create(projected, columns, sink);
  ASSERT_TRUE(decoder.ok()) << decoder.error().message;
  ASSERT_TRUE(decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_TRUE(decoder.value().finish().ok());
  EXPECT_EQ(sink.batch.rows, 2u);
  EXPECT_EQ(sink.batch.columns[0].integers, (std::vector<int64_t>{5, 0}));
  EXPECT_EQ(sink.batch.columns[0].present, (std::vector<uint8_t>{1, 0}));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0].field, "label");
  EXPECT_EQ(sink.violations[0].found, "missing");
}

// _id is checked but not decoded when no column takes it: each non-hex
// byte next to the digit and letter ranges is still a violation.
TEST(PgCopy, ObjectIdOutsideColumnsIsChecked) {
  const ModelSchema projected = sample().project({"small"}, "test").value();
  const std::vector<PgCopyDecoder::ColumnType> columns = {{"_id", pg_type::kBpchar}, {"small", pg_type::kInt4}};
  const std::string valid_ids[] = {kIdHex, "0123456789abcdefABCDEF00", "ffffffffffffffffffffffff"};
  const char bad_bytes[] = {'/', ':', '@', 'G', '`', 'g', 'P', '\x10', static_cast<char>(0xc1), '\0', ' '};
  std::vector<Row> rows;
  for (const std::string& id : valid_ids) rows.push_back({id, be32(1)});
  for (const char bad : bad_bytes) {
    for (const size_t at : {size_t{0}, size_t{11}, size_t{23}}) {
      std::string id = kIdHex;
      id[at] = bad;
      rows.push_back({id, be32(2)});
    }
  }
  rows.push_back({std::string(kIdHex) + "0", be32(3)});
  const std::string bytes = stream(rows);

  ColumnCollector sink({"small"}, {Column::Kind::kInteger});
  auto decoder = PgCopyDecoder::create(projected, columns, sink);
  ASSERT_TRUE(decoder.ok()) << decoder.error().message;
  ASSERT_TRUE(decoder.value().feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).ok());
  ASSERT_TRUE(decoder.value().finish().ok());
  EXPECT_EQ(sink.batch.rows, 3u);
  EXPECT_EQ(sink.batch.columns[0].integers, (std::vector<int64_t>{1, 1, 1}));
  ASSERT_EQ(sink.violations.size(), 3 * std::size(bad_bytes) + 1);
  for (const Violation& violation : sink.violations) EXPECT_EQ(violation.field, "_id");
}

TEST(PgCopy, ColumnPathMustBeAScalarLeaf) {
  ColumnCollector sink({"readings"}, {Column::Kind::kNumber});
  auto decoder = PgCopyDecoder::create(sample(), sample_columns(), sink);
  ASSERT_FALSE(decoder.ok());
  EXPECT_EQ(decoder.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace heavylift
