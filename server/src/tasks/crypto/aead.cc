#include "tasks/crypto/aead.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <fstream>
#include <memory>

#include "tasks/crypto/base64.h"

namespace heavylift {
namespace {

constexpr uint8_t kAlgorithmAesGcm = 1;
constexpr uint8_t kAlgorithmXChaCha = 2;
constexpr size_t kMaxKeyIdBytes = 64;
// The longest GCM nonce OpenSSL accepts.
constexpr size_t kMaxGcmNonceBytes = 128;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

const EVP_CIPHER* gcm_cipher(size_t key_bytes) {
  switch (key_bytes) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return nullptr;
  }
}

const unsigned char* bytes(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }
unsigned char* bytes(std::string* text) { return reinterpret_cast<unsigned char*>(text->data()); }

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Decodes a key in standard or URL-safe base64, padded or not.
bool decode_key(std::string_view text, std::string* key) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return base64_decode(text, Base64Alphabet::kStandard, key) || base64_decode(text, Base64Alphabet::kUrl, key);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

Error decryption_failed() {
  return Error::invalid("envelope", "DECRYPTION_FAILED",
                        "envelope could not be decrypted: the key, the envelope or the associated data differ from "
                        "those used to encrypt it");
}

size_t nonce_bytes(uint8_t algorithm) { return algorithm == kAlgorithmAesGcm ? 12 : 24; }

}  // namespace

bool aes_gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
                  size_t tag_bytes, std::string* sealed) {
  const EVP_CIPHER* cipher = gcm_cipher(key.size());
  if (cipher == nullptr || nonce.empty() || nonce.size() > kMaxGcmNonceBytes || tag_bytes < 4 || tag_bytes > 16) {
    return false;
  }
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  sealed->resize(plaintext.size() + tag_bytes);
  int length = 0;
  int total = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(nonce)) == 1 &&
      (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_EncryptUpdate(ctx.get(), bytes(sealed), &length, bytes(plaintext), static_cast<int>(plaintext.size())) == 1 &&
      (total = length, EVP_EncryptFinal_ex(ctx.get(), bytes(sealed) + total, &length) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes),
                          bytes(sealed) + plaintext.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool aes_gcm_open(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view sealed,
                  size_t tag_bytes, std::string* plaintext) {
  const EVP_CIPHER* cipher = gcm_cipher(key.size());
  if (cipher == nullptr || nonce.empty() || nonce.size() > kMaxGcmNonceBytes || tag_bytes < 4 || tag_bytes > 16 ||
      sealed.size() < tag_bytes) {
    return false;
  }
  const size_t text_bytes = sealed.size() - tag_bytes;
  std::string tag(sealed.substr(text_bytes));
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  plaintext->resize(text_bytes);
  int length = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(nonce)) == 1 &&
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_DecryptUpdate(ctx.get(), bytes(plaintext), &length, bytes(sealed), static_cast<int>(text_bytes)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_bytes), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), bytes(plaintext) + length, &length) == 1;
  ERR_clear_error();
  if (!ok) {
    sodium_memzero(plaintext->data(), plaintext->size());
    plaintext->clear();
  }
  return ok;
}

bool xchacha20poly1305_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                            std::string_view plaintext, std::string* sealed) {
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES ||
      nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) {
    return false;
  }
  sealed->resize(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(sealed), &length, bytes(plaintext), plaintext.size(), bytes(aad),
                                             aad.size(), nullptr, bytes(nonce), bytes(key));
  sealed->resize(length);
  return true;
}

namespace {

using SodiumDecrypt = int (*)(unsigned char*, unsigned long long*, unsigned char*, const unsigned char*,
                              unsigned long long, const unsigned char*, unsigned long long, const unsigned char*,
                              const unsigned char*);

// Opens a libsodium IETF AEAD box after checking the key and nonce sizes.
bool sodium_open(SodiumDecrypt decrypt, size_t key_bytes, size_t nonce_size, std::string_view key,
                 std::string_view nonce, std::string_view aad, std::string_view sealed, std::string* plaintext) {
  if (key.size() != key_bytes || nonce.size() != nonce_size || sealed.size() < kAeadTagBytes) return false;
  plaintext->resize(sealed.size() - kAeadTagBytes);
  unsigned long long length = 0;
  if (decrypt(bytes(plaintext), &length, nullptr, bytes(sealed), sealed.size(), bytes(aad), aad.size(), bytes(nonce),
              bytes(key)) != 0) {
    plaintext->clear();
    return false;
  }
  return true;
}

}  // namespace

