// IANA time zones are checked against glibc's own reading of the same
// zoneinfo files (mktime and localtime_r under TZ=...), an implementation
// independent of the date library that the daemon uses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tasks/aggregate/time_bucket.h"

namespace heavylift {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

// Sets TZ for the test and restores it after.
class ScopedTz {
 public:
  explicit ScopedTz(const char* zone) {
    if (const char* old = std::getenv("TZ")) old_ = old, had_ = true;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_) setenv("TZ", old_.c_str(), 1);
    else unsetenv("TZ");
    tzset();
  }

 private:
  std::string old_;
  bool had_ = false;
};

// glibc: epoch ms of local midnight of year-month-day in the current TZ.
int64_t libc_midnight(int year, int month, int day) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

TimeZone zone(const char* name) {
  auto parsed = TimeZone::parse(name, "tz");
  EXPECT_TRUE(parsed.ok()) << name;
  return parsed.value();
}

// Every day, week and month of 2023..2025 (and a year before 1970), and
// instants at every 7 hours in them, land in the buckets that glibc computes.
void check_against_libc(const char* name, int first_year, int last_year) {
  const ScopedTz tz(name);
  const TimeZone iana = zone(name);
  const int64_t begin = libc_midnight(first_year, 1, 1);
  const int64_t end = libc_midnight(last_year + 1, 1, 1);
  for (int64_t t = begin; t < end; t += 7 * kHourMs + 13 * 60'000) {
    const std::time_t seconds = static_cast<std::time_t>(t / 1000);
    std::tm local{};
    localtime_r(&seconds, &local);
    EXPECT_EQ(iana.offset_at(t), static_cast<int64_t>(local.tm_gmtoff) * 1000) << name << " at " << t;
    const int64_t day = libc_midnight(local.tm_year + 1900, local.tm_mon + 1, local.tm_mday);
    ASSERT_EQ(bucket_start(t, BucketUnit::kDay, iana), day) << name << " at " << t;
    EXPECT_EQ(bucket_start(t, BucketUnit::kMonth, iana), libc_midnight(local.tm_year + 1900, local.tm_mon + 1, 1))
        << name << " at " << t;
    const int days_since_monday = (local.tm_wday + 6) % 7;
    EXPECT_EQ(bucket_start(t, BucketUnit::kWeek, iana),
              libc_midnight(local.tm_year + 1900, local.tm_mon + 1, local.tm_mday - days_since_monday))
        << name << " at " << t;
    // Hours start where the local clock shows a whole hour.
    const int64_t hour = bucket_start(t, BucketUnit::kHour, iana);
    EXPECT_EQ(hour, t - (local.tm_min * 60 + local.tm_sec) * 1000 - t % 1000) << name << " at " << t;
  }
}

TEST(TimeZone, BerlinMatchesLibc) { check_against_libc("Europe/Berlin", 2023, 2025); }
TEST(TimeZone, NewYorkMatchesLibc) { check_against_libc("America/New_York", 2023, 2025); }
TEST(TimeZone, BerlinBefore1970MatchesLibc) { check_against_libc("Europe/Berlin", 1945, 1947); }
TEST(TimeZone, KolkataHalfHourOffsetMatchesLibc) { check_against_libc("Asia/Kolkata", 2024, 2024); }

