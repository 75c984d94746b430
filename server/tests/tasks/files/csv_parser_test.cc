#include "tasks/files/csv_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace heavylift {
namespace {

struct Record {
  std::vector<std::string> fields;
  uint64_t line = 0;
  bool operator==(const Record&) const = default;
};

// Collects every record, and every malformed report as "line:reason".
struct Recorder {
  std::vector<Record> records;
  std::vector<std::string> malformed;
  Record current;

  bool on_field(std::string_view value, bool) {
    current.fields.emplace_back(value);
    return true;
  }
  bool on_record_end(uint64_t line) {
    current.line = line;
    records.push_back(std::move(current));
    current = {};
    return true;
  }
  void on_malformed(uint64_t line, const char* reason) { malformed.push_back(std::to_string(line) + ":" + reason); }
};

Recorder parse_in_chunks(std::string_view input, const std::vector<size_t>& cuts, char delimiter = ',',
                         CsvScanLevel level = best_csv_scan_level()) {
  CsvParser parser(delimiter, 1 << 20, level);
  Recorder recorder;
  size_t start = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(parser.feed(input.substr(start, cut - start), recorder).ok());
    start = cut;
  }
  EXPECT_TRUE(parser.feed(input.substr(start), recorder).ok());
  EXPECT_TRUE(parser.finish(recorder).ok());
  return recorder;
}

struct Case {
  const char* name;
  std::string input;
  char delimiter;
  std::vector<Record> expected;
  std::vector<std::string> malformed;
};

std::vector<Case> quirk_cases() {
  return {
      {"quoted delimiter", "a,\"b,c\",d\n", ',', {{{"a", "b,c", "d"}, 1}}, {}},
      {"escaped quotes", "\"he said \"\"hi\"\"\",x\n", ',', {{{"he said \"hi\"", "x"}, 1}}, {}},
      {"newline inside quotes", "\"line1\nline2\",y\nnext,z\n", ',',
       {{{"line1\nline2", "y"}, 1}, {{"next", "z"}, 3}}, {}},
      {"crlf line ends", "a,b\r\nc,d\r\n", ',', {{{"a", "b"}, 1}, {{"c", "d"}, 2}}, {}},
      {"crlf inside quotes", "\"a\r\nb\",c\r\n", ',', {{{"a\r\nb", "c"}, 1}}, {}},
      {"byte order mark", "\xEF\xBB\xBFid,name\n1,x\n", ',', {{{"id", "name"}, 1}, {{"1", "x"}, 2}}, {}},
      {"semicolon delimiter", "a;b;\"c;d\"\n", ';', {{{"a", "b", "c;d"}, 1}}, {}},
      {"tab delimiter", "a\tb\n1\t2", '\t', {{{"a", "b"}, 1}, {{"1", "2"}, 2}}, {}},
      {"no final line end", "a,b\nc,d", ',', {{{"a", "b"}, 1}, {{"c", "d"}, 2}}, {}},
      {"empty fields", ",a,,\n", ',', {{{"", "a", "", ""}, 1}}, {}},
      {"empty quoted field", "\"\",x\n", ',', {{{"", "x"}, 1}}, {}},
      {"blank lines skipped", "a\n\n\r\nb\n", ',', {{{"a"}, 1}, {{"b"}, 4}}, {}},
      {"ragged rows kept", "a,b,c\n1,2\n3,4,5,6\n", ',',
       {{{"a", "b", "c"}, 1}, {{"1", "2"}, 2}, {{"3", "4", "5", "6"}, 3}}, {}},
      {"quote inside unquoted field", "ab\"c,d\n", ',', {{{"ab\"c", "d"}, 1}}, {}},
      {"text after closing quote", "\"ab\"c,d\n", ',', {{{"ab\"c", "d"}, 1}}, {"1:text follows a closing quote"}},
      {"unclosed quote", "x,\"abc\ndef", ',', {{{"x", "abc\ndef"}, 1}},
       {"1:a quoted field is not closed before the end"}},
      {"bare cr line ends", "a\rb\r", ',', {{{"a"}, 1}, {{"b"}, 2}}, {}},
      {"only a byte order mark prefix", "\xEF\xBB", ',', {{{"\xEF\xBB"}, 1}}, {}},
      {"quote at field end after escape", "\"a\"\"\"\n", ',', {{{"a\""}, 1}}, {}},
  };
}

