#include "tasks/files/sniff.h"

#include <gtest/gtest.h>

#include <string>

namespace heavylift {
namespace {

TEST(SniffContentType, RecognisesMagicBytes) {
  const std::pair<std::string, const char*> cases[] = {
      {std::string("\xFF\xD8\xFF\xE0", 4), "image/jpeg"},
      {std::string("\x89PNG\r\n\x1A\n\0\0", 10), "image/png"},
      {"GIF89a....", "image/gif"},
      {std::string("RIFF\0\0\0\0WEBPVP8 ", 16), "image/webp"},
      {std::string("\0\0\0\x1C" "ftypavif", 12), "image/avif"},
      {std::string("\0\0\0\x1C" "ftypheic", 12), "image/heic"},
      {"%PDF-1.7\n", "application/pdf"},
      {std::string("PK\x03\x04\x14\0", 6), "application/zip"},
      {std::string("\x1F\x8B\x08\0", 4), "application/gzip"},
      {std::string("\x28\xB5\x2F\xFD\x04", 5), "application/zstd"},
      {"", "application/octet-stream"},
      {std::string("\x01\x02\0\x03", 4), "application/octet-stream"},
  };
  for (const auto& [head, expected] : cases) {
    EXPECT_EQ(sniff_content_type(head, true), expected) << "head " << head.size() << " bytes";
  }
}

TEST(SniffContentType, TellsTextKinds) {
  EXPECT_EQ(sniff_content_type("id,name\n1,ann\n2,bob\n", true), "text/csv");
  EXPECT_EQ(sniff_content_type("\xEF\xBB\xBFid;name\r\n1;ann\r\n", true), "text/csv");
  EXPECT_EQ(sniff_content_type("a\tb\tc\n1\t2\t3\n", true), "text/csv");
  EXPECT_EQ(sniff_content_type("{\"a\":1}\n{\"a\":2}\n", true), "application/x-ndjson");
  EXPECT_EQ(sniff_content_type("  [1, 2, 3]", true), "application/json");
  EXPECT_EQ(sniff_content_type("Hello, world.\nA second line here\n", true), "text/plain");
  EXPECT_EQ(sniff_content_type("caf\xC3\xA9\n", true), "text/plain");
  EXPECT_EQ(sniff_content_type("bad \xC3\x28 utf8", true), "application/octet-stream");
}

TEST(SniffContentType, CsvWithQuotedNewlineKeepsFieldCount) {
  EXPECT_EQ(sniff_content_type("a,b\n\"x\ny\",2\n3,4\n", true), "text/csv");
}

TEST(DetectCsvDelimiter, ToleratesFewRaggedRows) {
  EXPECT_EQ(detect_csv_delimiter("id;amount;city\n1;2,5;x\n3;4\n5;6;y\n", true), ';');
  EXPECT_EQ(detect_csv_delimiter("a,b\n1\n2\n3\n", true), '\0');
  EXPECT_EQ(detect_csv_delimiter("just words here\n", true), '\0');
}

TEST(IsUtf8, AllowsCutSequenceOnlyWhenIncomplete) {
  const std::string cut = "ab\xE2\x82";
  EXPECT_TRUE(is_utf8(cut, false));
  EXPECT_FALSE(is_utf8(cut, true));
  EXPECT_FALSE(is_utf8("\xED\xA0\x80", true));  // a UTF-16 surrogate
  EXPECT_FALSE(is_utf8("\xC0\x80", true));      // an overlong NUL
}

}  // namespace
}  // namespace heavylift
