// Column comparison shared by the fuzz targets of the column decoders.
#pragma once

#include <cstring>

#include "store/columns.h"

namespace heavylift {

// Returns whether two columns hold the same rows, with doubles compared bit
// for bit so that NaN equals NaN and -0 differs from 0.
inline bool same_column(const Column& a, const Column& b) {
  return a.present == b.present && a.integers == b.integers && a.text_bytes == b.text_bytes &&
         a.text_ends == b.text_ends && a.numbers.size() == b.numbers.size() &&
         (a.numbers.empty() || std::memcmp(a.numbers.data(), b.numbers.data(), a.numbers.size() * sizeof(double)) == 0);
}

}  // namespace heavylift