bool xchacha20poly1305_open(std::string_view key, std::string_view nonce, std::string_view aad,
                            std::string_view sealed, std::string* plaintext) {
  return sodium_open(crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
                     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, key, nonce, aad, sealed, plaintext);
}

bool chacha20poly1305_open(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view sealed, std::string* plaintext) {
  return sodium_open(crypto_aead_chacha20poly1305_ietf_decrypt, crypto_aead_chacha20poly1305_ietf_KEYBYTES,
                     crypto_aead_chacha20poly1305_ietf_NPUBBYTES, key, nonce, aad, sealed, plaintext);
}

Status AeadKeyRing::add(std::string id, std::string key, std::string_view field) {
  if (!valid_key_id(id)) {
    return Error::invalid(std::string(field), "BAD_KEY_ID",
                          fmt::format("{}: key id {} must be 1..64 characters of A-Z a-z 0-9 . _ -", field,
                                      quote_value(id)));
  }
  if (key.size() != kAeadKeyBytes) {
    return Error::invalid(std::string(field), "BAD_KEY",
                          fmt::format("{}: key {} is {} bytes; AEAD keys are 32 bytes (base64 of 32 random bytes)",
                                      field, id, key.size()),
                          "32 bytes", fmt::format("{} bytes", key.size()));
  }
  if (keys_.count(id) != 0) {
    return Error::invalid(std::string(field), "DUPLICATE_KEY_ID", fmt::format("{}: key id {} appears twice", field, id));
  }
  if (primary_.empty()) primary_ = id;
  keys_.emplace(std::move(id), std::move(key));
  return Status::Ok();
}

Status AeadKeyRing::set_primary(const std::string& id) {
  if (keys_.count(id) == 0) {
    return Error::invalid("primary", "UNKNOWN_KEY_ID", fmt::format("primary key {} is not in the key ring", quote_value(id)));
  }
  primary_ = id;
  return Status::Ok();
}

Status AeadKeyRing::merge(const AeadKeyRing& other, std::string_view field) {
  const bool had_keys = !keys_.empty();
  for (const auto& [id, key] : other.keys_) {
    if (Status s = add(id, key, field); !s.ok()) return s;
  }
  if (!had_keys) primary_ = other.primary_;
  return Status::Ok();
}

const std::string* AeadKeyRing::find(std::string_view id) const {
  const auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

Result<AeadKeyRing> AeadKeyRing::parse(std::string_view text, std::string_view field) {
  AeadKeyRing ring;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view entry = trim(text.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    std::string key;
    if (colon == std::string_view::npos || !decode_key(entry.substr(colon + 1), &key)) {
      return Error::invalid(std::string(field), "BAD_KEY",
                            fmt::format("{}: each entry must be id:base64key", field));
    }
    if (Status s = ring.add(std::string(entry.substr(0, colon)), std::move(key), field); !s.ok()) return s.error();
  }
  return ring;
}

Result<AeadKeyRing> AeadKeyRing::load_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::invalid("crypto.aead.key_file", "UNREADABLE", fmt::format("cannot open key file {}", path));
  std::string text(65537, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > 65536) return Error::out_of_range("crypto.aead.key_file", "<= 65536 bytes", path);

  AeadKeyRing ring;
  std::string primary;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line = trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const size_t split = line.find_first_of(" \t:");
    const std::string where = fmt::format("{} line {}", path, line_number);
    if (split == std::string_view::npos) {
      return Error::invalid("crypto.aead.key_file", "BAD_KEY", where + ": expected \"<id> <base64key>\"");
    }
    const std::string_view name = line.substr(0, split);
    const std::string_view rest = trim(line.substr(split + 1));
    if (name == "primary") {
      primary = std::string(rest);
      continue;
    }
    std::string key;
    if (!decode_key(rest, &key)) {
      return Error::invalid("crypto.aead.key_file", "BAD_KEY", where + ": the key is not base64");
    }
    if (Status s = ring.add(std::string(name), std::move(key), where); !s.ok()) return s.error();
  }
  sodium_memzero(text.data(), text.size());
  if (!primary.empty()) {
    if (Status s = ring.set_primary(primary); !s.ok()) return s.error();
  }
  return ring;
}

