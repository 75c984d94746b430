// Bearer tokens that grant access to the gRPC services and the admin
// /metrics endpoint. The token file contains one token per line; blank lines and
// lines starting with '#' are skipped. Tokens are kept only as SHA-256
// digests and compared in constant time, and no token is ever logged.
//
// Thread-safety: check() may run on any thread while reload() replaces the
// set (on SIGHUP); a check sees either the old set or the new one.
#pragma once

#include <array>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

// Shortest token accepted in the token file, in bytes.
inline constexpr size_t kMinBearerTokenBytes = 16;

class BearerTokens {
 public:
  // `file` empty disables token checks: check() then accepts every call.
  explicit BearerTokens(std::string file);

  // Reads the token file. On an error (missing file, a token shorter than
  // kMinBearerTokenBytes, no token at all) the previous set stays in force
  // and the error names the file and line.
  Status reload();

  // True when a token file is configured.
  bool enabled() const { return !file_.empty(); }
  const std::string& file() const { return file_; }

  // Checks the value of an `authorization` header. `present` false means the
  // request had no such header. Returns OK, or UNAUTHENTICATED with reason
  // MISSING_TOKEN, MALFORMED_AUTHORIZATION or UNKNOWN_TOKEN.
  Status check(bool present, std::string_view authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;

  std::string file_;
  mutable std::shared_mutex mutex_;
  std::vector<Digest> digests_;
};

}  // namespace heavylift
