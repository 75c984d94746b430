#include "realtime/token_claims.h"

namespace heavylift::realtime {

bool room_allowed(const Claims& claims, std::string_view room) {
  for (const std::string& pattern : claims.rooms) {
    if (!pattern.empty() && pattern.back() == '*') {
      const std::string_view prefix(pattern.data(), pattern.size() - 1);
      if (room.substr(0, prefix.size()) == prefix) return true;
    } else if (pattern == room) {
      return true;
    }
  }
  return false;
}

}  // namespace heavylift::realtime
