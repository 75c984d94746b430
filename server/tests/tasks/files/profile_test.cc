#include "tasks/files/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace std::string_literals;

namespace heavylift {
namespace {

const v1::ColumnProfile* find_column(const v1::DataProfile& profile, const std::string& name) {
  for (const auto& column : profile.columns()) {
    if (column.name() == name) return &column;
  }
  return nullptr;
}

v1::DataProfile profile_csv(std::string_view input, size_t chunk, v1::CsvOptions options = {}) {
  CsvProfiler profiler(options, ProfileLimits{});
  for (size_t offset = 0; offset < input.size(); offset += chunk) {
    EXPECT_TRUE(profiler.feed(input.substr(offset, chunk)).ok());
  }
  v1::DataProfile profile;
  Status status = profiler.finish(&profile);
  EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
  return profile;
}

TEST(CsvProfiler, InfersTypesAndStatistics) {
  const std::string input =
      "\xEF\xBB\xBFid,price,name,when,ok,empty\r\n"
      "1,2.5,ann,2024-01-02,true,\r\n"
      "2,3,bob,2024-01-03T10:00:00Z,false,\r\n"
      "3,-1.5e1,\"ann\",2023-12-31,TRUE,\r\n";
  const v1::DataProfile profile = profile_csv(input, 1 << 20);
  EXPECT_EQ(profile.rows(), 3u);
  EXPECT_EQ(profile.delimiter(), ",");
  ASSERT_EQ(profile.columns_size(), 6);
  EXPECT_EQ(profile.columns(0).name(), "id");  // no byte order mark in the name

  const v1::ColumnProfile& id = profile.columns(0);
  EXPECT_EQ(id.type(), v1::COLUMN_TYPE_INTEGER);
  EXPECT_EQ(id.min(), "1");
  EXPECT_EQ(id.max(), "3");
  EXPECT_DOUBLE_EQ(id.mean(), 2.0);
  EXPECT_EQ(id.distinct_estimate(), 3u);

  const v1::ColumnProfile& price = *find_column(profile, "price");
  EXPECT_EQ(price.type(), v1::COLUMN_TYPE_NUMBER);
  EXPECT_EQ(price.min(), "-15");
  EXPECT_EQ(price.max(), "3");
  EXPECT_NEAR(price.mean(), (2.5 + 3 - 15) / 3, 1e-12);

  const v1::ColumnProfile& name = *find_column(profile, "name");
  EXPECT_EQ(name.type(), v1::COLUMN_TYPE_STRING);
  EXPECT_EQ(name.distinct_estimate(), 2u);
  ASSERT_GE(name.top_values_size(), 2);
  EXPECT_EQ(name.top_values(0).value(), "ann");
  EXPECT_EQ(name.top_values(0).count(), 2u);
  EXPECT_EQ(name.min(), "ann");
  EXPECT_EQ(name.max(), "bob");

  EXPECT_EQ(find_column(profile, "when")->type(), v1::COLUMN_TYPE_TIMESTAMP);
  EXPECT_EQ(find_column(profile, "ok")->type(), v1::COLUMN_TYPE_BOOLEAN);
  const v1::ColumnProfile& empty = *find_column(profile, "empty");
  EXPECT_EQ(empty.type(), v1::COLUMN_TYPE_NULL);
  EXPECT_EQ(empty.null_count(), 3u);
}

TEST(CsvProfiler, ReportsRaggedRowsWithLineNumbers) {
  const std::string input = "a,b\n1,2\n3\n4,5,6\n\"x\ny\",7\n8,9\n";
  const v1::DataProfile profile = profile_csv(input, 5);
  EXPECT_EQ(profile.rows(), 5u);
  EXPECT_EQ(profile.bad_row_count(), 2u);
  ASSERT_EQ(profile.bad_rows_size(), 2);
  EXPECT_EQ(profile.bad_rows(0).line(), 3u);
  EXPECT_EQ(profile.bad_rows(0).reason(), "expected 2 fields, got 1");
  EXPECT_EQ(profile.bad_rows(0).excerpt(), "3");
  EXPECT_EQ(profile.bad_rows(1).line(), 4u);
  EXPECT_EQ(profile.bad_rows(1).excerpt(), "4,5,6");
  EXPECT_EQ(find_column(profile, "b")->null_count(), 1u);
}

TEST(CsvProfiler, BadRowExcerptsAtEveryChunkSize) {
  // Bad rows whose fields are queued, copied (escaped quotes), beyond the
  // header's width, or longer than the 256-byte excerpt.
  const std::string input = "a,b,c\n1,\"x\"\"y\",3\n4,\"p\"q,6\n7,8\n9,\"z\"\"w\",10,11\n" + std::string(300, 'L') +
                            ",b,c,d\n";
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    const v1::DataProfile profile = profile_csv(input, chunk);
    ASSERT_EQ(profile.bad_rows_size(), 4) << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(0).line(), 3u) << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(0).reason(), "text follows a closing quote") << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(0).excerpt(), "4,p\"q,6") << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(1).excerpt(), "7,8") << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(2).excerpt(), "9,z\"w,10,11") << "chunk " << chunk;
    EXPECT_EQ(profile.bad_rows(3).excerpt(), std::string(256, 'L')) << "chunk " << chunk;
  }
}

