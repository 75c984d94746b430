#include "core/trace_context.h"

#include <fmt/format.h>

namespace heavylift {
namespace {

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_all_zero(std::string_view text) { return text.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view value) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 characters.
  constexpr size_t kVersion00Length = 55;
  if (value.size() < kVersion00Length) return std::nullopt;

  const std::string_view version = value.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  // Version 00 has exactly four fields; a later version may append more
  // after another '-'.
  if (version == "00" && value.size() != kVersion00Length) return std::nullopt;
  if (value.size() > kVersion00Length && value[kVersion00Length] != '-') return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;

  const std::string_view trace_id = value.substr(3, 32);
  const std::string_view parent_id = value.substr(36, 16);
  const std::string_view flags = value.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags)) return std::nullopt;
  if (is_all_zero(trace_id) || is_all_zero(parent_id)) return std::nullopt;

  TraceParent parent;
  parent.trace_id = std::string(trace_id);
  parent.parent_id = std::string(parent_id);
  parent.flags = static_cast<uint8_t>(std::stoi(std::string(flags), nullptr, 16));
  return parent;
}

std::string format_traceparent(const TraceParent& parent) {
  return fmt::format("00-{}-{}-{:02x}", parent.trace_id, parent.parent_id, parent.flags);
}

std::string trace_log_field(std::string_view trace_id) {
  if (trace_id.empty()) return "";
  return " trace_id=" + std::string(trace_id);
}

}  // namespace heavylift
