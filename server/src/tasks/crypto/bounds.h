// The range check the crypto tasks share for request fields and parameters
// read from stored hashes.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "core/error.h"

namespace heavylift {

// Returns INVALID_ARGUMENT naming `field` unless lower <= value <= upper.
// `unit` (" KiB", " bytes") is appended to the bound and the value.
inline Status check_range(const std::string& field, uint64_t value, uint64_t lower, uint64_t upper,
                          const char* unit = "") {
  if (value >= lower && value <= upper) return Status::Ok();
  return Error::out_of_range(field, fmt::format("in {}..{}{}", lower, upper, unit), fmt::format("{}{}", value, unit));
}

}  // namespace heavylift