TEST(CsvProfiler, DetectsOrTakesDelimiter) {
  EXPECT_EQ(profile_csv("a;b;c\n1;2;3\n", 3).delimiter(), ";");
  EXPECT_EQ(profile_csv("a|b\n1|2\n", 1).delimiter(), "|");
  v1::CsvOptions options;
  options.set_delimiter("\t");
  EXPECT_EQ(profile_csv("a,b\tc\n1,2\t3\n", 4, options).columns(0).name(), "a,b");

  options.set_delimiter("ab");
  CsvProfiler profiler(options, ProfileLimits{});
  Status status = profiler.feed("x");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "csv.delimiter");
}

TEST(CsvProfiler, ProfileIsSameForEveryChunkSize) {
  const std::string input = "id,text\r\n1,\"a,\"\"b\"\"\r\nc\"\r\n2,plain\r\n3,\"\"\r\n";
  const std::string whole = profile_csv(input, input.size()).SerializeAsString();
  for (size_t chunk = 1; chunk < input.size(); ++chunk) {
    ASSERT_EQ(profile_csv(input, chunk).SerializeAsString(), whole) << "chunk " << chunk;
  }
}

TEST(CsvProfiler, RejectsTooManyColumns) {
  ProfileLimits limits;
  limits.max_columns = 2;
  CsvProfiler profiler({}, limits);
  EXPECT_TRUE(profiler.feed("a,b,c\n1,2,3\n").ok());
  v1::DataProfile profile;
  Status status = profiler.finish(&profile);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "TOO_MANY_COLUMNS");
  EXPECT_EQ(status.error().bound, "<= 2 columns");
}