namespace {

// Chooses the key for a request: the ring's (by id or primary) or, when the
// operator allows it, a raw key from the request.
Result<std::pair<std::string, std::string>> choose_key(const std::string& key_id, const std::string& request_key,
                                                       const AeadKeyRing& keys, const AeadLimits& limits) {
  if (!request_key.empty()) {
    if (!limits.allow_request_keys) {
      Error error;
      error.code = Code::kPermissionDenied;
      error.field = "key";
      error.reason = "REQUEST_KEYS_DISABLED";
      error.message = "key: keys in requests are disabled; use the key ring, or set crypto.aead.allow_request_keys";
      return error;
    }
    if (request_key.size() != kAeadKeyBytes) {
      return Error::out_of_range("key", "32 bytes", fmt::format("{} bytes", request_key.size()));
    }
    return std::make_pair(std::string(), request_key);
  }
  const std::string id = key_id.empty() ? keys.primary_id() : key_id;
  if (keys.empty()) {
    Error error;
    error.code = Code::kFailedPrecondition;
    error.field = "key_id";
    error.reason = "NO_KEYS";
    error.message = "no AEAD keys are configured; set crypto.aead.key_file or HEAVYLIFT_CRYPTO_AEAD_KEYS";
    return error;
  }
  const std::string* key = keys.find(id);
  if (key == nullptr) {
    Error error;
    error.code = Code::kNotFound;
    error.field = "key_id";
    error.reason = "UNKNOWN_KEY_ID";
    error.value = quote_value(id);
    error.message = fmt::format("key_id {} is not in the key ring", quote_value(id));
    return error;
  }
  return std::make_pair(id, *key);
}

}  // namespace

Status aead_encrypt(const v1::AeadEncryptRequest& request, v1::AeadEncryptResponse* response, TaskContext& context,
                    const AeadKeyRing& keys, const AeadLimits& limits) {
  if (request.plaintext().size() > limits.max_plaintext_bytes) {
    return Error::out_of_range("plaintext", fmt::format("<= {} bytes", limits.max_plaintext_bytes),
                               fmt::format("{} bytes", request.plaintext().size()));
  }
  uint8_t algorithm = kAlgorithmXChaCha;
  switch (request.algorithm()) {
    case v1::AEAD_ALGORITHM_DEFAULT:
    case v1::AEAD_ALGORITHM_XCHACHA20_POLY1305: break;
    case v1::AEAD_ALGORITHM_AES_256_GCM: algorithm = kAlgorithmAesGcm; break;
    default:
      return Error::invalid("algorithm", "UNKNOWN_ALGORITHM",
                            fmt::format("algorithm {} is not a known AEAD algorithm", static_cast<int>(request.algorithm())));
  }
  auto chosen = choose_key(request.key_id(), request.key(), keys, limits);
  if (!chosen.ok()) return chosen.error();
  const auto& [key_id, key] = chosen.value();

  std::string nonce = request.nonce();
  if (nonce.empty()) {
    nonce.resize(nonce_bytes(algorithm));
    randombytes_buf(nonce.data(), nonce.size());
  } else if (nonce.size() != nonce_bytes(algorithm)) {
    return Error::out_of_range("nonce", fmt::format("{} bytes for this algorithm", nonce_bytes(algorithm)),
                               fmt::format("{} bytes", nonce.size()));
  }
  if (Status s = context.check(); !s.ok()) return s;

  std::string header;
  header.push_back(static_cast<char>(kEnvelopeVersion));
  header.push_back(static_cast<char>(algorithm));
  header.push_back(static_cast<char>(key_id.size()));
  header += key_id;
  const std::string aad = header + request.associated_data();
  std::string sealed;
  const bool ok = algorithm == kAlgorithmAesGcm
                      ? aes_gcm_seal(key, nonce, aad, request.plaintext(), kAeadTagBytes, &sealed)
                      : xchacha20poly1305_seal(key, nonce, aad, request.plaintext(), &sealed);
  if (!ok) return Error::internal("encryption failed");
  std::string* envelope = response->mutable_envelope();
  envelope->reserve(header.size() + nonce.size() + sealed.size());
  *envelope = header;
  *envelope += nonce;
  *envelope += sealed;
  response->set_key_id(key_id);
  return Status::Ok();
}

