#include "tasks/aggregate/time_bucket.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>

namespace heavylift {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

int64_t floor_div(int64_t a, int64_t b) {
  // Truncation rounds toward zero, so step down when the signs differ and
  // the division is inexact. Written without a branch for the per-row loops.
  const int64_t q = a / b;
  return q - static_cast<int64_t>((a % b != 0) & ((a ^ b) < 0));
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (the
// era-based algorithms of Howard Hinnant's date paper, public domain).
int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2;
  const int64_t era = floor_div(year, 400);
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// Converts seconds to milliseconds, clamped to the int64 range, so the
// open-ended first and last periods of a zone convert too.
int64_t seconds_to_ms(int64_t seconds) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min() / 1000;
  if (seconds > kMax) return std::numeric_limits<int64_t>::max();
  if (seconds < kMin) return std::numeric_limits<int64_t>::min();
  return seconds * 1000;
}

int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

void civil_from_days(int64_t days, int64_t* year, int64_t* month) {
  days += 719468;
  const int64_t era = floor_div(days, 146097);
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;
  *month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  *year = year_of_era + era * 400 + (*month <= 2);
}

bool looks_like_offset(std::string_view text) {
  return text.empty() || text == "UTC" || text == "Z" || text.front() == '+' || text.front() == '-';
}

}  // namespace

TimeZone TimeZone::fixed(int64_t offset_ms) {
  TimeZone zone;
  zone.offset_ms_ = offset_ms;
  return zone;
}

Result<TimeZone> TimeZone::parse(std::string_view text, const std::string& field) {
  if (looks_like_offset(text)) {
    auto offset = parse_time_zone_offset(text, field);
    if (!offset.ok()) return offset.error();
    return fixed(offset.value());
  }
  TimeZone zone;
  try {
    zone.zone_ = date::locate_zone(text);
  } catch (const std::exception&) {
    return Error::invalid(field, "INVALID_TIME_ZONE",
                          fmt::format("{} must be UTC, an offset like +05:30 or an IANA zone name like Europe/Berlin, "
                                      "got {}",
                                      field, quote_value(text)),
                          "UTC, +HH:MM or an IANA zone name", std::string(text));
  }
  return zone;
}

int64_t TimeZone::offset_at(int64_t epoch_ms) const {
  if (zone_ == nullptr) return offset_ms_;
  const date::sys_seconds instant{std::chrono::seconds{floor_div(epoch_ms, 1000)}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(zone_->get_info(instant).offset).count();
}

TimeZone::Period TimeZone::period_at(int64_t epoch_ms) const {
  if (zone_ == nullptr) {
    return Period{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), offset_ms_};
  }
  const date::sys_seconds instant{std::chrono::seconds{floor_div(epoch_ms, 1000)}};
  const date::sys_info info = zone_->get_info(instant);
  return Period{seconds_to_ms(info.begin.time_since_epoch().count()), seconds_to_ms(info.end.time_since_epoch().count()),
                std::chrono::duration_cast<std::chrono::milliseconds>(info.offset).count()};
}

int64_t TimeZone::to_utc(int64_t local_ms) const {
  if (zone_ == nullptr) return local_ms - offset_ms_;
  const int64_t seconds = floor_div(local_ms, 1000);
  const int64_t millis = floor_mod(local_ms, 1000);
  const date::local_seconds local{std::chrono::seconds{seconds}};
  const date::local_info info = zone_->get_info(local);
  if (info.result == date::local_info::nonexistent) {
    // The gap's end: the first instant whose local time is past `local`.
    return std::chrono::duration_cast<std::chrono::milliseconds>(info.first.end.time_since_epoch()).count();
  }
  // Unique, or the first of two occurrences.
  return (seconds - info.first.offset.count()) * 1000 + millis;
}

Result<int64_t> parse_time_zone_offset(std::string_view text, const std::string& field) {
  if (text.empty() || text == "UTC" || text == "Z") return int64_t{0};
  const auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() == 6 && (text[0] == '+' || text[0] == '-') && digit(1) && digit(2) && text[3] == ':' && digit(4) &&
      digit(5)) {
    const int hours = (text[1] - '0') * 10 + (text[2] - '0');
    const int minutes = (text[4] - '0') * 10 + (text[5] - '0');
    if (hours <= 14 && minutes < 60) {
      const int64_t offset = hours * kHourMs + minutes * kMinuteMs;
      return text[0] == '-' ? -offset : offset;
    }
  }
  return Error::invalid(field, "INVALID_TIME_ZONE",
                        fmt::format("{} must be UTC or an offset like +05:30, got {}", field, quote_value(text)),
                        "UTC or +HH:MM within 14 hours", std::string(text));
}

