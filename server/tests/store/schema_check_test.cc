#include "store/schema_check.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

Schema event_schema() {
  auto schema = parse_schema(R"({"version":1,"models":[{"name":"Event","collection":"events","table":"events",
    "fields":[{"name":"_id","type":"ObjectId","required":true},
              {"name":"type","type":"String","required":true,"enum":["a","b"]},
              {"name":"amount","type":"Double","required":true},
              {"name":"where","type":"Object","fields":[{"name":"city","type":"String"}]}]}]})");
  EXPECT_TRUE(schema.ok());
  return schema.value();
}

// What Mongoose's toJSONSchema({ useBsonType: true }) emits for the same model.
constexpr char kMatching[] = R"({"Event":{"required":["type","amount","_id"],"properties":{
  "type":{"bsonType":"string","enum":["a","b"]},"amount":{"bsonType":"double"},
  "where":{"bsonType":["object","null"],"properties":{"city":{"bsonType":["string","null"]}}},
  "_id":{"bsonType":"objectId"}}}})";

TEST(SchemaCheck, MatchingModelsHaveNoDrift) {
  auto drifts = check_schema_drift(event_schema(), kMatching);
  ASSERT_TRUE(drifts.ok());
  EXPECT_TRUE(drifts.value().empty());
}

TEST(SchemaCheck, NamesRetypedField) {
  std::string models = kMatching;
  const std::string amount = R"("amount":{"bsonType":"double"})";
  models.replace(models.find(amount), amount.size(), R"("amount":{"bsonType":"number"})");
  auto drifts = check_schema_drift(event_schema(), models);
  ASSERT_TRUE(drifts.ok());
  ASSERT_EQ(drifts.value().size(), 1u);
  EXPECT_EQ(drifts.value()[0].field, "amount");
  EXPECT_EQ(drifts.value()[0].message, "the schema has double (Double), the Node model has number");
}

TEST(SchemaCheck, NamesRenamedNestedField) {
  std::string models = kMatching;
  models.replace(models.find("\"city\""), 6, "\"town\"");
  auto drifts = check_schema_drift(event_schema(), models);
  ASSERT_TRUE(drifts.ok());
  ASSERT_EQ(drifts.value().size(), 2u);
  EXPECT_EQ(drifts.value()[0].field, "where.city");
  EXPECT_EQ(drifts.value()[1].field, "where.town");
}

TEST(SchemaCheck, NamesRequiredChange) {
  std::string models = kMatching;
  const std::string required = R"(["type","amount","_id"])";
  models.replace(models.find(required), required.size(), R"(["type","_id"])");
  auto drifts = check_schema_drift(event_schema(), models);
  ASSERT_TRUE(drifts.ok());
  ASSERT_EQ(drifts.value().size(), 1u);
  EXPECT_EQ(drifts.value()[0].field, "amount");
}

TEST(SchemaCheck, RejectsNonObjectModels) {
  EXPECT_FALSE(check_schema_drift(event_schema(), "[1]").ok());
}

}  // namespace
}  // namespace heavylift
