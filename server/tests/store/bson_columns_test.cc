#include "store/bson_columns.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "store/schema.h"
#include "specimen_fixture.h"

namespace heavylift {
namespace {


// Every scalar field of Specimen, one nested.
const std::vector<std::string> kPaths = {"ref",   "label", "kind",  "born",   "price",       "small",
                                         "big",   "ratio", "score", "active", "address.city"};

const ModelSchema& scalar_projection() {
  static const ModelSchema projected = specimen().project(kPaths, "test").value();
  return projected;
}

ColumnBatch empty_batch(const ModelSchema& model, const std::vector<std::string>& paths) {
  ColumnBatch batch;
  for (const std::string& path : paths) {
    batch.columns.emplace_back().kind = BsonColumnDecoder::kind_for(model.find_path(path)->type);
  }
  return batch;
}

// The outcome of one document through both decoders.
struct Outcome {
  bool valid = false;
  ColumnBatch batch;
  std::vector<Violation> violations;
  bool tree_valid = false;
  ColumnBatch tree_batch;  // the tree decoder's values, converted as the aggregation converts them
  std::vector<Violation> tree_violations;
};

Outcome decode(const uint8_t* data, size_t length, const ModelSchema& model = scalar_projection(),
               const std::vector<std::string>& paths = kPaths) {
  Outcome out;
  out.batch = empty_batch(model, paths);
  out.tree_batch = empty_batch(model, paths);
  BsonColumnDecoder decoder = BsonColumnDecoder::create(model, paths, "test").value();
  out.valid = decoder.decode(data, length, &out.batch, &out.violations);
  Value record;
  out.tree_valid = BsonDecoder(model).decode(data, length, &record, &out.tree_violations);
  if (out.tree_valid) {
    for (size_t i = 0; i < paths.size(); ++i) append_value(record.get_path(paths[i]), out.tree_batch.columns[i]);
  }
  return out;
}

Outcome decode(const bson_t* document, const ModelSchema& model = scalar_projection(),
               const std::vector<std::string>& paths = kPaths) {
  return decode(bson_get_data(document), document->len, model, paths);
}

bool same_violations(const std::vector<Violation>& a, const std::vector<Violation>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].collection != b[i].collection || a[i].id != b[i].id || a[i].field != b[i].field ||
        a[i].expected != b[i].expected || a[i].found != b[i].found) {
      return false;
    }
  }
  return true;
}

bool same_columns(const ColumnBatch& a, const ColumnBatch& b) {
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const Column& x = a.columns[i];
    const Column& y = b.columns[i];
    if (x.present != y.present || x.integers != y.integers || x.text_bytes != y.text_bytes || x.text_ends != y.text_ends ||
        x.numbers.size() != y.numbers.size()) {
      return false;
    }
    if (!x.numbers.empty() && std::memcmp(x.numbers.data(), y.numbers.data(), x.numbers.size() * sizeof(double)) != 0) {
      return false;
    }
  }
  return true;
}


TEST(BsonColumnDecoder, DecodesEveryScalarTypeIntoColumns) {
  bson_t* document = base_specimen();
  bson_oid_t ref;
  bson_oid_init_from_string(&ref, "0123456789abcdef01234567");
  BSON_APPEND_OID(document, "ref", &ref);
  BSON_APPEND_DATE_TIME(document, "born", -86'400'001);
  bson_decimal128_t price;
  bson_decimal128_from_string("-1234567890.5", &price);
  BSON_APPEND_DECIMAL128(document, "price", &price);
  BSON_APPEND_INT32(document, "small", -2147483647 - 1);
  BSON_APPEND_INT64(document, "big", 9007199254740993);
  BSON_APPEND_DOUBLE(document, "ratio", -0.0);
  BSON_APPEND_INT32(document, "score", 7);
  BSON_APPEND_BOOL(document, "active", true);
  bson_t child;
  BSON_APPEND_DOCUMENT_BEGIN(document, "address", &child);
  BSON_APPEND_UTF8(&child, "city", "Lyon ✓");
  bson_append_document_end(document, &child);

  const Outcome out = decode(document);
  ASSERT_TRUE(out.valid) << (out.violations.empty() ? "" : out.violations[0].field);
  const auto& c = out.batch.columns;
  EXPECT_EQ(c[0].text_at(0), "0123456789abcdef01234567");
  EXPECT_EQ(c[1].text_at(0), "plain one");
  EXPECT_EQ(c[2].text_at(0), "plain");
  EXPECT_EQ(c[3].integers[0], -86'400'001);
  EXPECT_EQ(c[4].numbers[0], -1234567890.5);
  EXPECT_EQ(c[5].integers[0], -2147483648);
  EXPECT_EQ(c[6].integers[0], 9007199254740993);
  EXPECT_EQ(c[7].numbers[0], 0.0);
  EXPECT_TRUE(std::signbit(c[7].numbers[0]));
  EXPECT_EQ(c[8].numbers[0], 7.0);
  EXPECT_EQ(c[9].integers[0], 1);
  EXPECT_EQ(c[10].text_at(0), "Lyon ✓");
  for (const Column& column : c) EXPECT_EQ(column.present, std::vector<uint8_t>{1});
  EXPECT_TRUE(same_columns(out.batch, out.tree_batch));
  bson_destroy(document);
}