// Generates rows whose statistics the test computes on its own, and checks
// the profiler against them. HEAVYLIFT_LARGE_CSV_BYTES raises the size (the
// benchmark uses 1 GB); the default keeps the suite fast.
TEST(CsvProfiler, LargeFileMatchesIndependentReference) {
  size_t target = 8u << 20;
  if (const char* env = std::getenv("HEAVYLIFT_LARGE_CSV_BYTES")) target = std::strtoull(env, nullptr, 10);

  std::string csv = "id,amount,city,day,note\n";
  std::map<std::string, uint64_t> city_counts;
  std::set<std::string> days;
  int64_t min_amount_cents = INT64_MAX;
  int64_t max_amount_cents = INT64_MIN;
  long double amount_sum = 0;
  uint64_t rows = 0;
  uint64_t notes_null = 0;
  static const char* const kCities[] = {"Lisbon", "Oslo", "Lima", "Kyoto", "Quito", "Accra", "Hanoi"};
  uint64_t state = 42;
  while (csv.size() < target) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t r = state >> 33;
    ++rows;
    const int64_t cents = static_cast<int64_t>(r % 200000) - 50000;
    const std::string city = kCities[(r / 7) % 7];
    const std::string day = "2024-" + std::string((r % 12) < 9 ? "0" : "") + std::to_string(r % 12 + 1) + "-1" +
                            std::to_string(r % 9 + 1);
    const bool has_note = (r % 5) != 0;
    char amount[32];
    std::snprintf(amount, sizeof amount, "%s%lld.%02lld", cents < 0 ? "-" : "", static_cast<long long>(std::llabs(cents) / 100),
                  static_cast<long long>(std::llabs(cents) % 100));
    csv += std::to_string(rows) + "," + amount + "," + city + "," + day + "," +
           (has_note ? "\"note, with comma " + std::to_string(r % 100) + "\"" : "") + "\n";
    ++city_counts[city];
    days.insert(day);
    min_amount_cents = std::min(min_amount_cents, cents);
    max_amount_cents = std::max(max_amount_cents, cents);
    amount_sum += static_cast<long double>(std::strtod(amount, nullptr));
    notes_null += has_note ? 0 : 1;
  }

  const v1::DataProfile profile = profile_csv(csv, 1'000'003);
  EXPECT_EQ(profile.rows(), rows);
  EXPECT_EQ(profile.bad_row_count(), 0u);
  const v1::ColumnProfile& id = *find_column(profile, "id");
  EXPECT_EQ(id.type(), v1::COLUMN_TYPE_INTEGER);
  EXPECT_EQ(id.max(), std::to_string(rows));
  EXPECT_NEAR(static_cast<double>(id.distinct_estimate()), static_cast<double>(rows), rows * 0.03);

  const v1::ColumnProfile& amount = *find_column(profile, "amount");
  EXPECT_EQ(amount.type(), v1::COLUMN_TYPE_NUMBER);
  EXPECT_DOUBLE_EQ(std::stod(amount.min()), min_amount_cents / 100.0);
  EXPECT_DOUBLE_EQ(std::stod(amount.max()), max_amount_cents / 100.0);
  EXPECT_NEAR(amount.mean(), static_cast<double>(amount_sum / rows), 1e-6);

  const v1::ColumnProfile& city = *find_column(profile, "city");
  EXPECT_EQ(city.distinct_estimate(), city_counts.size());
  for (const auto& top : city.top_values()) EXPECT_EQ(top.count(), city_counts[top.value()]) << top.value();

  const v1::ColumnProfile& day = *find_column(profile, "day");
  EXPECT_EQ(day.type(), v1::COLUMN_TYPE_TIMESTAMP);
  EXPECT_EQ(day.distinct_estimate(), days.size());
  EXPECT_EQ(day.min(), *days.begin());
  EXPECT_EQ(day.max(), *days.rbegin());

  EXPECT_EQ(find_column(profile, "note")->null_count(), notes_null);
}

v1::DataProfile profile_ndjson(std::string_view input, size_t chunk) {
  NdjsonProfiler profiler(ProfileLimits{});
  for (size_t offset = 0; offset < input.size(); offset += chunk) {
    EXPECT_TRUE(profiler.feed(input.substr(offset, chunk)).ok());
  }
  v1::DataProfile profile;
  EXPECT_TRUE(profiler.finish(&profile).ok());
  return profile;
}

TEST(NdjsonProfiler, ProfilesKeysAndReportsBadLines) {
  const std::string input =
      "{\"id\":1,\"tags\":[\"a\"],\"name\":\"ann\",\"at\":\"2024-01-01\"}\n"
      "{\"id\":2.5,\"name\":null}\r\n"
      "not json\n"
      "\n"
      "[1,2]\n"
      "{\"id\":3,\"name\":\"bob\",\"extra\":{\"k\":true}}";
  for (size_t chunk : {size_t{1}, size_t{7}, input.size()}) {
    const v1::DataProfile profile = profile_ndjson(input, chunk);
    EXPECT_EQ(profile.rows(), 3u);
    EXPECT_EQ(profile.bad_row_count(), 2u);
    ASSERT_EQ(profile.bad_rows_size(), 2);
    EXPECT_EQ(profile.bad_rows(0).line(), 3u);
    EXPECT_EQ(profile.bad_rows(0).excerpt(), "not json");
    EXPECT_EQ(profile.bad_rows(1).line(), 5u);
    EXPECT_EQ(profile.bad_rows(1).reason(), "the line is not a JSON object");

    const v1::ColumnProfile& id = *find_column(profile, "id");
    EXPECT_EQ(id.type(), v1::COLUMN_TYPE_NUMBER);
    EXPECT_EQ(id.min(), "1");
    EXPECT_EQ(id.max(), "3");
    EXPECT_NEAR(id.mean(), 6.5 / 3, 1e-12);
    const v1::ColumnProfile& name = *find_column(profile, "name");
    EXPECT_EQ(name.type(), v1::COLUMN_TYPE_STRING);
    EXPECT_EQ(name.null_count(), 1u);
    EXPECT_EQ(find_column(profile, "tags")->type(), v1::COLUMN_TYPE_ARRAY);
    EXPECT_EQ(find_column(profile, "tags")->null_count(), 2u);
    const v1::ColumnProfile& extra = *find_column(profile, "extra");
    EXPECT_EQ(extra.type(), v1::COLUMN_TYPE_OBJECT);
    EXPECT_EQ(extra.null_count(), 2u);
    EXPECT_EQ(extra.top_values(0).value(), "{\"k\":true}");
    EXPECT_EQ(find_column(profile, "at")->type(), v1::COLUMN_TYPE_TIMESTAMP);
  }
}

