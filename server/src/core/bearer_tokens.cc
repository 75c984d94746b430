#include "core/bearer_tokens.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <mutex>

#include "tasks/crypto/jwt.h"
#include "tasks/crypto/jwt_key_file.h"

namespace heavylift {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

Error unauthenticated(std::string reason, std::string message) {
  Error error;
  error.code = Code::kUnauthenticated;
  error.field = "authorization";
  error.reason = std::move(reason);
  error.message = std::move(message);
  return error;
}

using Digest = std::array<unsigned char, 32>;

// Reads the token file into SHA-256 digests of its tokens.
Result<std::vector<Digest>> read_token_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    return Error::invalid("auth.token_file", "TOKEN_FILE_UNREADABLE",
                          fmt::format("cannot read the token file {}", file));
  }

  std::vector<Digest> digests;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view token = trim(line);
    if (token.empty() || token.front() == '#') continue;
    if (token.size() < kMinBearerTokenBytes) {
      return Error::invalid("auth.token_file", "TOKEN_TOO_SHORT",
                            fmt::format("{} line {}: a token must be at least {} characters, got {}", file,
                                        number, kMinBearerTokenBytes, token.size()),
                            fmt::format(">= {} characters", kMinBearerTokenBytes),
                            fmt::format("{} characters", token.size()));
    }
    digests.push_back(sha256(token));
  }
  if (digests.empty()) {
    return Error::invalid("auth.token_file", "NO_TOKENS",
                          fmt::format("the token file {} contains no token", file));
  }
  return digests;
}

}  // namespace

BearerTokens::BearerTokens(std::string file, JwtBearerSettings jwt) : file_(std::move(file)), jwt_(std::move(jwt)) {}

BearerTokens::~BearerTokens() = default;

Status BearerTokens::reload() {
  std::vector<Digest> digests;
  if (!file_.empty()) {
    auto read = read_token_file(file_);
    if (!read.ok()) return read.error();
    digests = std::move(read).value();
  }
  std::shared_ptr<const JwtKeySet> keys;
  if (!jwt_.key_file.empty()) {
    auto loaded = load_jwt_key_file(jwt_.key_file, "auth.jwt_key_file");
    if (!loaded.ok()) return loaded.error();
    keys = std::make_shared<const JwtKeySet>(std::move(loaded).value());
  }

  std::unique_lock lock(mutex_);
  digests_ = std::move(digests);
  jwt_keys_ = std::move(keys);
  return Status::Ok();
}

Status BearerTokens::check(bool present, std::string_view authorization) const {
  if (!enabled()) return Status::Ok();
  if (!present) {
    return unauthenticated("MISSING_TOKEN",
                           "missing bearer token: send the header `authorization: Bearer <token>`");
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      OPENSSL_strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return unauthenticated("MALFORMED_AUTHORIZATION",
                           "invalid authorization header: expected `Bearer <token>`");
  }

  const std::string_view token = trim(authorization.substr(kScheme.size()));
  if (!jwt_.key_file.empty() && std::count(token.begin(), token.end(), '.') == 2) return check_jwt(token);
  if (file_.empty()) {
    return unauthenticated("UNKNOWN_TOKEN", "invalid bearer token: expected a JWT signed with the key in auth.jwt_key_file");
  }

  const Digest digest = sha256(token);
  bool found = false;
  std::shared_lock lock(mutex_);
  // Compare against every token, without stopping early, so the time taken
  // does not reveal which token matched.
  for (const Digest& known : digests_) {
    found |= CRYPTO_memcmp(known.data(), digest.data(), digest.size()) == 0;
  }
  if (!found) return unauthenticated("UNKNOWN_TOKEN", "invalid bearer token");
  return Status::Ok();
}

Status BearerTokens::check_jwt(std::string_view token) const {
  std::shared_ptr<const JwtKeySet> keys;
  {
    std::shared_lock lock(mutex_);
    keys = jwt_keys_;
  }
  if (!keys) return unauthenticated("UNKNOWN_TOKEN", "invalid bearer token: no JWT key is loaded");

  JwtVerifyOptions options;
  options.require_exp = true;
  options.clock_skew = jwt_.clock_skew;
  if (!jwt_.audience.empty()) options.audiences = {jwt_.audience};
  options.issuer = jwt_.issuer;
  Result<JwtClaims> verified = verify_jwt(token, *keys, options, std::chrono::system_clock::now());
  if (verified.ok()) return Status::Ok();

  const Error& error = verified.error();
  return unauthenticated(error.reason.empty() ? "INVALID_TOKEN" : error.reason,
                         "invalid bearer JWT: " + error.message);
}

}  // namespace heavylift
