// What the hub takes from a client's token: the user id and the rooms the
// user may join, with the expiry time.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift::realtime {

struct Claims {
  // The token's "sub" claim.
  std::string user_id;
  // The token's "rooms" claim: room names, where a trailing '*' matches any
  // suffix ("chat:*" allows "chat:1"), and "*" alone allows every room.
  std::vector<std::string> rooms;
  // The token's "exp" claim, when present.
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

// Checks a token and returns its claims, or UNAUTHENTICATED with a reason
// (TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, BAD_SIGNATURE, ...).
using TokenVerifier = std::function<Result<Claims>(std::string_view token)>;

// Returns true when `claims.rooms` allows `room`.
bool room_allowed(const Claims& claims, std::string_view room);

}  // namespace heavylift::realtime
