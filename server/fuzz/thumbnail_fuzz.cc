// libFuzzer target for image.thumbnail on arbitrary bytes: format sniffing,
// the header-only pixel check and decoding must fail with an error value,
// never crash. Decoders run inside libvips, which is not instrumented, so
// coverage guides mutations only through heavylift's own code.
#include <vips/vips8>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tasks/image/thumbnail.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (VIPS_INIT((*argv)[0]) != 0) std::abort();
  heavylift::configure_vips_for_untrusted_input();
  // Decoder warnings are expected on fuzzed input; keep the output readable.
  g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
                    [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {}, nullptr);
  (void)argc;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  heavylift::v1::ThumbnailRequest request;
  request.mutable_input()->set_data(reinterpret_cast<const char*>(data), size);
  request.add_widths(32);
  request.add_widths(8);

  heavylift::ImageLimits limits;
  // Small bounds keep each run fast and exercise the pixel check.
  limits.max_input_pixels = 1 << 20;
  const heavylift::BlobReader blobs("");
  auto context = heavylift::TaskContext::unbounded("fuzz");
  heavylift::v1::ThumbnailResponse response;
  const heavylift::Status status = heavylift::thumbnail(request, &response, *context, limits, blobs);

  if (status.ok() && response.thumbnails_size() != 2) std::abort();
  if (!status.ok() && status.error().code == heavylift::Code::kInternal) {
    // Encoding a decoded image must not fail.
    std::abort();
  }
  return 0;
}
