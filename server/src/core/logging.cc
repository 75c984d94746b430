#include "core/logging.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace heavylift {

bool configure_logging(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown words to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") return false;

  auto logger = spdlog::stderr_logger_mt("heavylift");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(parsed);
  spdlog::flush_on(spdlog::level::info);
  return true;
}

std::string log_value(std::string_view value) {
  if (value.empty()) return "\"\"";
  bool bare = true;
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == '"' || byte == '=' || byte == '\\' || byte >= 0x7f) {
      bare = false;
      break;
    }
  }
  if (bare) return std::string(value);

  std::string out = "\"";
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace heavylift
