// Loads the key that a verifier of app-signed JWTs trusts from one file, in
// whichever form the app team has it: a JWKS, a PEM public key, or an HMAC
// secret. Used by the real-time hub and by bearer-token authentication.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "tasks/crypto/jwt.h"

namespace heavylift {

// Reads `path` (at most 1 MiB) as one of:
//   - a JWKS ({"keys": [...]}), each key with its "alg" or any algorithm
//     that fits its type;
//   - a PEM public key: Ed25519 allows EdDSA, RSA keys RS256 and PS256, EC
//     P-256 keys ES256;
//   - else the file's bytes, without a final newline, as an HS256 secret of
//     at least 32 bytes.
// Errors are INVALID_ARGUMENT with field `setting` (the setting that names
// the file) when the file is missing, empty, too large or not a usable key.
Result<JwtKeySet> load_jwt_key_file(const std::string& path, std::string_view setting);

}  // namespace heavylift
