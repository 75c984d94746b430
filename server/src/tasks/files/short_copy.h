// A copy for the short values that profiling copies per field (excerpts,
// top-value texts).
#pragma once

#include <cstddef>
#include <cstring>

namespace heavylift {

// Copies `length` bytes with fixed-size moves that overlap at the end. When
// GCC 12 can bound a memcpy length (here by a 256-byte limit), it inlines
// the copy as `rep movsq`. The start-up cost of that instruction dominated
// the CSV profile of short fields, and fixed-size moves avoid it.
inline void copy_short(char* to, const char* from, size_t length) {
  if (length >= 16) {
    for (size_t i = 0; i + 16 < length; i += 16) std::memcpy(to + i, from + i, 16);
    std::memcpy(to + length - 16, from + length - 16, 16);
  } else if (length >= 8) {
    std::memcpy(to, from, 8);
    std::memcpy(to + length - 8, from + length - 8, 8);
  } else if (length >= 4) {
    std::memcpy(to, from, 4);
    std::memcpy(to + length - 4, from + length - 4, 4);
  } else {
    for (size_t i = 0; i < length; ++i) to[i] = from[i];
  }
}

}  // namespace heavylift
