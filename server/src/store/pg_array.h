// Parser for PostgreSQL's text output of one-dimensional arrays, such as
// {1,2.5,NULL} or {"a b","c\"d",NULL}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

// Returns the elements of `text`, with nullopt for NULL elements. Quoted
// elements are unescaped. Multi-dimensional arrays, dimension decorations
// ("[1:2]=") and malformed text fail with INVALID_ARGUMENT.
Result<std::vector<std::optional<std::string>>> parse_pg_array(std::string_view text);

}  // namespace heavylift