TEST(NdjsonProfiler, ByteOrderMarkSplitAcrossChunks) {
  const std::string input = "\xEF\xBB\xBF{\"a\":1}\n";
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    const v1::DataProfile profile = profile_ndjson(input, chunk);
    ASSERT_EQ(profile.bad_row_count(), 0u) << "chunk " << chunk;
    ASSERT_EQ(profile.columns(0).name(), "a") << "chunk " << chunk;
  }
  EXPECT_EQ(profile_ndjson("\xEF\xBB", 1).bad_row_count(), 1u);
}

std::string convert(std::string_view csv, bool strings_only, size_t chunk, v1::CsvToNdjsonResponse* response) {
  std::string output;
  CsvToNdjson converter({}, strings_only, ProfileLimits{}, [&output](std::string_view bytes) {
    output.append(bytes);
    return Status::Ok();
  });
  for (size_t offset = 0; offset < csv.size(); offset += chunk) {
    EXPECT_TRUE(converter.feed(csv.substr(offset, chunk)).ok());
  }
  EXPECT_TRUE(converter.finish(response).ok());
  return output;
}

TEST(CsvToNdjson, WritesTypedObjectsPerRow) {
  const std::string csv = "\xEF\xBB\xBFid,name,zip,ok\r\n1,\"Ann \"\"A\"\"\",007,true\r\n2.5,\"x\ny\",,false\r\n3,tab\there\n";
  const std::string expected =
      "{\"id\":1,\"name\":\"Ann \\\"A\\\"\",\"zip\":\"007\",\"ok\":true}\n"
      "{\"id\":2.5,\"name\":\"x\\ny\",\"zip\":null,\"ok\":false}\n"
      "{\"id\":3,\"name\":\"tab\\there\",\"zip\":null,\"ok\":null}\n";
  for (size_t chunk = 1; chunk <= csv.size(); ++chunk) {
    v1::CsvToNdjsonResponse response;
    ASSERT_EQ(convert(csv, false, chunk, &response), expected) << "chunk " << chunk;
    EXPECT_EQ(response.rows(), 3u);
    EXPECT_EQ(response.bad_row_count(), 1u);
  }
  v1::CsvToNdjsonResponse response;
  EXPECT_EQ(convert("a\n1\n", true, 100, &response), "{\"a\":\"1\"}\n");
}

