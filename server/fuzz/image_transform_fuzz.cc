// libFuzzer target for image.transform, image.metadata and image.analyze on
// arbitrary bytes. The first byte chooses operations and output formats, so
// mutations reach the operation and encoder paths as well as sniffing,
// header checks and decoding. The rest is the image. Every call must return
// OK or an error value, never crash. Decoders run inside libvips, which is
// not instrumented, so coverage guides mutations only through heavylift's
// own code.
#include <vips/vips8>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tasks/image/transform.h"
#include "tasks/image/vips_support.h"

namespace {

void add_operations(uint8_t choice, heavylift::v1::TransformRequest* request) {
  if (choice & 1) {
    auto* resize = request->add_operations()->mutable_resize();
    resize->set_width(24);
    resize->set_height(16);
    resize->set_fit(static_cast<heavylift::v1::Fit>(1 + (choice >> 5) % 5));
  }
  if (choice & 2) request->add_operations()->mutable_rotate()->set_angle(choice & 16 ? 90 : 33);
  if (choice & 4) request->add_operations()->mutable_trim();
  if (choice & 8) request->add_operations()->mutable_modulate()->set_hue(120);
}

}  // namespace

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
  if (size < 1) return 0;
  const uint8_t choice = data[0];
  const std::string image(reinterpret_cast<const char*>(data + 1), size - 1);

  heavylift::ImageLimits limits;
  // Small bounds keep each run fast and exercise the limit checks.
  limits.max_input_pixels = 1 << 20;
  limits.max_output_pixels = 1 << 20;
  limits.max_frames = 8;
  const heavylift::BlobReader blobs("");
  auto context = heavylift::TaskContext::unbounded("fuzz");

  heavylift::v1::TransformRequest request;
  request.mutable_input()->set_data(image);
  request.set_corrupt_input(choice & 128 ? heavylift::v1::CORRUPT_INPUT_POLICY_WARN
                                         : heavylift::v1::CORRUPT_INPUT_POLICY_FAIL);
  add_operations(choice, &request);
  request.add_outputs()->set_format(heavylift::v1::OUTPUT_FORMAT_PNG);
  auto* second = request.add_outputs();
  second->set_format(choice & 64 ? heavylift::v1::OUTPUT_FORMAT_WEBP : heavylift::v1::OUTPUT_FORMAT_GIF);
  second->mutable_resize()->set_width(8);
  heavylift::v1::TransformResponse response;
  const heavylift::Status status = heavylift::transform(request, &response, *context, limits, blobs);
  if (status.ok() && response.outputs_size() != 2) std::abort();

  heavylift::v1::MetadataRequest metadata_request;
  metadata_request.mutable_input()->set_data(image);
  heavylift::v1::MetadataResponse metadata_response;
  (void)heavylift::image_metadata(metadata_request, &metadata_response, *context, limits, blobs);

  heavylift::v1::AnalyzeRequest analyze_request;
  analyze_request.mutable_input()->set_data(image);
  heavylift::v1::AnalyzeResponse analyze_response;
  const heavylift::Status analyzed = heavylift::analyze(analyze_request, &analyze_response, *context, limits, blobs);
  if (analyzed.ok() && analyze_response.blurhash().size() != 28) std::abort();
  return 0;
}
