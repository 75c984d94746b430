#include "store/pg_array.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(PgArray, ParsesPlainQuotedAndNull) {
  auto parsed = parse_pg_array(R"({1,"a b","c\"d\\e",NULL,"NULL"})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& elements = parsed.value();
  ASSERT_EQ(elements.size(), 5u);
  EXPECT_EQ(*elements[0], "1");
  EXPECT_EQ(*elements[1], "a b");
  EXPECT_EQ(*elements[2], "c\"d\\e");
  EXPECT_FALSE(elements[3].has_value());
  EXPECT_EQ(*elements[4], "NULL");
}

TEST(PgArray, ParsesEmpty) {
  auto parsed = parse_pg_array("{}");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.value().empty());
}

TEST(PgArray, RejectsMalformed) {
  for (const char* text : {"", "{", "1,2", "{1,,2}", "{\"a}", "{{1}}", "{1,}", "[1:1]={1}", "{a\"b}"}) {
    EXPECT_FALSE(parse_pg_array(text).ok()) << text;
  }
}

}  // namespace
}  // namespace heavylift
