// Structured logging on spdlog: one line per event in logfmt,
// `ts=... level=... event=<name> key=value ...`, written to stderr.
#pragma once

#include <string>
#include <string_view>

namespace heavylift {

// Configures the default spdlog logger. `level` is one of trace, debug,
// info, warn, error, critical or off; returns false for any other word.
bool configure_logging(const std::string& level);

// Renders `value` as a logfmt value: bare when it has no spaces, quotes or
// control bytes, otherwise quoted with escapes. Empty values render as "".
std::string log_value(std::string_view value);

}  // namespace heavylift
