#include "tasks/crypto/digest.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include <memory>

#include "tasks/crypto/base64.h"

namespace heavylift {
namespace {

Status check_input(const char* field, size_t size, const DigestLimits& limits) {
  if (size <= limits.max_input_bytes) return Status::Ok();
  return Error::out_of_range(field, fmt::format("<= {} bytes", limits.max_input_bytes), fmt::format("{} bytes", size));
}

// SHA-512 for HASH_ALGORITHM_SHA512, SHA-256 for the default and SHA256.
Result<bool> is_sha512(v1::HashAlgorithm algorithm, bool allow_blake2b) {
  switch (algorithm) {
    case v1::HASH_ALGORITHM_DEFAULT:
    case v1::HASH_ALGORITHM_SHA256: return false;
    case v1::HASH_ALGORITHM_SHA512: return true;
    case v1::HASH_ALGORITHM_BLAKE2B:
      if (allow_blake2b) return false;
      [[fallthrough]];
    default:
      return Error::invalid("algorithm", "UNSUPPORTED_ALGORITHM",
                            fmt::format("algorithm {} is not supported here (use SHA256 or SHA512)",
                                        v1::HashAlgorithm_Name(algorithm)));
  }
}

const unsigned char* bytes(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

}  // namespace

std::string hmac_sha2(bool sha512, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(sha512 ? EVP_sha512() : EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(), out,
       &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

bool hkdf_sha2(bool sha512, std::string_view input_key, std::string_view salt, std::string_view info, size_t length,
               std::string* out) {
  const size_t hash_bytes = sha512 ? 64 : 32;
  if (length == 0 || length > 255 * hash_bytes) return false;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                  EVP_PKEY_CTX_free);
  out->resize(length);
  size_t out_length = length;
  const bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
                  EVP_PKEY_CTX_set_hkdf_md(ctx.get(), sha512 ? EVP_sha512() : EVP_sha256()) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), bytes(salt), static_cast<int>(salt.size())) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), bytes(input_key), static_cast<int>(input_key.size())) == 1 &&
                  EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), bytes(info), static_cast<int>(info.size())) == 1 &&
                  EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out->data()), &out_length) == 1;
  ERR_clear_error();
  return ok && out_length == length;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Status hash_task(const v1::HashRequest& request, v1::HashResponse* response, TaskContext& context,
                 const DigestLimits& limits) {
  if (Status s = check_input("data", request.data().size(), limits); !s.ok()) return s;
  if (Status s = context.check(); !s.ok()) return s;
  if (request.algorithm() == v1::HASH_ALGORITHM_BLAKE2B) {
    const uint32_t length = request.output_length() != 0 ? request.output_length() : 32;
    if (length < crypto_generichash_BYTES_MIN || length > crypto_generichash_BYTES_MAX) {
      return Error::out_of_range("output_length", "in 16..64 bytes", fmt::format("{} bytes", length));
    }
    if (request.key().size() > crypto_generichash_KEYBYTES_MAX) {
      return Error::out_of_range("key", "<= 64 bytes", fmt::format("{} bytes", request.key().size()));
    }
    std::string* digest = response->mutable_digest();
    digest->resize(length);
    crypto_generichash(reinterpret_cast<unsigned char*>(digest->data()), length, bytes(request.data()),
                       request.data().size(), request.key().empty() ? nullptr : bytes(request.key()),
                       request.key().size());
    return Status::Ok();
  }
  auto sha512 = is_sha512(request.algorithm(), false);
  if (!sha512.ok()) return sha512.error();
  if (request.output_length() != 0 || !request.key().empty()) {
    return Error::invalid("output_length", "UNSUPPORTED_OPTION", "output_length and key apply to BLAKE2b only");
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(request.data().data(), request.data().size(), out, &size, sha512.value() ? EVP_sha512() : EVP_sha256(),
             nullptr);
  response->set_digest(reinterpret_cast<char*>(out), size);
  return Status::Ok();
}

Status hmac_task(const v1::HmacRequest& request, v1::HmacResponse* response, TaskContext& context,
                 const DigestLimits& limits) {
  if (Status s = check_input("data", request.data().size(), limits); !s.ok()) return s;
  if (request.key().empty()) return Error::invalid("key", "EMPTY", "key is empty");
  if (request.key().size() > 1024) return Error::out_of_range("key", "<= 1024 bytes", fmt::format("{} bytes", request.key().size()));
  auto sha512 = is_sha512(request.algorithm(), false);
  if (!sha512.ok()) return sha512.error();
  if (Status s = context.check(); !s.ok()) return s;
  response->set_mac(hmac_sha2(sha512.value(), request.key(), request.data()));
  if (!request.expected().empty()) response->set_match(constant_time_equal(response->mac(), request.expected()));
  return Status::Ok();
}

Status hkdf_task(const v1::HkdfRequest& request, v1::HkdfResponse* response, TaskContext& context,
                 const DigestLimits& limits) {
  (void)context;
  auto sha512 = is_sha512(request.algorithm(), false);
  if (!sha512.ok()) return sha512.error();
  const size_t max_length = 255 * (sha512.value() ? 64 : 32);
  if (request.length() == 0 || request.length() > max_length) {
    return Error::out_of_range("length", fmt::format("in 1..{} bytes", max_length),
                               fmt::format("{} bytes", request.length()));
  }
  if (Status s = check_input("input_key", request.input_key().size(), limits); !s.ok()) return s;
  if (!hkdf_sha2(sha512.value(), request.input_key(), request.salt(), request.info(), request.length(),
                 response->mutable_key())) {
    return Error::internal("HKDF failed in OpenSSL");
  }
  return Status::Ok();
}

Status compare_task(const v1::CompareRequest& request, v1::CompareResponse* response, TaskContext& context,
                    const DigestLimits& limits) {
  (void)context;
  if (Status s = check_input("a", request.a().size(), limits); !s.ok()) return s;
  if (Status s = check_input("b", request.b().size(), limits); !s.ok()) return s;
  response->set_equal(constant_time_equal(request.a(), request.b()));
  return Status::Ok();
}

Status random_task(const v1::RandomRequest& request, v1::RandomResponse* response, TaskContext& context,
                   const DigestLimits& limits) {
  (void)context;
  const uint32_t length = request.length() != 0 ? request.length() : 32;
  if (length > limits.max_random_bytes) {
    return Error::out_of_range("length", fmt::format("in 1..{} bytes", limits.max_random_bytes),
                               fmt::format("{} bytes", length));
  }
  std::string* data = response->mutable_data();
  data->resize(length);
  randombytes_buf(data->data(), data->size());
  response->set_token(base64url_encode(*data));
  return Status::Ok();
}

}  // namespace heavylift
