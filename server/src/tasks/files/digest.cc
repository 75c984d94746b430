#include "tasks/files/digest.h"

#include <fmt/format.h>

#include <string>

namespace heavylift {
namespace {

std::string to_hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    hex[2 * i] = kDigits[bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return hex;
}

Result<EVP_MD_CTX*> new_evp(const char* name) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const EVP_MD* md = EVP_get_digestbyname(name);
  if (context == nullptr || md == nullptr || EVP_DigestInit_ex(context, md, nullptr) != 1) {
    EVP_MD_CTX_free(context);
    return Error::internal(fmt::format("OpenSSL cannot start digest {}", name));
  }
  return context;
}

std::string finish_evp(EVP_MD_CTX* context) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(context, digest, &size);
  return to_hex(digest, size);
}

}  // namespace

Result<std::unique_ptr<StreamDigester>> StreamDigester::create(const v1::DigestSelection& selection) {
  const bool all = !selection.sha256() && !selection.sha512() && !selection.blake2b512() &&
                   !selection.xxh3_64() && !selection.xxh128();
  std::unique_ptr<StreamDigester> digester(new StreamDigester());

  const std::pair<bool, std::pair<const char*, EVP_MD_CTX**>> evp_digests[] = {
      {all || selection.sha256(), {"SHA256", &digester->sha256_}},
      {all || selection.sha512(), {"SHA512", &digester->sha512_}},
      {all || selection.blake2b512(), {"BLAKE2B512", &digester->blake2b_}},
  };
  for (const auto& [wanted, target] : evp_digests) {
    if (!wanted) continue;
    Result<EVP_MD_CTX*> context = new_evp(target.first);
    if (!context.ok()) return context.error();
    *target.second = context.value();
  }
  if (all || selection.xxh3_64()) {
    digester->xxh3_64_ = XXH3_createState();
    XXH3_64bits_reset(digester->xxh3_64_);
  }
  if (all || selection.xxh128()) {
    digester->xxh128_ = XXH3_createState();
    XXH3_128bits_reset(digester->xxh128_);
  }
  return digester;
}

StreamDigester::~StreamDigester() {
  EVP_MD_CTX_free(sha256_);
  EVP_MD_CTX_free(sha512_);
  EVP_MD_CTX_free(blake2b_);
  XXH3_freeState(xxh3_64_);
  XXH3_freeState(xxh128_);
}

void StreamDigester::update(std::string_view bytes) {
  if (sha256_ != nullptr) EVP_DigestUpdate(sha256_, bytes.data(), bytes.size());
  if (sha512_ != nullptr) EVP_DigestUpdate(sha512_, bytes.data(), bytes.size());
  if (blake2b_ != nullptr) EVP_DigestUpdate(blake2b_, bytes.data(), bytes.size());
  if (xxh3_64_ != nullptr) XXH3_64bits_update(xxh3_64_, bytes.data(), bytes.size());
  if (xxh128_ != nullptr) XXH3_128bits_update(xxh128_, bytes.data(), bytes.size());
}

void StreamDigester::finish(v1::Digests* out) {
  if (sha256_ != nullptr) out->set_sha256(finish_evp(sha256_));
  if (sha512_ != nullptr) out->set_sha512(finish_evp(sha512_));
  if (blake2b_ != nullptr) out->set_blake2b512(finish_evp(blake2b_));
  if (xxh3_64_ != nullptr) {
    XXH64_canonical_t canonical;
    XXH64_canonicalFromHash(&canonical, XXH3_64bits_digest(xxh3_64_));
    out->set_xxh3_64(to_hex(canonical.digest, sizeof(canonical.digest)));
  }
  if (xxh128_ != nullptr) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(xxh128_));
    out->set_xxh128(to_hex(canonical.digest, sizeof(canonical.digest)));
  }
}

Result<v1::Digests> digest_bytes(std::string_view bytes, const v1::DigestSelection& selection) {
  Result<std::unique_ptr<StreamDigester>> digester = StreamDigester::create(selection);
  if (!digester.ok()) return digester.error();
  digester.value()->update(bytes);
  v1::Digests digests;
  digester.value()->finish(&digests);
  return digests;
}

}  // namespace heavylift
