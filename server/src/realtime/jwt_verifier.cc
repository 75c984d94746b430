#include "realtime/jwt_verifier.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "tasks/crypto/jwt.h"

namespace heavylift::realtime {
namespace {

constexpr char kSetting[] = "realtime.jwt_key_file";
constexpr size_t kMaxKeyFileBytes = 1 << 20;

Error key_error(const std::string& message) {
  return Error::invalid(kSetting, "INVALID_KEY", message);
}

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
  if (limits.jwt_key_file.empty()) {
    return key_error("realtime.jwt_key_file must name the key that client tokens are checked with");
  }
  std::ifstream file(limits.jwt_key_file, std::ios::binary);
  if (!file) return key_error(fmt::format("cannot read realtime.jwt_key_file {}", limits.jwt_key_file));
  std::ostringstream contents;
  contents << file.rdbuf();
  std::string text = contents.str();
  if (text.size() > kMaxKeyFileBytes) return key_error("realtime.jwt_key_file is larger than 1 MiB");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return key_error(fmt::format("realtime.jwt_key_file {} is empty", limits.jwt_key_file));

  auto keys = std::make_shared<JwtKeySet>();
  if (text.front() == '{') {
    Result<JwtKeySet> loaded = JwtKeySet::from_jwks(text, {});
    if (!loaded.ok()) return key_error("realtime.jwt_key_file is not a usable JWKS: " + loaded.error().message);
    *keys = std::move(loaded).value();
  } else if (text.rfind("-----BEGIN", 0) == 0) {
    const std::vector<JwsAlgorithm> asymmetric = {JwsAlgorithm::kEdDSA, JwsAlgorithm::kRS256, JwsAlgorithm::kPS256,
                                                  JwsAlgorithm::kES256};
    // from_pem wants algorithms that fit the key, so try the families in turn.
    Result<JwtKey> key = key_error("no algorithm fits the PEM key");
    for (JwsAlgorithm algorithm : asymmetric) {
      key = JwtKey::from_pem("", text, {algorithm});
      if (key.ok()) break;
    }
    if (!key.ok()) return key_error("realtime.jwt_key_file holds a PEM key heavylift cannot use: " + key.error().message);
    if (Status s = keys->add(std::move(key).value()); !s.ok()) return s.error();
  } else {
    Result<JwtKey> key = JwtKey::hmac("", text, {JwsAlgorithm::kHS256});
    if (!key.ok()) return key_error("realtime.jwt_key_file is not a usable HS256 secret: " + key.error().message);
    if (Status s = keys->add(std::move(key).value()); !s.ok()) return s.error();
  }

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