Status aead_decrypt(const v1::AeadDecryptRequest& request, v1::AeadDecryptResponse* response, TaskContext& context,
                    const AeadKeyRing& keys, const AeadLimits& limits) {
  const std::string_view envelope = request.envelope();
  if (envelope.size() > limits.max_plaintext_bytes + 256) {
    return Error::out_of_range("envelope", fmt::format("<= {} bytes", limits.max_plaintext_bytes + 256),
                               fmt::format("{} bytes", envelope.size()));
  }
  auto malformed = [](std::string problem) {
    return Error::invalid("envelope", "MALFORMED_ENVELOPE", "envelope is malformed: " + problem);
  };
  if (envelope.size() < 3) return malformed("shorter than its 3-byte header");
  if (static_cast<uint8_t>(envelope[0]) != kEnvelopeVersion) {
    return malformed(fmt::format("version {} is not supported (expected 1)", static_cast<uint8_t>(envelope[0])));
  }
  const uint8_t algorithm = static_cast<uint8_t>(envelope[1]);
  if (algorithm != kAlgorithmAesGcm && algorithm != kAlgorithmXChaCha) {
    return malformed(fmt::format("algorithm {} is unknown", algorithm));
  }
  const size_t id_bytes = static_cast<uint8_t>(envelope[2]);
  const size_t header_bytes = 3 + id_bytes;
  if (id_bytes > kMaxKeyIdBytes || envelope.size() < header_bytes + nonce_bytes(algorithm) + kAeadTagBytes) {
    return malformed("truncated");
  }
  const std::string key_id(envelope.substr(3, id_bytes));
  if (!key_id.empty() && !valid_key_id(key_id)) return malformed("the key id has characters outside A-Z a-z 0-9 . _ -");
  if (key_id.empty() && request.key().empty()) {
    return Error::invalid("key", "KEY_REQUIRED", "envelope was sealed with a request key; pass the same key");
  }
  if (!key_id.empty() && !request.key().empty()) {
    return Error::invalid("key", "KEY_NOT_EXPECTED", "envelope names a key ring key; leave key empty");
  }
  auto chosen = choose_key(key_id, request.key(), keys, limits);
  if (!chosen.ok()) return chosen.error();
  if (Status s = context.check(); !s.ok()) return s;

  const std::string_view nonce = envelope.substr(header_bytes, nonce_bytes(algorithm));
  const std::string_view sealed = envelope.substr(header_bytes + nonce.size());
  const std::string aad = std::string(envelope.substr(0, header_bytes)) + request.associated_data();
  const std::string& key = chosen.value().second;
  std::string* plaintext = response->mutable_plaintext();
  const bool ok = algorithm == kAlgorithmAesGcm ? aes_gcm_open(key, nonce, aad, sealed, kAeadTagBytes, plaintext)
                                                : xchacha20poly1305_open(key, nonce, aad, sealed, plaintext);
  if (!ok) return decryption_failed();
  response->set_key_id(key_id);
  response->set_key_rotated(!key_id.empty() && key_id != keys.primary_id());
  return Status::Ok();
}

}  // namespace heavylift
