#include "store/bson_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "store/schema.h"
#include "specimen_fixture.h"

namespace heavylift {
namespace {


struct Decoded {
  bool valid = false;
  Value record;
  std::vector<Violation> violations;
};

Decoded decode(const bson_t* document, const ModelSchema& model = specimen()) {
  Decoded out;
  out.valid = BsonDecoder(model).decode(bson_get_data(document), document->len, &out.record, &out.violations);
  return out;
}


TEST(BsonDecoder, RoundTripsEveryScalarType) {
  bson_t* document = base_specimen();
  bson_oid_t ref;
  bson_oid_init_from_string(&ref, "0123456789abcdef01234567");
  BSON_APPEND_OID(document, "ref", &ref);
  BSON_APPEND_DATE_TIME(document, "born", -86'400'001);  // 1969-12-30T23:59:59.999Z
  bson_decimal128_t price;
  bson_decimal128_from_string("-1234567890.123456789012345678901234", &price);
  BSON_APPEND_DECIMAL128(document, "price", &price);
  BSON_APPEND_INT32(document, "small", -2147483647 - 1);
  BSON_APPEND_INT64(document, "big", 9007199254740993);  // 2^53 + 1
  BSON_APPEND_DOUBLE(document, "ratio", -0.0);
  BSON_APPEND_INT32(document, "score", 7);
  BSON_APPEND_BOOL(document, "active", false);

  const Decoded decoded = decode(document);
  ASSERT_TRUE(decoded.valid) << (decoded.violations.empty() ? "" : decoded.violations[0].field);
  EXPECT_EQ(to_canonical_json(decoded.record),
            R"({"_id":{"$oid":"65f0a1b2c3d4e5f601234567"},"label":"plain one","kind":"plain",)"
            R"("ref":{"$oid":"0123456789abcdef01234567"},"born":{"$date":{"$numberLong":"-86400001"}},)"
            R"("price":{"$numberDecimal":"-1234567890.123456789012345678901234"},)"
            R"("small":{"$numberInt":"-2147483648"},"big":{"$numberLong":"9007199254740993"},)"
            R"("ratio":{"$numberDouble":"-0.0"},"score":{"$numberInt":"7"},"active":false})");
  bson_destroy(document);
}

TEST(BsonDecoder, KeepsSpecialDoubles) {
  const double cases[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                          -std::numeric_limits<double>::infinity(), 5e-324, 1.7976931348623157e308, 0.1};
  const char* expected[] = {"NaN", "Infinity", "-Infinity", "5e-324", "1.7976931348623157e+308", "0.1"};
  for (size_t i = 0; i < std::size(cases); ++i) {
    bson_t* document = base_specimen();
    BSON_APPEND_DOUBLE(document, "score", cases[i]);
    const Decoded decoded = decode(document);
    ASSERT_TRUE(decoded.valid);
    const Value* score = decoded.record.get("score");
    ASSERT_NE(score, nullptr);
    EXPECT_EQ(score->kind, ValueKind::kDouble);
    EXPECT_EQ(to_canonical_json(*score), std::string(R"({"$numberDouble":")") + expected[i] + "\"}");
    bson_destroy(document);
  }
}

TEST(BsonDecoder, TellsMissingFromNull) {
  bson_t* document = base_specimen();
  BSON_APPEND_NULL(document, "ref");
  const Decoded decoded = decode(document);
  ASSERT_TRUE(decoded.valid);
  EXPECT_EQ(decoded.record.get("ref")->kind, ValueKind::kNull);
  EXPECT_EQ(decoded.record.get("born")->kind, ValueKind::kMissing);
  EXPECT_NE(to_canonical_json(decoded.record).find(R"("ref":null)"), std::string::npos);
  EXPECT_EQ(to_canonical_json(decoded.record).find("born"), std::string::npos);
  bson_destroy(document);
}

TEST(BsonDecoder, DecodesArraysNestedDocumentsAndMaps) {
  bson_t* document = base_specimen();
  bson_t child;
  BSON_APPEND_ARRAY_BEGIN(document, "tags", &child);
  BSON_APPEND_UTF8(&child, "0", "héllo ✓");
  BSON_APPEND_NULL(&child, "1");
  bson_append_array_end(document, &child);
  BSON_APPEND_ARRAY_BEGIN(document, "readings", &child);
  BSON_APPEND_INT32(&child, "0", 1);
  BSON_APPEND_DOUBLE(&child, "1", 1.5);
  bson_append_array_end(document, &child);
  BSON_APPEND_DOCUMENT_BEGIN(document, "address", &child);
  BSON_APPEND_UTF8(&child, "city", "Lyon");
  bson_append_document_end(document, &child);
  BSON_APPEND_DOCUMENT_BEGIN(document, "counters", &child);
  BSON_APPEND_INT32(&child, "a.b", 1);
  BSON_APPEND_DOUBLE(&child, "$c", 2.5);
  bson_append_document_end(document, &child);

  const Decoded decoded = decode(document);
  ASSERT_TRUE(decoded.valid);
  const std::string json = to_canonical_json(decoded.record);
  EXPECT_NE(json.find(R"("tags":["héllo ✓",null])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("readings":[{"$numberInt":"1"},{"$numberDouble":"1.5"}])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("address":{"city":"Lyon"})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("counters":{"a.b":{"$numberInt":"1"},"$c":{"$numberDouble":"2.5"}})"), std::string::npos)
      << json;
  bson_destroy(document);
}

TEST(BsonDecoder, ReportsWrongTypeWithoutCoercing) {
  bson_t* document = base_specimen();
  BSON_APPEND_UTF8(document, "small", "12");
  BSON_APPEND_DOUBLE(document, "big", 3.0);
  const Decoded decoded = decode(document);
  EXPECT_FALSE(decoded.valid);
  ASSERT_EQ(decoded.violations.size(), 2u);
  EXPECT_EQ(decoded.violations[0].collection, "specimens");
  EXPECT_EQ(decoded.violations[0].id, "65f0a1b2c3d4e5f601234567");
  EXPECT_EQ(decoded.violations[0].field, "small");
  EXPECT_EQ(decoded.violations[0].expected, "int32");
  EXPECT_EQ(decoded.violations[0].found, "string \"12\"");
  EXPECT_EQ(decoded.violations[1].field, "big");
  EXPECT_EQ(decoded.violations[1].expected, "int64");
  EXPECT_EQ(decoded.violations[1].found, "double 3");
  bson_destroy(document);
}

TEST(BsonDecoder, ReportsMissingRequiredAndBadEnum) {
  bson_t* document = bson_new();
  BSON_APPEND_UTF8(document, "kind", "weird");
  bson_t address;
  BSON_APPEND_DOCUMENT_BEGIN(document, "address", &address);
  BSON_APPEND_UTF8(&address, "zip", "69001");
  bson_append_document_end(document, &address);
  const Decoded decoded = decode(document);
  bson_destroy(document);

  EXPECT_FALSE(decoded.valid);
  std::vector<std::string> fields;
  for (const Violation& violation : decoded.violations) fields.push_back(violation.field + ": " + violation.found);
  EXPECT_EQ(fields, (std::vector<std::string>{"kind: string \"weird\"", "address.city: missing", "_id: missing",
                                              "label: missing"}));
  EXPECT_EQ(decoded.violations[0].expected, "one of plain, edge, broken");
}

TEST(BsonDecoder, ReportsInvalidUtf8) {
  bson_t* document = base_specimen();
  const char bad[] = {'a', static_cast<char>(0xff), 'b'};
  bson_t tags;
  BSON_APPEND_ARRAY_BEGIN(document, "tags", &tags);
  bson_append_utf8(&tags, "0", 1, bad, 3);
  bson_append_array_end(document, &tags);
  const Decoded decoded = decode(document);
  EXPECT_FALSE(decoded.valid);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "tags.0");
  bson_destroy(document);
}

TEST(BsonDecoder, ReportsInvalidUtf8MapKey) {
  bson_t* document = base_specimen();
  bson_t counters;
  BSON_APPEND_DOCUMENT_BEGIN(document, "counters", &counters);
  bson_append_int32(&counters, "a\xff", 2, 1);
  bson_append_document_end(document, &counters);
  const Decoded decoded = decode(document);
  EXPECT_FALSE(decoded.valid);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "counters");
  bson_destroy(document);
}

