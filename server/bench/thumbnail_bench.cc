// Micro-benchmark of image.thumbnail on a real photograph: one decode with
// shrink-on-load and three JPEG outputs.
#include <benchmark/benchmark.h>
#include <vips/vips8>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tasks/image/thumbnail.h"

namespace {

constexpr char kPhoto[] = "/usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg";

void BM_ThumbnailThreeWidths(benchmark::State& state) {
  if (!std::filesystem::exists(kPhoto)) {
    state.SkipWithError("mate-backgrounds photo not found; install Debian's mate-backgrounds");
    return;
  }
  static const bool initialized = [] {
    if (VIPS_INIT("heavylift_microbench") != 0) return false;
    heavylift::configure_vips_for_untrusted_input();
    return true;
  }();
  if (!initialized) {
    state.SkipWithError("libvips failed to start");
    return;
  }
  std::ifstream in(kPhoto, std::ios::binary);
  heavylift::v1::ThumbnailRequest request;
  request.mutable_input()->set_data(std::string(std::istreambuf_iterator<char>(in), {}));
  for (uint32_t width : {320u, 640u, 1280u}) request.add_widths(width);

  const heavylift::ImageLimits limits;
  const heavylift::BlobReader blobs("");
  auto context = heavylift::TaskContext::unbounded();
  for (auto _ : state) {
    heavylift::v1::ThumbnailResponse response;
    const auto status = heavylift::thumbnail(request, &response, *context, limits, blobs);
    if (!status.ok()) state.SkipWithError(status.error().message.c_str());
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_ThumbnailThreeWidths)->Unit(benchmark::kMillisecond);

}  // namespace
