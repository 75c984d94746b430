// Streaming digests: SHA-256, SHA-512 and BLAKE2b-512 through OpenSSL 3's
// EVP interface, and XXH3-64 and XXH3-128 through libxxhash, all fed from
// one update() call per chunk.
//
// Thread-safety: a StreamDigester is used by one thread at a time.
#pragma once

#include <openssl/evp.h>
#include <xxhash.h>

#include <memory>
#include <string_view>

#include "core/error.h"
#include "heavylift/v1/files.pb.h"

namespace heavylift {

class StreamDigester {
 public:
  // Computes the digests named in `selection`, or every digest when
  // `selection` names none. Returns INTERNAL when OpenSSL lacks an algorithm.
  static Result<std::unique_ptr<StreamDigester>> create(const v1::DigestSelection& selection);
  ~StreamDigester();

  StreamDigester(const StreamDigester&) = delete;
  StreamDigester& operator=(const StreamDigester&) = delete;

  // Feeds the next bytes.
  void update(std::string_view bytes);

  // Writes the lower-case hex digests into `*out`. Call once, after the last
  // update(). XXH3 values are big-endian hex, as `xxhsum -H3` and `-H2` print.
  void finish(v1::Digests* out);

 private:
  StreamDigester() = default;

  EVP_MD_CTX* sha256_ = nullptr;
  EVP_MD_CTX* sha512_ = nullptr;
  EVP_MD_CTX* blake2b_ = nullptr;
  XXH3_state_t* xxh3_64_ = nullptr;
  XXH3_state_t* xxh128_ = nullptr;
};

// Digests `bytes` in one call.
Result<v1::Digests> digest_bytes(std::string_view bytes, const v1::DigestSelection& selection);

}  // namespace heavylift