TEST(BsonColumnDecoder, AppendsRowAfterRowIntoOneBatch) {
  const ModelSchema& model = scalar_projection();
  BsonColumnDecoder decoder = BsonColumnDecoder::create(model, kPaths, "test").value();
  ColumnBatch batch = empty_batch(model, kPaths);
  std::vector<Violation> violations;
  const char* labels[] = {"first", "a second, longer label than sixteen bytes", ""};
  for (const char* label : labels) {
    bson_t* document = base_specimen();
    BSON_APPEND_UTF8(document, "label", label);  // the later duplicate wins, as in BsonDecoder
    BSON_APPEND_DOUBLE(document, "score", 2.5);
    BSON_APPEND_BOOL(document, "active", false);
    ASSERT_TRUE(decoder.decode(bson_get_data(document), document->len, &batch, &violations));
    bson_destroy(document);
  }
  ASSERT_EQ(batch.columns[1].size(), 3u);
  EXPECT_EQ(batch.columns[1].text_at(0), "first");
  EXPECT_EQ(batch.columns[1].text_at(1), "a second, longer label than sixteen bytes");
  EXPECT_EQ(batch.columns[1].text_at(2), "");
  EXPECT_EQ(batch.columns[8].numbers, (std::vector<double>{2.5, 2.5, 2.5}));
  EXPECT_EQ(batch.columns[9].integers, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_TRUE(violations.empty());
}

TEST(BsonColumnDecoder, TellsAbsentFromPresent) {
  bson_t* document = base_specimen();
  BSON_APPEND_NULL(document, "ref");
  BSON_APPEND_NULL(document, "address");
  const Outcome out = decode(document);
  ASSERT_TRUE(out.valid);
  EXPECT_EQ(out.batch.columns[0].present, std::vector<uint8_t>{0});   // null
  EXPECT_EQ(out.batch.columns[3].present, std::vector<uint8_t>{0});   // missing
  EXPECT_EQ(out.batch.columns[10].present, std::vector<uint8_t>{0});  // inside a null Object
  EXPECT_EQ(out.batch.columns[1].present, std::vector<uint8_t>{1});
  EXPECT_TRUE(same_columns(out.batch, out.tree_batch));
  bson_destroy(document);
}

TEST(BsonColumnDecoder, SkipsFieldsOutsideTheProjection) {
  bson_t* document = base_specimen();
  BSON_APPEND_UTF8(document, "tags", "not an array, not checked");
  BSON_APPEND_REGEX(document, "other", "^a", "i");
  const uint8_t binary[] = {1, 2, 3};
  BSON_APPEND_BINARY(document, "blob", BSON_SUBTYPE_BINARY, binary, sizeof(binary));
  BSON_APPEND_INT32(document, "small", 4);
  const Outcome out = decode(document);
  ASSERT_TRUE(out.valid);
  EXPECT_EQ(out.batch.columns[5].integers, std::vector<int64_t>{4});
  bson_destroy(document);
}

// Each document breaks the schema in one way; the column decoder must report
// what BsonDecoder reports and leave the batch as it was.
TEST(BsonColumnDecoder, ReportsViolationsAsBsonDecoderDoes) {
  struct Case {
    const char* name;
    void (*build)(bson_t*);
    const char* field;
  };
  const Case cases[] = {
      {"int32 as string", [](bson_t* d) { BSON_APPEND_UTF8(d, "small", "12"); }, "small"},
      {"double as int32", [](bson_t* d) { BSON_APPEND_INT32(d, "ratio", 1); }, "ratio"},
      {"Number as int64", [](bson_t* d) { BSON_APPEND_INT64(d, "score", 1); }, "score"},
      {"BigInt as int32", [](bson_t* d) { BSON_APPEND_INT32(d, "big", 1); }, "big"},
      {"date as int64", [](bson_t* d) { BSON_APPEND_INT64(d, "born", 1); }, "born"},
      {"bool as int32", [](bson_t* d) { BSON_APPEND_INT32(d, "active", 1); }, "active"},
      {"ObjectId as string", [](bson_t* d) { BSON_APPEND_UTF8(d, "ref", "0123456789abcdef01234567"); }, "ref"},
      {"Decimal128 as double", [](bson_t* d) { BSON_APPEND_DOUBLE(d, "price", 1.5); }, "price"},
      {"non-canonical Decimal128",
       [](bson_t* d) {
         bson_decimal128_t price;
         price.high = 0x0001ffffffffffffULL;
         price.low = 0xffffffffffffffffULL;
         BSON_APPEND_DECIMAL128(d, "price", &price);
       },
       "price"},
      {"enum value not listed", [](bson_t* d) { BSON_APPEND_UTF8(d, "kind", "odd"); }, "kind"},
      {"invalid UTF-8", [](bson_t* d) { bson_append_utf8(d, "label", -1, "a\xff", 2); }, "label"},
      {"required null", [](bson_t* d) { BSON_APPEND_NULL(d, "label"); }, "label"},
      {"Object as string", [](bson_t* d) { BSON_APPEND_UTF8(d, "address", "Lyon"); }, "address"},
      {"Object without its required field",
       [](bson_t* d) {
         bson_t child;
         BSON_APPEND_DOCUMENT_BEGIN(d, "address", &child);
         BSON_APPEND_UTF8(&child, "street", "x");
         bson_append_document_end(d, &child);
       },
       "address.city"},
      {"nested wrong type",
       [](bson_t* d) {
         bson_t child;
         BSON_APPEND_DOCUMENT_BEGIN(d, "address", &child);
         BSON_APPEND_INT32(&child, "city", 3);
         bson_append_document_end(d, &child);
       },
       "address.city"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    bson_t* document = base_specimen();
    c.build(document);
    const Outcome out = decode(document);
    EXPECT_FALSE(out.valid);
    EXPECT_FALSE(out.tree_valid);
    ASSERT_FALSE(out.violations.empty());
    EXPECT_EQ(out.violations[0].field, c.field);
    EXPECT_EQ(out.violations[0].collection, "specimens");
    EXPECT_EQ(out.violations[0].id, "65f0a1b2c3d4e5f601234567");
    EXPECT_TRUE(same_violations(out.violations, out.tree_violations));
    for (const Column& column : out.batch.columns) EXPECT_EQ(column.size(), 0u);
    bson_destroy(document);
  }
}

TEST(BsonColumnDecoder, ReportsMissingRequiredFields) {
  bson_t* document = bson_new();
  BSON_APPEND_UTF8(document, "kind", "edge");
  const Outcome out = decode(document);
  EXPECT_FALSE(out.valid);
  ASSERT_EQ(out.violations.size(), 2u);
  EXPECT_EQ(out.violations[0].field, "_id");
  EXPECT_EQ(out.violations[0].found, "missing");
  EXPECT_EQ(out.violations[1].field, "label");
  EXPECT_TRUE(same_violations(out.violations, out.tree_violations));
  bson_destroy(document);
}

// Field names of every length class that key matching treats apart (1, 2
// to 4, 5 to 8 and longer bytes): the exact names decode, and a key that
// differs from a name in any one byte matches no field.
TEST(BsonColumnDecoder, MatchesKeysByEveryByte) {
  const std::vector<std::string> names = {"a", "ab", "abc", "abcd", "abcde", "abcdefgh", "abcdefghi", "abcdefghijklmnop",
                                          "abcdefghijklmnopq"};
  std::string json = R"({"version":1,"models":[{"name":"Keys","collection":"keys","fields":[)";
  for (size_t i = 0; i < names.size(); ++i) {
    json += (i == 0 ? "" : ",") + std::string(R"({"name":")") + names[i] + R"(","type":"Int32","required":true})";
  }
  json += "]}]}";
  const Schema schema = parse_schema(json).value();
  const ModelSchema& model = schema.models[0];

  const auto make_document = [&](size_t changed_field, size_t changed_byte) {
    bson_t* document = bson_new();
    for (size_t i = 0; i < names.size(); ++i) {
      std::string key = names[i];
      if (i == changed_field) key[changed_byte] = 'X';
      bson_append_int32(document, key.c_str(), static_cast<int>(key.size()), static_cast<int32_t>(i));
    }
    return document;
  };

  bson_t* exact = make_document(names.size(), 0);
  const Outcome valid = decode(exact, model, names);
  ASSERT_TRUE(valid.valid);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(valid.batch.columns[i].integers, std::vector<int64_t>{static_cast<int64_t>(i)});
  bson_destroy(exact);

  for (size_t field = 0; field < names.size(); ++field) {
    for (size_t byte = 0; byte < names[field].size(); ++byte) {
      bson_t* document = make_document(field, byte);
      const Outcome out = decode(document, model, names);
      EXPECT_FALSE(out.valid) << names[field] << " byte " << byte;
      ASSERT_EQ(out.violations.size(), 1u) << names[field] << " byte " << byte;
      EXPECT_EQ(out.violations[0].field, names[field]);
      EXPECT_TRUE(same_violations(out.violations, out.tree_violations));
      bson_destroy(document);
    }
  }
}

TEST(BsonColumnDecoder, ReportsCorruptBytes) {
  bson_t* document = base_specimen();
  BSON_APPEND_INT32(document, "small", 1);
  const std::string bytes(reinterpret_cast<const char*>(bson_get_data(document)), document->len);
  bson_destroy(document);
  // A string length that runs past the end, in a field the projection keeps.
  std::string corrupt = bytes;
  corrupt.replace(corrupt.find("label") + 6, 1, 1, '\x7f');
  for (const std::string& input : {corrupt, bytes.substr(0, bytes.size() - 1)}) {
    const Outcome out = decode(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    EXPECT_FALSE(out.valid);
    ASSERT_FALSE(out.violations.empty());
    EXPECT_EQ(out.violations[0].expected, "a well-formed BSON document");
    EXPECT_TRUE(same_violations(out.violations, out.tree_violations));
  }
}

TEST(BsonColumnDecoder, ModelWithArraysGoesThroughTheTree) {
  const std::vector<std::string> paths = {"small"};
  const ModelSchema model = specimen().project({"small", "tags"}, "test").value();
  bson_t* document = base_specimen();
  BSON_APPEND_INT32(document, "small", 5);
  bson_t child;
  BSON_APPEND_ARRAY_BEGIN(document, "tags", &child);
  BSON_APPEND_UTF8(&child, "0", "a");
  BSON_APPEND_INT32(&child, "1", 2);
  bson_append_array_end(document, &child);
  const Outcome out = decode(document, model, paths);
  EXPECT_FALSE(out.valid);
  ASSERT_EQ(out.violations.size(), 1u);
  EXPECT_EQ(out.violations[0].field, "tags.1");
  EXPECT_TRUE(same_violations(out.violations, out.tree_violations));
  bson_destroy(document);

  document = base_specimen();
  BSON_APPEND_INT32(document, "small", 5);
  const Outcome valid = decode(document, model, paths);
  ASSERT_TRUE(valid.valid);
  EXPECT_EQ(valid.batch.columns[0].integers, std::vector<int64_t>{5});
  bson_destroy(document);
}

TEST(BsonColumnDecoder, RejectsPathsThatAreNotScalarFields) {
  for (const char* path : {"nope", "address", "tags", ""}) {
    auto decoder = BsonColumnDecoder::create(specimen(), {path}, "aggregates");
    ASSERT_FALSE(decoder.ok()) << path;
    EXPECT_EQ(decoder.error().field, "aggregates");
    EXPECT_EQ(decoder.error().value, path);
  }
}

}  // namespace
}  // namespace heavylift
