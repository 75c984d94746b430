// Shared helpers for the crypto tests: locating the Wycheproof vectors and
// decoding hex. The vectors are read in place from HEAVYLIFT_TESTDATA_DIR,
// which defaults to <repo>/../shared/testdata; when absent, the tests that
// need them print one line and skip.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace heavylift::testdata {

inline std::filesystem::path root() {
  if (const char* dir = std::getenv("HEAVYLIFT_TESTDATA_DIR"); dir != nullptr && *dir != '\0') return dir;
  return std::filesystem::path(HEAVYLIFT_SOURCE_DIR) / ".." / ".." / "shared" / "testdata";
}

// Loads wycheproof/<name>, or returns nullopt after printing why the caller
// should skip.
inline std::optional<nlohmann::json> wycheproof(const std::string& name) {
  const auto path = root() / "wycheproof" / name;
  std::ifstream file(path);
  if (!file) {
    std::printf("skipping: Wycheproof file %s not found (set HEAVYLIFT_TESTDATA_DIR)\n", path.c_str());
    return std::nullopt;
  }
  return nlohmann::json::parse(file);
}

inline std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace heavylift::testdata

// Skips the current test when a Wycheproof file is absent.
#define HEAVYLIFT_LOAD_WYCHEPROOF(variable, name)          \
  auto variable = ::heavylift::testdata::wycheproof(name); \
  if (!variable) GTEST_SKIP() << "Wycheproof file " << (name) << " not found"
