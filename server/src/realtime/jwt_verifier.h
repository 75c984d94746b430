// Builds the hub's TokenVerifier from the realtime.jwt_key_file setting, on
// the JWT library in tasks/crypto/jwt.h.
#pragma once

#include "core/error.h"
#include "realtime/realtime_config.h"
#include "realtime/token_claims.h"

namespace heavylift::realtime {

// Loads the key named by limits.jwt_key_file: a JWKS ({"keys": [...]}), a
// PEM public key (Ed25519 allows EdDSA; RSA and EC keys their RS/PS/ES
// algorithms), or else the file's bytes, without a final newline, as an
// HS256 secret of at least 32 bytes. The verifier requires "sub" and "exp",
// reads the rooms claim (an array of strings) and allows 30 s of clock skew.
// Returns INVALID_ARGUMENT naming realtime.jwt_key_file when the file is
// missing, empty or not a usable key.
Result<TokenVerifier> load_jwt_verifier(const RealtimeLimits& limits);

}  // namespace heavylift::realtime
