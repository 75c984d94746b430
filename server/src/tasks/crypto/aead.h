// Authenticated encryption (AES-256-GCM on OpenSSL, XChaCha20-Poly1305 on
// libsodium) in a versioned envelope that names its key, and the key ring the
// keys come from.
//
// Envelope, version 1 (all lengths in bytes):
//   offset 0       version          0x01
//   offset 1       algorithm        0x01 AES-256-GCM, 0x02 XChaCha20-Poly1305
//   offset 2       key id length L  0..64 (0: a key given in the request)
//   offset 3       key id           L bytes of [A-Za-z0-9._-]
//   offset 3+L     nonce            12 (AES-256-GCM) or 24 (XChaCha20-Poly1305)
//   then           ciphertext       as long as the plaintext
//   last 16        tag
// The AEAD's associated data is the envelope header (version through key id)
// followed by the caller's associated data, so a changed header fails to open.
//
// Thread-safety: an AeadKeyRing is immutable once loaded; the functions keep
// no state.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/crypto.pb.h"

namespace heavylift {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadTagBytes = 16;
inline constexpr uint8_t kEnvelopeVersion = 1;

struct AeadLimits {
  uint64_t max_plaintext_bytes = 64u << 20;
  // Lets requests carry raw keys (AeadEncryptRequest.key). Off by default:
  // keys belong in the key ring, not in every request.
  bool allow_request_keys = false;
};

// Named 32-byte keys, one of them primary (used when a request names none).
class AeadKeyRing {
 public:
  // Parses "id:base64key,id:base64key" (standard or URL-safe base64, with or
  // without padding); the first entry is the primary. Empty text gives an
  // empty ring. Errors are INVALID_ARGUMENT naming `field`; the key bytes
  // never appear in a message.
  static Result<AeadKeyRing> parse(std::string_view text, std::string_view field);
  // Reads a key file: one "id base64key" or "id:base64key" per line, '#'
  // comments, the line "primary <id>" to choose the primary (else the first
  // key). At most 64 KiB.
  static Result<AeadKeyRing> load_file(const std::string& path);

  // Adds a key; fails on a duplicate id, a bad id or a key that is not 32 bytes.
  Status add(std::string id, std::string key, std::string_view field);
  Status set_primary(const std::string& id);
  // Adds every key of `other`; the primary stays this ring's unless it is
  // empty. Fails on a duplicate id.
  Status merge(const AeadKeyRing& other, std::string_view field);

  const std::string* find(std::string_view id) const;
  const std::string& primary_id() const { return primary_; }
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> keys_;
  std::string primary_;
};

// crypto.aead.encrypt / crypto.aead.decrypt.
Status aead_encrypt(const v1::AeadEncryptRequest& request, v1::AeadEncryptResponse* response, TaskContext& context,
                    const AeadKeyRing& keys, const AeadLimits& limits);
Status aead_decrypt(const v1::AeadDecryptRequest& request, v1::AeadDecryptResponse* response, TaskContext& context,
                    const AeadKeyRing& keys, const AeadLimits& limits);

// The raw primitives, exposed for the known-answer tests. `sealed` is
// ciphertext || tag. Open returns false when authentication fails or a size
// is unsupported. AES-GCM takes 16, 24 or 32-byte keys, nonces
// of 1..128 bytes (the most OpenSSL takes) and tags of 4..16 bytes (the
// envelope uses 32, 12 and 16).
bool aes_gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
                  size_t tag_bytes, std::string* sealed);
bool aes_gcm_open(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view sealed,
                  size_t tag_bytes, std::string* plaintext);
bool xchacha20poly1305_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                            std::string_view plaintext, std::string* sealed);
bool xchacha20poly1305_open(std::string_view key, std::string_view nonce, std::string_view aad,
                            std::string_view sealed, std::string* plaintext);
// ChaCha20-Poly1305 with a 12-byte nonce (RFC 8439), for the same tests.
bool chacha20poly1305_open(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view sealed, std::string* plaintext);

}  // namespace heavylift
