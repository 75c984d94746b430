// Strict JSON for security-relevant documents (JOSE headers, JWT claims,
// JWKs and key files): the text must be one JSON object, every object in it
// must have unique member names (RFC 7515 4 allows a parser to reject
// duplicates; accepting the last one lets two parsers disagree about a
// token), strings must be valid UTF-8 and nesting is bounded.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace heavylift {

// Returns the parsed object, or nullopt with `problem` set to a short
// description ("duplicate member \"alg\"", "not a JSON object", ...).
std::optional<nlohmann::json> parse_strict_json_object(std::string_view text, std::string* problem,
                                                       int max_depth = 32);

}  // namespace heavylift
