// Bearer tokens that grant access to the gRPC services and the admin
// /metrics endpoint, of two kinds:
//   - static tokens from a token file, one per line; blank lines and lines
//     starting with '#' are skipped. They are kept only as SHA-256 digests
//     and compared in constant time.
//   - JWTs signed by the app, checked against the key in a JWT key file
//     (see load_jwt_key_file): signature, "exp" (required), "nbf", and the
//     configured audience and issuer.
// A bearer value with two dots is checked as a JWT when a key file is set;
// any other value against the token file. No token is ever logged.
//
// Thread-safety: check() may run on any thread while reload() replaces the
// tokens and keys (on SIGHUP); a check uses either the old set or the new one.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

// Shortest token accepted in the token file, in bytes.
inline constexpr size_t kMinBearerTokenBytes = 16;

class JwtKeySet;

// Settings for JWT bearer tokens. An empty key_file accepts no JWT.
struct JwtBearerSettings {
  std::string key_file;
  // When set, the token's "aud" must contain it.
  std::string audience;
  // When set, the token's "iss" must equal it.
  std::string issuer;
  std::chrono::seconds clock_skew{30};
};

class BearerTokens {
 public:
  // Both `file` and `jwt.key_file` empty disable token checks: check() then
  // accepts every call.
  explicit BearerTokens(std::string file, JwtBearerSettings jwt = {});
  ~BearerTokens();

  // Reads the token file and the JWT key file. On an error (a missing file, a
  // token shorter than kMinBearerTokenBytes, no token at all, an unusable
  // key) the previous tokens and keys stay in force and the error names the
  // file and line or the setting.
  Status reload();

  // True when a token file or a JWT key file is configured.
  bool enabled() const { return !file_.empty() || !jwt_.key_file.empty(); }
  const std::string& file() const { return file_; }
  const std::string& jwt_key_file() const { return jwt_.key_file; }

  // Checks the value of an `authorization` header. `present` false means the
  // request had no such header. Returns OK, or UNAUTHENTICATED with reason
  // MISSING_TOKEN, MALFORMED_AUTHORIZATION, UNKNOWN_TOKEN, or for a JWT the
  // verifier's reason (EXPIRED, BAD_SIGNATURE, AUDIENCE_MISMATCH, ...).
  Status check(bool present, std::string_view authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;

  Status check_jwt(std::string_view token) const;

  std::string file_;
  JwtBearerSettings jwt_;
  mutable std::shared_mutex mutex_;
  std::vector<Digest> digests_;
  std::shared_ptr<const JwtKeySet> jwt_keys_;
};

}  // namespace heavylift
