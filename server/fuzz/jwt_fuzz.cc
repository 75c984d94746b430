// libFuzzer target for the JWS/JWT parser: compact tokens checked against a
// fixed key set (HS256 and Ed25519), JWK and JWKS documents, and the strict
// JSON reader under them. Every input must end in a value or an error with
// the documented code; a token that verifies must carry a header naming an
// algorithm its key allows.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tasks/crypto/base64.h"
#include "tasks/crypto/jwt.h"

namespace {

using heavylift::Code;
using heavylift::JwsAlgorithm;
using heavylift::JwtKey;
using heavylift::JwtKeySet;

const JwtKeySet& keys() {
  static const JwtKeySet set = [] {
    JwtKeySet out;
    // Fixed keys so that seeds signed with them reach the claims checks.
    (void)out.add(JwtKey::hmac("hs", std::string(32, 'k'), {JwsAlgorithm::kHS256}).value());
    (void)out.add(JwtKey::from_jwk(R"({"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"ed",)"
                                   R"("d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
                                   R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
                                   {}).value());
    return out;
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  heavylift::JwtVerifyOptions options;
  options.require_exp = false;
  auto claims = heavylift::verify_jwt(text, keys(), options, std::chrono::system_clock::time_point(std::chrono::seconds(1000)));
  if (claims.ok()) {
    const JwtKey* key = nullptr;
    for (const auto& candidate : keys().keys()) {
      if (candidate.allows(claims.value().algorithm)) key = &candidate;
    }
    if (key == nullptr) std::abort();
  } else if (claims.error().code != Code::kUnauthenticated && claims.error().code != Code::kInvalidArgument) {
    std::abort();
  }

  auto jwk = JwtKey::from_jwk(text, {JwsAlgorithm::kES256, JwsAlgorithm::kEdDSA, JwsAlgorithm::kHS256});
  if (jwk.ok()) {
    // A key that loads exports a JWK that loads again.
    if (!JwtKey::from_jwk(jwk.value().public_jwk(), jwk.value().algorithms()).ok()) std::abort();
  }
  (void)JwtKeySet::from_jwks(text, {});

  std::string decoded;
  if (heavylift::base64url_decode(text, &decoded) && heavylift::base64url_encode(decoded) != text) std::abort();
  return 0;
}