TEST(BsonDecoder, ReportsNonCanonicalDecimal128) {
  bson_t* document = base_specimen();
  bson_decimal128_t price;
  price.high = 0x0001ffffffffffffULL;  // coefficient above 10^34 - 1, exponent 0
  price.low = 0xffffffffffffffffULL;
  BSON_APPEND_DECIMAL128(document, "price", &price);
  const Decoded decoded = decode(document);
  EXPECT_FALSE(decoded.valid);
  ASSERT_EQ(decoded.violations.size(), 1u);
  EXPECT_EQ(decoded.violations[0].field, "price");
  EXPECT_EQ(decoded.violations[0].found, "non-canonical decimal128");
  bson_destroy(document);
}

TEST(BsonDecoder, RejectsCorruptBytes) {
  const uint8_t truncated[] = {0x20, 0, 0, 0, 0x10, 'a', 0, 1};
  Value record;
  std::vector<Violation> violations;
  EXPECT_FALSE(BsonDecoder(specimen()).decode(truncated, sizeof(truncated), &record, &violations));
  ASSERT_FALSE(violations.empty());
  EXPECT_EQ(violations[0].expected, "a well-formed BSON document");
}

TEST(BsonDecoder, ProjectedModelDecodesOnlyItsFields) {
  auto projected = specimen().project({"score", "address.city"}, "aggregates");
  ASSERT_TRUE(projected.ok());
  bson_t* document = base_specimen();
  BSON_APPEND_UTF8(document, "small", "not checked");
  BSON_APPEND_INT32(document, "score", 3);
  const Decoded decoded = decode(document, projected.value());
  EXPECT_TRUE(decoded.valid);
  EXPECT_EQ(to_canonical_json(decoded.record), R"({"_id":{"$oid":"65f0a1b2c3d4e5f601234567"},"score":{"$numberInt":"3"}})");
  bson_destroy(document);
}

}  // namespace
}  // namespace heavylift
