// Time buckets of epoch-millisecond dates in a time zone: the start of the
// minute, hour, day, ISO week (Monday) or calendar month that contains a date,
// as epoch milliseconds. Dates before 1970 bucket the same way.
//
// A time zone is "UTC", a fixed offset ("+05:30") or an IANA name
// ("Europe/Berlin"). IANA zones come from the system's zoneinfo files
// (Debian's tzdata) through the date library's tz.h, with their
// daylight-saving rules. So a day in Berlin that starts summer time is 23
// hours long, and the one that ends it 25.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace date {
class time_zone;
}

namespace heavylift {

enum class BucketUnit { kMinute, kHour, kDay, kWeek, kMonth };

// A fixed offset or an IANA zone. Copyable; the IANA data is owned by the
// date library's process-wide database and lives until exit.
class TimeZone {
 public:
  // UTC.
  TimeZone() = default;
  static TimeZone fixed(int64_t offset_ms);

  // Parses "UTC", "Z", "+HH:MM" / "-HH:MM" (up to 14 hours) or an IANA zone
  // name. Errors name `field`.
  static Result<TimeZone> parse(std::string_view text, const std::string& field);

  // A span of instants [begin_ms, end_ms) with one UTC offset.
  struct Period {
    int64_t begin_ms = 0;
    int64_t end_ms = 0;
    int64_t offset_ms = 0;
  };

  bool is_fixed() const { return zone_ == nullptr; }
  // Milliseconds east of UTC in force at `epoch_ms`.
  int64_t offset_at(int64_t epoch_ms) const;
  // The period around `epoch_ms` in which offset_at stays the same. For a
  // fixed offset it spans every int64 value.
  Period period_at(int64_t epoch_ms) const;
  // The instant at which local wall-clock time `local_ms` (milliseconds since
  // 1970-01-01T00:00 local) happens. A local time skipped by a spring-forward
  // gap maps to the end of the gap. A local time repeated by a fall-back
  // overlap maps to its first occurrence.
  int64_t to_utc(int64_t local_ms) const;

 private:
  int64_t offset_ms_ = 0;
  const date::time_zone* zone_ = nullptr;
};

// Parses "UTC", "Z" or "+HH:MM" / "-HH:MM" (up to 14 hours) into an offset
// in milliseconds east of UTC. Errors name `field`.
Result<int64_t> parse_time_zone_offset(std::string_view text, const std::string& field);

// Returns the start of the bucket holding `epoch_ms` at a fixed offset.
int64_t bucket_start(int64_t epoch_ms, BucketUnit unit, int64_t offset_ms);

// Returns the start of the bucket holding `epoch_ms` in `zone`. Minute and
// hour buckets use the offset in force at `epoch_ms`, so the two 02:00 hours
// of a fall-back night are two buckets. Day, week and month buckets start at
// local midnight of their first day.
int64_t bucket_start(int64_t epoch_ms, BucketUnit unit, const TimeZone& zone);

// Computes bucket keys of many dates in one unit and zone. It caches the
// zone's periods as it meets them, so a date costs a range check instead of
// a zoneinfo lookup. The cache contains at most one period per transition
// of the zone. Not thread-safe: lookups fill the cache.
class TimeBucketer {
 public:
  TimeBucketer(BucketUnit unit, const TimeZone& zone) : unit_(unit), zone_(zone) {}

  // Writes to keys[i] the key of epoch_ms[i], or 0 where present[i] is 0.
  // Two dates get the same key exactly when bucket_start returns the same
  // start for them. For day, week and month buckets the key numbers the
  // local day, week or month. For minute and hour buckets it is the start.
  void keys(const int64_t* epoch_ms, const uint8_t* present, size_t count, int64_t* keys);

  // Returns bucket_start(epoch_ms, unit, zone).
  int64_t start(int64_t epoch_ms) const { return bucket_start(epoch_ms, unit_, zone_); }

 private:
  // Looks up the period of `epoch_ms` in the cache (adding it when missing)
  // and makes it the last period.
  int64_t find_offset(int64_t epoch_ms);
  int64_t month_key(int64_t local_day);
  // Writes key_of(local time, offset) for each present date.
  template <typename KeyOf>
  void fill(const int64_t* epoch_ms, const uint8_t* present, size_t count, int64_t* keys, KeyOf&& key_of);

  BucketUnit unit_;
  TimeZone zone_;
  // Periods met so far, sorted and disjoint, and the one that matched last.
  std::vector<TimeZone::Period> periods_;
  TimeZone::Period last_period_{0, 0, 0};
  // Local days [month_first_day_, month_end_day_) of the month that matched
  // last, with its key.
  int64_t month_first_day_ = 1;
  int64_t month_end_day_ = 0;
  int64_t month_key_ = 0;
};

// Numbers consecutive buckets: the bucket that starts at `start_ms` (a value
// bucket_start returned) is one after the bucket before it, in any zone.
int64_t bucket_ordinal(int64_t start_ms, BucketUnit unit, const TimeZone& zone);

}  // namespace heavylift