int64_t bucket_start(int64_t epoch_ms, BucketUnit unit, int64_t offset_ms) {
  const int64_t local = epoch_ms + offset_ms;
  int64_t start = 0;
  switch (unit) {
    case BucketUnit::kMinute: start = floor_div(local, kMinuteMs) * kMinuteMs; break;
    case BucketUnit::kHour: start = floor_div(local, kHourMs) * kHourMs; break;
    case BucketUnit::kDay: start = floor_div(local, kDayMs) * kDayMs; break;
    case BucketUnit::kWeek: {
      // 1970-01-01 was a Thursday, so Mondays are 4 days after multiples of 7.
      const int64_t days = floor_div(local, kDayMs);
      start = (floor_div(days - 4, 7) * 7 + 4) * kDayMs;
      break;
    }
    case BucketUnit::kMonth: {
      int64_t year = 0;
      int64_t month = 0;
      civil_from_days(floor_div(local, kDayMs), &year, &month);
      start = days_from_civil(year, month, 1) * kDayMs;
      break;
    }
  }
  return start - offset_ms;
}

int64_t bucket_start(int64_t epoch_ms, BucketUnit unit, const TimeZone& zone) {
  const int64_t offset = zone.offset_at(epoch_ms);
  const int64_t start = bucket_start(epoch_ms, unit, offset);
  if (zone.is_fixed() || unit == BucketUnit::kMinute || unit == BucketUnit::kHour) return start;
  // Local midnight of the bucket's first day, which may have another offset.
  return zone.to_utc(start + offset);
}

int64_t TimeBucketer::find_offset(int64_t epoch_ms) {
  // The first period that ends after `epoch_ms` contains it, when it has begun.
  const auto found = std::upper_bound(periods_.begin(), periods_.end(), epoch_ms,
                                      [](int64_t value, const TimeZone::Period& period) { return value < period.end_ms; });
  if (found != periods_.end() && found->begin_ms <= epoch_ms) {
    last_period_ = *found;
  } else {
    last_period_ = zone_.period_at(epoch_ms);
    periods_.insert(found, last_period_);
  }
  return last_period_.offset_ms;
}

int64_t TimeBucketer::month_key(int64_t local_day) {
  if (local_day >= month_first_day_ && local_day < month_end_day_) return month_key_;
  int64_t year = 0;
  int64_t month = 0;
  civil_from_days(local_day, &year, &month);
  month_first_day_ = days_from_civil(year, month, 1);
  month_end_day_ = month == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, month + 1, 1);
  month_key_ = year * 12 + month - 1;
  return month_key_;
}

template <typename KeyOf>
void TimeBucketer::fill(const int64_t* epoch_ms, const uint8_t* present, size_t count, int64_t* keys, KeyOf&& key_of) {
  if (zone_.is_fixed()) {
    const int64_t offset = zone_.offset_at(0);
    for (size_t i = 0; i < count; ++i) keys[i] = present[i] ? key_of(epoch_ms[i] + offset, offset) : 0;
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    if (!present[i]) {
      keys[i] = 0;
      continue;
    }
    const int64_t date = epoch_ms[i];
    const int64_t offset = date >= last_period_.begin_ms && date < last_period_.end_ms ? last_period_.offset_ms
                                                                                      : find_offset(date);
    keys[i] = key_of(date + offset, offset);
  }
}

void TimeBucketer::keys(const int64_t* epoch_ms, const uint8_t* present, size_t count, int64_t* keys) {
  // One loop per unit, so the unit is not tested per date.
  switch (unit_) {
    case BucketUnit::kMinute:
      fill(epoch_ms, present, count, keys,
           [](int64_t local, int64_t offset) { return floor_div(local, kMinuteMs) * kMinuteMs - offset; });
      break;
    case BucketUnit::kHour:
      fill(epoch_ms, present, count, keys,
           [](int64_t local, int64_t offset) { return floor_div(local, kHourMs) * kHourMs - offset; });
      break;
    case BucketUnit::kDay:
      fill(epoch_ms, present, count, keys, [](int64_t local, int64_t) { return floor_div(local, kDayMs); });
      break;
    case BucketUnit::kWeek:
      fill(epoch_ms, present, count, keys,
           [](int64_t local, int64_t) { return floor_div(floor_div(local, kDayMs) - 4, 7); });
      break;
    case BucketUnit::kMonth:
      fill(epoch_ms, present, count, keys,
           [this](int64_t local, int64_t) { return month_key(floor_div(local, kDayMs)); });
      break;
  }
}

int64_t bucket_ordinal(int64_t start_ms, BucketUnit unit, const TimeZone& zone) {
  switch (unit) {
    case BucketUnit::kMinute: return floor_div(start_ms, kMinuteMs);
    case BucketUnit::kHour: return floor_div(start_ms, kHourMs);
    default: break;
  }
  // The local calendar day of the bucket's start. A day that begins inside a
  // spring-forward gap starts at the gap's end, still on that day.
  const int64_t local_day = floor_div(start_ms + zone.offset_at(start_ms), kDayMs);
  if (unit == BucketUnit::kDay) return local_day;
  if (unit == BucketUnit::kWeek) return floor_div(local_day - 4, 7);
  int64_t year = 0;
  int64_t month = 0;
  civil_from_days(local_day, &year, &month);
  return year * 12 + month - 1;
}

}  // namespace heavylift
