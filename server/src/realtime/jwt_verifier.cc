#include "realtime/jwt_verifier.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <memory>

#include "tasks/crypto/jwt.h"
#include "tasks/crypto/jwt_key_file.h"

namespace heavylift::realtime {
namespace {

constexpr char kSetting[] = "realtime.jwt_key_file";

// Reads the claims the hub uses from the verified claims set.
Result<Claims> to_claims(const JwtClaims& verified) {
  Claims claims;
  claims.user_id = verified.subject;
  if (claims.user_id.empty()) {
    return Error{Code::kUnauthenticated, "token has no sub claim (the user id)", "token", "", "", "MISSING_CLAIM"};
  }
  if (verified.expires_at) {
    claims.expires_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(*verified.expires_at)));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(verified.json).get(root) != simdjson::SUCCESS) {
    return Error{Code::kUnauthenticated, "token claims are not valid JSON", "token", "", "", "MALFORMED"};
  }
  simdjson::dom::array rooms;
  const auto rooms_error = root["rooms"].get(rooms);
  if (rooms_error == simdjson::NO_SUCH_FIELD) return claims;
  if (rooms_error != simdjson::SUCCESS) {
    return Error{Code::kUnauthenticated, "token claim rooms must be an array of strings", "token", "", "",
                 "MALFORMED"};
  }
  for (simdjson::dom::element room : rooms) {
    std::string_view name;
    if (room.get(name) != simdjson::SUCCESS) {
      return Error{Code::kUnauthenticated, "token claim rooms must be an array of strings", "token", "", "",
                   "MALFORMED"};
    }
    claims.rooms.emplace_back(name);
  }
  return claims;
}

}  // namespace

Result<TokenVerifier> load_jwt_verifier(const RealtimeLimits& limits) {
  Result<JwtKeySet> loaded = load_jwt_key_file(limits.jwt_key_file, kSetting);
  if (!loaded.ok()) return loaded.error();
  auto keys = std::make_shared<const JwtKeySet>(std::move(loaded).value());

  return TokenVerifier([keys](std::string_view token) -> Result<Claims> {
    JwtVerifyOptions options;
    options.require_exp = true;
    Result<JwtClaims> verified = verify_jwt(token, *keys, options, std::chrono::system_clock::now());
    if (!verified.ok()) {
      Error error = verified.error();
      error.code = Code::kUnauthenticated;
      if (error.reason.empty()) error.reason = "INVALID_TOKEN";
      return error;
    }
    return to_claims(verified.value());
  });
}

}  // namespace heavylift::realtime
