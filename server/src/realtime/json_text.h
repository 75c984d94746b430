// Small helpers for JSON text that the hub passes through without building a
// document: quoting strings and checking or splitting arrays. Parsing uses
// simdjson, with one parser per thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift::realtime {

// Returns `text` as a JSON string literal with quotes and escapes. Bytes that
// are not valid UTF-8 are passed through unchanged.
std::string json_quote(std::string_view text);

// A JSON array split into the raw, minified text of each element.
struct JsonArray {
  std::vector<std::string> elements;
};

// Parses `text` as a JSON array. `field` names the value in errors, which are
// INVALID_ARGUMENT with reason MALFORMED_JSON or NOT_AN_ARRAY.
Result<JsonArray> split_json_array(std::string_view text, const std::string& field);

// Joins raw element texts into one JSON array text.
std::string join_json_array(const std::vector<std::string>& elements, size_t first = 0);

// Returns the string held by `key` in the JSON object `text`, or an empty
// string when the key is absent or not a string. Errors when `text` is not a
// JSON object (reason MALFORMED_JSON or NOT_AN_OBJECT).
Result<std::string> json_object_string(std::string_view text, std::string_view key, const std::string& field);

// Decodes a JSON string literal such as "\"room\\u0041\"" into its text.
// Errors when `text` is not a single JSON string.
Result<std::string> json_string_value(std::string_view text, const std::string& field);

// Counts the `{"_placeholder":true,"num":N}` objects in the JSON text `text`
// and checks that their numbers are 0..attachments-1.
Status check_placeholders(std::string_view text, size_t attachments, const std::string& field);

}  // namespace heavylift::realtime
