// W3C Trace Context: the `traceparent` header that carries a trace across
// Express, heavylift and the job queues, so log lines of one request share a
// trace id. Format (version 00): "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
// lower-case, with an all-zero trace id or parent id invalid.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace heavylift {

struct TraceParent {
  std::string trace_id;   // 32 lower-case hex digits
  std::string parent_id;  // 16 lower-case hex digits
  uint8_t flags = 0;      // bit 0: sampled
};

// Parses a traceparent header value. Returns nullopt for anything that is
// not a valid version-00 value. Versions above 00 are read by their first
// four fields, as the W3C Trace Context specification requires of parsers
// that meet a later version; version ff is invalid.
std::optional<TraceParent> parse_traceparent(std::string_view value);

// Formats `parent` as a version-00 traceparent value.
std::string format_traceparent(const TraceParent& parent);

// Returns " trace_id=<id>" for a non-empty trace id, else "": the field that
// log lines about traced work append.
std::string trace_log_field(std::string_view trace_id);

}  // namespace heavylift
