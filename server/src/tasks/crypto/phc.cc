#include "tasks/crypto/phc.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <vector>

namespace heavylift {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// Parses a decimal uint32 with no sign, no leading zeros and no other bytes.
bool parse_decimal(std::string_view text, uint32_t* value) {
  if (text.empty() || text.size() > 10) return false;
  if (text.size() > 1 && text.front() == '0') return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

Error malformed(std::string_view field, const std::string& problem) {
  return Error::invalid(std::string(field), "MALFORMED_HASH",
                        fmt::format("{} is not a valid argon2 PHC string: {}", field, problem));
}

}  // namespace

const char* argon2_variant_name(Argon2Variant variant) {
  switch (variant) {
    case Argon2Variant::kArgon2d: return "argon2d";
    case Argon2Variant::kArgon2i: return "argon2i";
    case Argon2Variant::kArgon2id: return "argon2id";
  }
  return "argon2id";
}

Result<PhcArgon2> parse_phc_argon2(std::string_view text, std::string_view field) {
  constexpr size_t kMaxLength = 1024;
  constexpr size_t kMaxEncodedPart = 256;
  if (text.empty()) return Error::invalid(std::string(field), "EMPTY", fmt::format("{} is empty", field));
  if (text.size() > kMaxLength) {
    return malformed(field, fmt::format("longer than {} characters", kMaxLength));
  }
  if (text.front() != '$') return malformed(field, "it must start with '$'");

  // "$a$b$c" splits into "", "a", "b", "c".
  const auto parts = split(text.substr(1), '$');
  if (parts.size() != 4 && parts.size() != 5) {
    return malformed(field, fmt::format("expected 4 or 5 '$'-separated fields, found {}", parts.size()));
  }

  PhcArgon2 phc;
  if (parts[0] == "argon2id") phc.variant = Argon2Variant::kArgon2id;
  else if (parts[0] == "argon2i") phc.variant = Argon2Variant::kArgon2i;
  else if (parts[0] == "argon2d") phc.variant = Argon2Variant::kArgon2d;
  else return malformed(field, fmt::format("unknown algorithm identifier {}", quote_value(parts[0])));

  size_t next = 1;
  phc.version = 0x10;
  if (parts.size() == 5) {
    const std::string_view version = parts[next++];
    if (version.substr(0, 2) != "v=" || !parse_decimal(version.substr(2), &phc.version)) {
      return malformed(field, fmt::format("invalid version field {}", quote_value(version)));
    }
    if (phc.version != 0x10 && phc.version != 0x13) {
      return malformed(field, fmt::format("unsupported version {} (expected 16 or 19)", phc.version));
    }
  }

  bool seen_m = false, seen_t = false, seen_p = false;
  for (std::string_view parameter : split(parts[next++], ',')) {
    const size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) {
      return malformed(field, fmt::format("parameter {} has no '='", quote_value(parameter)));
    }
    const std::string_view key = parameter.substr(0, equals);
    uint32_t value = 0;
    if (!parse_decimal(parameter.substr(equals + 1), &value)) {
      return malformed(field, fmt::format("parameter {} has an invalid number", quote_value(parameter)));
    }
    bool* seen = nullptr;
    uint32_t* slot = nullptr;
    if (key == "m") seen = &seen_m, slot = &phc.memory_cost;
    else if (key == "t") seen = &seen_t, slot = &phc.time_cost;
    else if (key == "p") seen = &seen_p, slot = &phc.parallelism;
    else return malformed(field, fmt::format("unknown parameter {}", quote_value(key)));
    if (*seen) return malformed(field, fmt::format("parameter {} appears twice", key));
    *seen = true;
    *slot = value;
  }
  if (!seen_m || !seen_t || !seen_p) return malformed(field, "parameters m, t and p are all required");

  // Bounding both encoded parts keeps every accepted string, once formatted
  // again, under kMaxLength too.
  const std::string_view salt = parts[next++];
  const std::string_view hash = parts[next++];
  if (salt.size() > kMaxEncodedPart || hash.size() > kMaxEncodedPart) {
    return malformed(field, fmt::format("the salt and the hash are limited to {} base64 characters each",
                                        kMaxEncodedPart));
  }
  if (!base64_decode(salt, Base64Alphabet::kStandard, &phc.salt)) return malformed(field, "the salt is not unpadded base64");
  if (!base64_decode(hash, Base64Alphabet::kStandard, &phc.hash)) return malformed(field, "the hash is not unpadded base64");
  return phc;
}

std::string format_phc_argon2(const PhcArgon2& phc) {
  return fmt::format("${}$v={}$m={},t={},p={}${}${}", argon2_variant_name(phc.variant), phc.version,
                     phc.memory_cost, phc.time_cost, phc.parallelism,
                     base64_encode(phc.salt, Base64Alphabet::kStandard), base64_encode(phc.hash, Base64Alphabet::kStandard));
}

}  // namespace heavylift
