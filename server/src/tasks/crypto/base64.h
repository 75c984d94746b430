// Unpadded base64 in the two RFC 4648 alphabets heavylift meets: the standard
// one (PHC strings, envelopes) and the URL-safe one (JWS, JWK, tokens).
#pragma once

#include <string>
#include <string_view>

namespace heavylift {

enum class Base64Alphabet {
  kStandard,  // A-Z a-z 0-9 + /
  kUrl,       // A-Z a-z 0-9 - _
};

// Encodes `bytes` without '=' padding.
std::string base64_encode(std::string_view bytes, Base64Alphabet alphabet);

// Decodes unpadded base64 into `bytes`. Returns false on any character outside
// the alphabet (padding included), on a length that cannot occur (4n+1) and on
// non-zero unused bits in the last character, so that each byte string has
// exactly one accepted encoding.
bool base64_decode(std::string_view text, Base64Alphabet alphabet, std::string* bytes);

inline std::string base64url_encode(std::string_view bytes) {
  return base64_encode(bytes, Base64Alphabet::kUrl);
}
inline bool base64url_decode(std::string_view text, std::string* bytes) {
  return base64_decode(text, Base64Alphabet::kUrl, bytes);
}

}  // namespace heavylift
