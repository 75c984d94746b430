#include "core/bearer_tokens.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <mutex>

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

}  // namespace

BearerTokens::BearerTokens(std::string file) : file_(std::move(file)) {}

Status BearerTokens::reload() {
  if (file_.empty()) return Status::Ok();
  std::ifstream in(file_);
  if (!in) {
    return Error::invalid("auth.token_file", "TOKEN_FILE_UNREADABLE",
                          fmt::format("cannot read the token file {}", file_));
  }

  std::vector<Digest> digests;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view token = trim(line);
    if (token.empty() || token.front() == '#') continue;
    if (token.size() < kMinBearerTokenBytes) {
      return Error::invalid("auth.token_file", "TOKEN_TOO_SHORT",
                            fmt::format("{} line {}: a token must be at least {} characters, got {}", file_,
                                        number, kMinBearerTokenBytes, token.size()),
                            fmt::format(">= {} characters", kMinBearerTokenBytes),
                            fmt::format("{} characters", token.size()));
    }
    digests.push_back(sha256(token));
  }
  if (digests.empty()) {
    return Error::invalid("auth.token_file", "NO_TOKENS",
                          fmt::format("the token file {} contains no token", file_));
  }

  std::unique_lock lock(mutex_);
  digests_ = std::move(digests);
  return Status::Ok();
}

Status BearerTokens::check(bool present, std::string_view authorization) const {
  if (file_.empty()) return Status::Ok();
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

  const Digest digest = sha256(trim(authorization.substr(kScheme.size())));
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

}  // namespace heavylift