TEST(AppendJsonString, EscapesControlsAndReplacesInvalidUtf8) {
  std::string out;
  append_json_string(std::string("a\x01\"\\\xC3\xA9\xFF", 7), &out);
  EXPECT_EQ(out, "\"a\\u0001\\\"\\\\\xC3\xA9\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace heavylift

namespace heavylift {
namespace {

// More rows than one batch of queued values, with ragged rows, empty and
// quoted values, escaped quotes and newlines inside quotes, so that batch
// ends and chunk ends fall inside records.
std::string many_rows_csv(int rows, int* b_empty_count) {
  std::string input = "a,b,c\n";
  *b_empty_count = 0;
  for (int i = 0; i < rows; ++i) {
    input += std::to_string(i % 97) + ",";
    if (i % 5 == 0) {
      ++*b_empty_count;
    } else if (i % 5 == 1) {
      input += "\"q\"\"" + std::to_string(i % 13) + "\nx\"";
    } else {
      input += std::to_string(i % 7) + "." + std::to_string(i % 100);
    }
    if (i % 11 == 0) {
      input += "\n";  // short row: c is missing
      continue;
    }
    input += ",2024-01-" + std::to_string(10 + i % 19) + (i % 17 == 0 ? ",extra\r\n" : "\r\n");
  }
  return input;
}

TEST(CsvProfiler, ManyRowsSameForEveryChunkSize) {
  int b_empty_count = 0;
  const std::string input = many_rows_csv(3000, &b_empty_count);
  const v1::DataProfile whole = profile_csv(input, input.size());
  ASSERT_EQ(whole.rows(), 3000u);
  const v1::ColumnProfile* b = find_column(whole, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->null_count(), static_cast<uint64_t>(b_empty_count));
  EXPECT_EQ(b->count(), 3000u);
  const v1::ColumnProfile* c = find_column(whole, "c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->null_count(), 273u);  // rows 0, 11, ..., 2992 lack c
  EXPECT_EQ(c->timestamp_count(), 3000u - 273u);
  for (const size_t chunk : {1, 2, 7, 64, 1000, 4096, 65536}) {
    ASSERT_EQ(profile_csv(input, chunk).SerializeAsString(), whole.SerializeAsString()) << "chunk " << chunk;
  }
}

TEST(CsvProfiler, LongCopiedFieldsSameForEveryChunkSize) {
  // Every field contains an escaped quote, so the parser copies it, and one
  // record's copies exceed the 1 MiB that ends a batch early.
  std::string input = "a,b,c,d\n";
  for (int row = 0; row < 6; ++row) {
    for (int column = 0; column < 4; ++column) {
      input += "\"" + std::string(150000 + row * 1000 + column, static_cast<char>('a' + (row + column) % 3)) +
               "\"\"x\"" + (column < 3 ? "," : "\n");
    }
    input += std::to_string(row) + ",short,\"q\"\"\",\n";
  }
  const std::string whole = profile_csv(input, input.size()).SerializeAsString();
  for (const size_t chunk : {4096, 65536, 400000, 1000003}) {
    ASSERT_EQ(profile_csv(input, chunk).SerializeAsString(), whole) << "chunk " << chunk;
  }
  const v1::DataProfile profile = profile_csv(input, input.size());
  EXPECT_EQ(profile.rows(), 12u);
  const v1::ColumnProfile* d = find_column(profile, "d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->null_count(), 6u);
}

TEST(ClassifyText, ShortDecimalsEqualFromChars) {
  const char* texts[] = {"0.1",   "-0.0",  "+2.50", "123456.789", "0.30000000000000004", "9007199254740992.5",
                         "1.5",   "-1.25", "0.000000000000000000001", "4503599627370495.5", "12.3456789012345678",
                         "7.0e1", "99.",   "1234567890123456789.5"};
  for (const char* text : texts) {
    const std::string_view view(text);
    const std::string_view numeric = view[0] == '+' ? view.substr(1) : view;
    double expected = 0;
    const auto [end, ec] = std::from_chars(numeric.data(), numeric.data() + numeric.size(), expected);
    ASSERT_EQ(ec, std::errc()) << text;
    int64_t integer = 0;
    double number = 0;
    const ValueKind kind = classify_text(view, &integer, &number);
    if (end != numeric.data() + numeric.size()) {
      EXPECT_NE(kind, ValueKind::kNumber) << text;
      continue;
    }
    ASSERT_EQ(kind, ValueKind::kNumber) << text;
    EXPECT_EQ(std::memcmp(&number, &expected, sizeof number), 0) << text << " " << number << " " << expected;
  }
}

// Random texts of digits, signs, points and exponents, 0 to 24 bytes long,
// so that digit runs end at every offset of the eight-byte reads.
TEST(ClassifyText, DigitRunsMatchFromChars) {
  const std::string alphabet = "0123456789012345678901234567890123456789-+.eE x";
  std::mt19937 random(3);
  for (int round = 0; round < 200000; ++round) {
    std::string text;
    const size_t size = random() % 25;
    for (size_t i = 0; i < size; ++i) text += alphabet[random() % alphabet.size()];
    const std::string_view numeric = !text.empty() && text[0] == '+' ? std::string_view(text).substr(1) : text;
    const bool signed_text = !text.empty() && (text[0] == '-' || text[0] == '+');
    const std::string_view digits = std::string_view(text).substr(signed_text ? 1 : 0);

    int64_t integer = 0;
    double number = 0;
    const ValueKind kind = classify_text(text, &integer, &number);

    // Integer: a sign, 1 to 19 digits and nothing else, up to INT64_MAX in magnitude.
    uint64_t magnitude = 0;
    const auto [digits_end, digits_error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    const bool only_digits = !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
    const bool is_integer = only_digits && digits.size() <= 19 && digits_error == std::errc() &&
                            digits_end == digits.data() + digits.size() &&
                            magnitude <= static_cast<uint64_t>(INT64_MAX);
    ASSERT_EQ(kind == ValueKind::kInteger, is_integer) << text;
    if (is_integer) {
      const int64_t expected = text[0] == '-' ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
      ASSERT_EQ(integer, expected) << text;
      continue;
    }
    if (kind != ValueKind::kNumber) continue;
    double expected = 0;
    const auto [end, error] = std::from_chars(numeric.data(), numeric.data() + numeric.size(), expected);
    ASSERT_EQ(error, std::errc()) << text;
    ASSERT_EQ(end, numeric.data() + numeric.size()) << text;
    ASSERT_EQ(std::memcmp(&number, &expected, sizeof number), 0) << text << " " << number << " " << expected;
  }
}

// Random texts of 3 to 6 bytes from the letters of true and false in both
// cases and a few others, against a byte-wise compare that ignores case.
TEST(ClassifyText, BooleansIgnoreCase) {
  const auto equals_lower = [](std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (size_t i = 0; i < text.size(); ++i) {
      if ((text[i] | 0x20) != lower[i]) return false;
    }
    return true;
  };
  const std::string alphabet = "truefalsTRUEFALS\0 T"s;
  std::mt19937 random(5);
  for (int round = 0; round < 200000; ++round) {
    std::string text;
    const size_t size = 3 + random() % 4;
    for (size_t i = 0; i < size; ++i) text += alphabet[random() % alphabet.size()];
    if (round % 4 == 0) text = round % 8 == 0 ? "TrUe" : "fALSE";
    int64_t integer = 0;
    double number = 0;
    const bool expected = equals_lower(text, "true") || equals_lower(text, "false");
    ASSERT_EQ(classify_text(text, &integer, &number) == ValueKind::kBoolean, expected) << text;
  }
}

// Random dates of digits, dashes and near-miss bytes against a byte-wise
// check of DDDD-DD-DD with month 1..12 and day 1..31.
TEST(ClassifyText, DatesMatchByteWiseCheck) {
  const std::string digits = "0123456789";
  const std::string others = "-/.,+ :\x80"s;
  std::mt19937 random(7);
  for (int round = 0; round < 200000; ++round) {
    std::string text = "2024-01-31";
    for (char& c : text) {
      const uint32_t pick = random() % 16;
      if (pick < 2) c = others[random() % others.size()];
      else if (pick < 6 && c != '-') c = digits[random() % digits.size()];
    }
    bool expected = true;
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash = i == 4 || i == 7;
      expected = expected && (dash ? text[i] == '-' : text[i] >= '0' && text[i] <= '9');
    }
    if (expected) {
      const int month = (text[5] - '0') * 10 + (text[6] - '0');
      const int day = (text[8] - '0') * 10 + (text[9] - '0');
      expected = month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
    EXPECT_EQ(is_iso_timestamp(text), expected) << text;
    int64_t integer = 0;
    double number = 0;
    ASSERT_EQ(classify_text(text, &integer, &number) == ValueKind::kTimestamp, expected) << text;
  }
}

// add_texts() borrows the texts of new top values until it returns: the
// profile must equal the one of add_text() per value, even after the
// caller's buffer is overwritten.
TEST(ColumnStats, BatchesMatchValueByValue) {
  std::mt19937 random(11);
  std::vector<std::string> values;
  for (int i = 0; i < 30000; ++i) {
    switch (random() % 6) {
      case 0: values.push_back(std::to_string(random() % 100000)); break;
      case 1: values.push_back("v" + std::to_string(random() % 400)); break;
      case 2: values.push_back(std::to_string(random() % 1000) + "." + std::to_string(random() % 100)); break;
      case 3: values.push_back(i % 2 == 0 ? "TRUE" : "false"); break;
      case 4: values.push_back(""); break;
      default: values.push_back("hot"); break;
    }
  }
  ColumnStats one_by_one("c");
  for (const std::string& value : values) one_by_one.add_text(value);

  ColumnStats batched("c");
  std::string buffer;
  std::vector<std::string_view> views;
  for (size_t start = 0; start < values.size(); start += 1000) {
    buffer.clear();
    views.clear();
    for (size_t i = start; i < std::min(values.size(), start + 1000); ++i) buffer += values[i];
    size_t offset = 0;
    for (size_t i = start; i < std::min(values.size(), start + 1000); ++i) {
      // An empty value is an empty view that is not null, as the CSV profiler passes it.
      views.emplace_back(buffer.data() + offset, values[i].size());
      offset += values[i].size();
    }
    batched.add_texts(views);
    std::fill(buffer.begin(), buffer.end(), '#');
  }

  v1::ColumnProfile expected;
  one_by_one.write(&expected, 20);
  v1::ColumnProfile actual;
  batched.write(&actual, 20);
  EXPECT_EQ(actual.SerializeAsString(), expected.SerializeAsString()) << actual.DebugString();
  ASSERT_GE(actual.top_values_size(), 1);
  EXPECT_EQ(actual.top_values(0).value(), "hot");
}

TEST(ColumnStats, MeanOfIntegersThenNumbers) {
  ColumnStats integers("i");
  for (const char* text : {"9223372036854775807", "9223372036854775807", "1"}) integers.add_text(text);
  v1::ColumnProfile profile;
  integers.write(&profile, 1);
  EXPECT_EQ(profile.mean(), static_cast<double>((2.0L * 9223372036854775807.0L + 1) / 3));

  ColumnStats mixed("m");
  for (const char* text : {"1", "2", "3", "0.5", "4"}) mixed.add_text(text);
  profile.Clear();
  mixed.write(&profile, 1);
  EXPECT_EQ(profile.mean(), 10.5 / 5);
}

TEST(ColumnStats, TextRangeMatchesByteOrder) {
  // Texts sharing 8- and 16-byte prefixes, with NUL bytes, bytes >= 0x80
  // and prefixes of each other.
  const std::vector<std::string> texts = {
      "abcdefgh",          "abcdefghX",        "abcdefgh\0"s,         "abcdefghijklmnop",  "abcdefghijklmnoq",
      "abcdefghijklmnop!", "abcdefghijklmnoZ", "abc",                 "ab\0c"s,            "\xff\xfe",
      "\x80",              "zz",               "abcdefghijklmnopqr", "abcdefghijklmnopqq", "b"};
  for (size_t rotation = 0; rotation < texts.size(); ++rotation) {
    ColumnStats stats("s");
    std::vector<std::string> order;
    for (size_t i = 0; i < texts.size(); ++i) order.push_back(texts[(i + rotation) % texts.size()]);
    for (const std::string& text : order) stats.add(ValueKind::kString, text, 0, 0);
    v1::ColumnProfile profile;
    stats.write(&profile, 3);
    EXPECT_EQ(profile.min(), *std::min_element(order.begin(), order.end())) << rotation;
    EXPECT_EQ(profile.max(), *std::max_element(order.begin(), order.end())) << rotation;
  }
}

TEST(ColumnStats, TopValuesKeepFrequentValueAmongManyDistinct) {
  ColumnStats stats("s");
  uint64_t frequent = 0;
  for (int i = 0; i < 20000; ++i) {
    if (i % 3 == 0) {
      stats.add_text("hot");
      ++frequent;
    } else {
      stats.add_text("cold" + std::to_string(i));
    }
  }
  v1::ColumnProfile profile;
  stats.write(&profile, 1);
  ASSERT_EQ(profile.top_values_size(), 1);
  EXPECT_EQ(profile.top_values(0).value(), "hot");
  // A Misra-Gries counter with 256 counters undercounts by at most n / 257.
  EXPECT_LE(profile.top_values(0).count(), frequent);
  EXPECT_GE(profile.top_values(0).count(), frequent - 20000 / 257);
}

}  // namespace
}  // namespace heavylift
