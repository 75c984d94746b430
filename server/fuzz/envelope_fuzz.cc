// libFuzzer target for the AEAD envelope reader and the key ring parser:
// arbitrary envelopes must open to an error or to a plaintext, never crash,
// and an envelope that opens must have been sealed with the ring's key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <sodium.h>

#include "tasks/crypto/aead.h"

namespace {

const heavylift::AeadKeyRing& ring() {
  static const heavylift::AeadKeyRing keys = [] {
    if (sodium_init() < 0) std::abort();
    // "k1" and "k2", 32 bytes of 0x01 and 0x02, in base64url.
    return heavylift::AeadKeyRing::parse(
               "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI", "keys")
        .value();
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto context = heavylift::TaskContext::unbounded();
  heavylift::AeadLimits limits;
  limits.max_plaintext_bytes = 1 << 16;

  heavylift::v1::AeadDecryptRequest request;
  request.set_envelope(std::string(bytes));
  request.set_associated_data("fuzz");
  heavylift::v1::AeadDecryptResponse response;
  const heavylift::Status status = heavylift::aead_decrypt(request, &response, *context, ring(), limits);
  if (status.ok() && ring().find(response.key_id()) == nullptr) std::abort();

  // Whatever opens must seal and open again with the same key.
  if (status.ok()) {
    heavylift::v1::AeadEncryptRequest again;
    again.set_plaintext(response.plaintext());
    again.set_key_id(response.key_id());
    heavylift::v1::AeadEncryptResponse sealed;
    if (!heavylift::aead_encrypt(again, &sealed, *context, ring(), limits).ok()) std::abort();
  }

  (void)heavylift::AeadKeyRing::parse(bytes, "keys");
  return 0;
}
