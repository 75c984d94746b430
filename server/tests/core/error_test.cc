#include "core/error.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(Error, OutOfRangeNamesFieldBoundAndValue) {
  const Error error = Error::out_of_range("memory_cost", "in 8..65536 KiB", "1048576 KiB");
  EXPECT_EQ(error.code, Code::kInvalidArgument);
  EXPECT_EQ(error.field, "memory_cost");
  EXPECT_EQ(error.bound, "in 8..65536 KiB");
  EXPECT_EQ(error.value, "1048576 KiB");
  EXPECT_EQ(error.reason, "OUT_OF_RANGE");
  EXPECT_EQ(error.message, "memory_cost must be in 8..65536 KiB, got 1048576 KiB");
}

TEST(Error, CodeNamesMatchGrpc) {
  EXPECT_STREQ(code_name(Code::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(code_name(Code::kResourceExhausted), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(static_cast<int>(Code::kUnavailable), 14);
  EXPECT_EQ(static_cast<int>(Code::kUnauthenticated), 16);
}

TEST(QuoteValue, EscapesControlBytesAndQuotes) {
  EXPECT_EQ(quote_value("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\x0a\\x01\"");
}

TEST(QuoteValue, TruncatesLongValues) {
  const std::string quoted = quote_value(std::string(100, 'x'));
  EXPECT_EQ(quoted, "\"" + std::string(64, 'x') + "\" (100 bytes, truncated)");
}

TEST(Result, HoldsValueOrError) {
  Result<int> good(42);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 42);
  Result<int> bad(Error::internal("boom"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Code::kInternal);
}

}  // namespace
}  // namespace heavylift
