// Time buckets of epoch-millisecond dates in a fixed-offset time zone: the
// start of the minute, hour, day, ISO week (Monday) or calendar month that
// holds a date, as epoch milliseconds. Dates before 1970 bucket the same way.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace heavylift {

enum class BucketUnit { kMinute, kHour, kDay, kWeek, kMonth };

// Parses "UTC", "Z" or "+HH:MM" / "-HH:MM" (up to 14 hours) into an offset
// in milliseconds east of UTC. Errors name `field`.
// NOTE: IANA zone names ("Europe/Paris") with daylight-saving rules are not
// supported yet; callers pass the offset in force for their range.
Result<int64_t> parse_time_zone_offset(std::string_view text, const std::string& field);

// Returns the start of the bucket holding `epoch_ms`.
int64_t bucket_start(int64_t epoch_ms, BucketUnit unit, int64_t offset_ms);

}  // namespace heavylift
