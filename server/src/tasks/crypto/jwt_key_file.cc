#include "tasks/crypto/jwt_key_file.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace heavylift {
namespace {

constexpr size_t kMaxKeyFileBytes = 1 << 20;

}  // namespace

Result<JwtKeySet> load_jwt_key_file(const std::string& path, std::string_view setting) {
  const auto key_error = [&](const std::string& message) {
    return Error::invalid(std::string(setting), "INVALID_KEY", message);
  };
  if (path.empty()) return key_error(fmt::format("{} must name the key that tokens are checked with", setting));
  std::ifstream file(path, std::ios::binary);
  if (!file) return key_error(fmt::format("cannot read {} {}", setting, path));
  std::ostringstream contents;
  contents << file.rdbuf();
  std::string text = contents.str();
  if (text.size() > kMaxKeyFileBytes) return key_error(fmt::format("{} {} is larger than 1 MiB", setting, path));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return key_error(fmt::format("{} {} is empty", setting, path));

  if (text.front() == '{') {
    Result<JwtKeySet> loaded = JwtKeySet::from_jwks(text, {});
    if (!loaded.ok()) return key_error(fmt::format("{} is not a usable JWKS: {}", setting, loaded.error().message));
    return loaded;
  }

  JwtKeySet keys;
  if (text.rfind("-----BEGIN", 0) == 0) {
    const std::vector<JwsAlgorithm> asymmetric = {JwsAlgorithm::kEdDSA, JwsAlgorithm::kRS256, JwsAlgorithm::kPS256,
                                                  JwsAlgorithm::kES256};
    // from_pem wants algorithms that fit the key, so try the families in turn.
    Result<JwtKey> key = key_error("no algorithm fits the PEM key");
    for (JwsAlgorithm algorithm : asymmetric) {
      key = JwtKey::from_pem("", text, {algorithm});
      if (key.ok()) break;
    }
    if (!key.ok()) {
      return key_error(fmt::format("{} holds a PEM key heavylift cannot use: {}", setting, key.error().message));
    }
    if (Status s = keys.add(std::move(key).value()); !s.ok()) return s.error();
    return keys;
  }

  Result<JwtKey> key = JwtKey::hmac("", text, {JwsAlgorithm::kHS256});
  if (!key.ok()) return key_error(fmt::format("{} is not a usable HS256 secret: {}", setting, key.error().message));
  if (Status s = keys.add(std::move(key).value()); !s.ok()) return s.error();
  return keys;
}

}  // namespace heavylift