TEST(TimeZone, DaylightSavingDaysLast23And25Hours) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 2024-03-31 12:00 UTC and 2024-10-27 12:00 UTC.
  const int64_t spring = 1'711'886'400'000;
  const int64_t autumn = 1'730'030'400'000;
  const int64_t spring_day = bucket_start(spring, BucketUnit::kDay, berlin);
  const int64_t autumn_day = bucket_start(autumn, BucketUnit::kDay, berlin);
  EXPECT_EQ(spring_day, 1'711'839'600'000);  // 2024-03-30T23:00:00Z
  EXPECT_EQ(bucket_start(spring + kDayMs, BucketUnit::kDay, berlin) - spring_day, 23 * kHourMs);
  EXPECT_EQ(autumn_day, 1'729'980'000'000);  // 2024-10-26T22:00:00Z
  EXPECT_EQ(bucket_start(autumn + kDayMs, BucketUnit::kDay, berlin) - autumn_day, 25 * kHourMs);
  // Consecutive days have consecutive ordinals whatever their length.
  EXPECT_EQ(bucket_ordinal(bucket_start(spring + kDayMs, BucketUnit::kDay, berlin), BucketUnit::kDay, berlin),
            bucket_ordinal(spring_day, BucketUnit::kDay, berlin) + 1);
  EXPECT_EQ(bucket_ordinal(bucket_start(autumn + kDayMs, BucketUnit::kDay, berlin), BucketUnit::kDay, berlin),
            bucket_ordinal(autumn_day, BucketUnit::kDay, berlin) + 1);

  // The two 02:00 hours of the fall-back night are two hour buckets.
  const int64_t first_two = 1'729'987'200'000;  // 2024-10-27T00:00:00Z = 02:00 CEST
  const int64_t second_two = first_two + kHourMs;  // 02:00 CET
  EXPECT_EQ(bucket_start(first_two + 60'000, BucketUnit::kHour, berlin), first_two);
  EXPECT_EQ(bucket_start(second_two + 60'000, BucketUnit::kHour, berlin), second_two);
}

TEST(TimeZone, LocalTimesInGapsAndOverlaps) {
  const TimeZone new_york = zone("America/New_York");
  // 2024-03-10 02:30 does not exist in New York: it maps to the gap's end,
  // 03:00 EDT = 07:00 UTC.
  const int64_t gap_local = 1'710'037'800'000;  // 2024-03-10T02:30 as local ms
  EXPECT_EQ(new_york.to_utc(gap_local), 1'710'054'000'000);
  // 2024-11-03 01:30 happens twice: the first (EDT, 05:30 UTC) is chosen.
  const int64_t overlap_local = 1'730'597'400'000;  // 2024-11-03T01:30 as local ms
  EXPECT_EQ(new_york.to_utc(overlap_local), 1'730'611'800'000);
}

TEST(TimeZone, ParsesOffsetsAndRejectsUnknownNames) {
  EXPECT_TRUE(TimeZone::parse("UTC", "tz").value().is_fixed());
  EXPECT_EQ(TimeZone::parse("+05:30", "tz").value().offset_at(0), 19'800'000);
  EXPECT_FALSE(TimeZone::parse("Europe/Berlin", "tz").value().is_fixed());
  const auto bad = TimeZone::parse("Europe/Atlantis", "group_by[0].bucket.time_zone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "group_by[0].bucket.time_zone");
  EXPECT_EQ(bad.error().value, "Europe/Atlantis");
  const auto bad_offset = TimeZone::parse("+15:00", "tz");
  ASSERT_FALSE(bad_offset.ok());
  EXPECT_EQ(bad_offset.error().field, "tz");
}


// Checks that TimeBucketer keys and bucket_start agree on every date of
// `dates`: one key per start and one start per key.
void check_bucketer(const TimeZone& zone, BucketUnit unit, const std::vector<int64_t>& dates, const char* name) {
  TimeBucketer bucketer(unit, zone);
  std::vector<uint8_t> present(dates.size(), 1);
  std::vector<int64_t> keys(dates.size());
  bucketer.keys(dates.data(), present.data(), dates.size(), keys.data());
  std::map<int64_t, int64_t> start_of_key;
  std::map<int64_t, int64_t> key_of_start;
  for (size_t i = 0; i < dates.size(); ++i) {
    const int64_t start = bucket_start(dates[i], unit, zone);
    ASSERT_EQ(bucketer.start(dates[i]), start) << name << " at " << dates[i];
    const auto [by_key, new_key] = start_of_key.try_emplace(keys[i], start);
    ASSERT_EQ(by_key->second, start) << name << " unit " << static_cast<int>(unit) << " at " << dates[i];
    const auto [by_start, new_start] = key_of_start.try_emplace(start, keys[i]);
    ASSERT_EQ(by_start->second, keys[i]) << name << " unit " << static_cast<int>(unit) << " at " << dates[i];
  }
}

// Dates every 7 minutes and 13 seconds across the daylight-saving changes of
// spring and autumn 2024, and two weeks of 1946 for dates before 1970. They
// are shuffled so the period cache misses as well as hits.
std::vector<int64_t> dates_around_transitions() {
  std::vector<int64_t> dates;
  const int64_t ranges[][2] = {{1'709'251'200'000, 1'712'016'000'000},   // 2024-03-01 .. 2024-04-02
                               {1'729'555'200'000, 1'731'024'000'000},   // 2024-10-22 .. 2024-11-08
                               {-756'518'400'000, -755'308'800'000}};    // 1946-01-11 .. 1946-01-25
  for (const auto& range : ranges) {
    for (int64_t t = range[0]; t < range[1]; t += 7 * 60'000 + 13'000) dates.push_back(t);
  }
  std::mt19937_64 random(5);
  std::shuffle(dates.begin(), dates.end(), random);
  return dates;
}

TEST(TimeBucketer, KeysMatchBucketStartAcrossTransitions) {
  const std::vector<int64_t> dates = dates_around_transitions();
  const char* zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "+05:45", "UTC"};
  const BucketUnit units[] = {BucketUnit::kMinute, BucketUnit::kHour, BucketUnit::kDay, BucketUnit::kWeek,
                              BucketUnit::kMonth};
  for (const char* name : zones) {
    for (const BucketUnit unit : units) check_bucketer(zone(name), unit, dates, name);
  }
}

TEST(TimeBucketer, SkipsAbsentDates) {
  TimeBucketer bucketer(BucketUnit::kDay, zone("Europe/Berlin"));
  const int64_t dates[] = {1'711'886'400'000, 123, 1'711'886'400'000 + kDayMs};
  const uint8_t present[] = {1, 0, 1};
  int64_t keys[3] = {-1, -1, -1};
  bucketer.keys(dates, present, 3, keys);
  EXPECT_EQ(keys[1], 0);
  EXPECT_EQ(keys[2], keys[0] + 1);  // the key of a day bucket numbers local days
}

}  // namespace
}  // namespace heavylift
