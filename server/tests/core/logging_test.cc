#include "core/logging.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(LogValue, BareWordsStayBare) { EXPECT_EQ(log_value("image.thumbnail"), "image.thumbnail"); }

TEST(LogValue, EmptyIsQuoted) { EXPECT_EQ(log_value(""), "\"\""); }

TEST(LogValue, SpacesAndQuotesAreQuoted) {
  EXPECT_EQ(log_value("input is \"bad\""), "\"input is \\\"bad\\\"\"");
}

TEST(LogValue, NewlinesCannotSplitALine) {
  const std::string rendered = log_value("a\nlevel=error b");
  EXPECT_EQ(rendered.find('\n'), std::string::npos);
  EXPECT_EQ(rendered, "\"a\\nlevel=error b\"");
}

TEST(LogValue, EqualsSignIsQuoted) { EXPECT_EQ(log_value("k=v"), "\"k=v\""); }

}  // namespace
}  // namespace heavylift