TEST(CsvParser, HandlesEachQuirkInOneChunk) {
  for (const Case& c : quirk_cases()) {
    const Recorder recorder = parse_in_chunks(c.input, {}, c.delimiter);
    EXPECT_EQ(recorder.records, c.expected) << c.name;
    EXPECT_EQ(recorder.malformed, c.malformed) << c.name;
  }
}

TEST(CsvParser, SameResultSplitAtEveryByteOffset) {
  for (const Case& c : quirk_cases()) {
    for (size_t cut = 0; cut <= c.input.size(); ++cut) {
      const Recorder recorder = parse_in_chunks(c.input, {cut}, c.delimiter);
      ASSERT_EQ(recorder.records, c.expected) << c.name << ", cut at " << cut;
      ASSERT_EQ(recorder.malformed, c.malformed) << c.name << ", cut at " << cut;
    }
  }
}

TEST(CsvParser, SameResultSplitAtEveryPairOfOffsets) {
  for (const Case& c : quirk_cases()) {
    for (size_t first = 0; first <= c.input.size(); ++first) {
      for (size_t second = first; second <= c.input.size(); ++second) {
        const Recorder recorder = parse_in_chunks(c.input, {first, second}, c.delimiter);
        ASSERT_EQ(recorder.records, c.expected) << c.name << ", cuts at " << first << " and " << second;
      }
    }
  }
}

TEST(CsvParser, OneByteChunks) {
  for (const Case& c : quirk_cases()) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < c.input.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(parse_in_chunks(c.input, cuts, c.delimiter).records, c.expected) << c.name;
  }
}

// Random CSV-like text from a small alphabet, so that quotes, escaped
// quotes, CRLF, bare CR, blank lines and text after closing quotes are all
// common, with runs long enough to cross 64-byte blocks.
std::string random_csv(std::mt19937& random, size_t size) {
  static const std::string pieces[] = {"a", "bc", "12345678901234567890", ",", ",", "\"", "\"\"", "\n", "\r\n", "\r",
                                       ";", "\xEF\xBB\xBF", std::string(1, '\0'), "x y", "\"q,\r\n\"",
                                       std::string(70, 'z')};
  std::string text;
  while (text.size() < size) text += pieces[random() % std::size(pieces)];
  return text;
}

TEST(CsvParser, ScanLevelsAgreeOnRandomInput) {
  std::vector<CsvScanLevel> levels;
  for (const CsvScanLevel level : {CsvScanLevel::kScalar, CsvScanLevel::kSse2, CsvScanLevel::kAvx2}) {
    if (csv_block_scan(level) != nullptr) levels.push_back(level);
  }
  std::mt19937 random(11);
  for (int round = 0; round < 40; ++round) {
    const std::string input = random_csv(random, 40 + random() % 300);
    char delimiter = ',';
    if (round % 4 == 0) delimiter = '\0';
    if (round % 4 == 1) delimiter = ';';
    const Recorder expected = parse_in_chunks(input, {}, delimiter, CsvScanLevel::kScalar);
    for (const CsvScanLevel level : levels) {
      for (size_t cut = 0; cut <= input.size(); ++cut) {
        const Recorder recorder = parse_in_chunks(input, {cut}, delimiter, level);
        ASSERT_EQ(recorder.records, expected.records) << "round " << round << ", cut at " << cut;
        ASSERT_EQ(recorder.malformed, expected.malformed) << "round " << round << ", cut at " << cut;
      }
    }
  }
}

TEST(CsvParser, ScalarLevelMatchesQuirkCases) {
  for (const Case& c : quirk_cases()) {
    for (size_t cut = 0; cut <= c.input.size(); ++cut) {
      const Recorder recorder = parse_in_chunks(c.input, {cut}, c.delimiter, CsvScanLevel::kScalar);
      ASSERT_EQ(recorder.records, c.expected) << c.name << ", cut at " << cut;
      ASSERT_EQ(recorder.malformed, c.malformed) << c.name << ", cut at " << cut;
    }
  }
}

TEST(CsvParser, RejectsFieldOverBound) {
  CsvParser parser(',', 8);
  Recorder recorder;
  Status first = parser.feed("ok,\"0123", recorder);
  ASSERT_TRUE(first.ok());
  Status second = parser.feed("456789", recorder);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().reason, "FIELD_TOO_LARGE");
  EXPECT_EQ(second.error().field, "files.max_field_bytes");
  EXPECT_EQ(second.error().bound, "<= 8 bytes");
}

}  // namespace
}  // namespace heavylift
