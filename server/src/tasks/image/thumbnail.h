// Task image.thumbnail: one decode with shrink-on-load, one encode per width.
#pragma once

#include <cstdint>

#include "core/blob.h"
#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/image.pb.h"

namespace heavylift {

struct ImageLimits {
  uint64_t max_input_bytes = 64ull << 20;    // bytes of the encoded source
  uint64_t max_input_pixels = 100'000'000;   // width x height of the decoded page
  uint32_t max_width = 8192;                 // pixels, per output
  uint32_t max_outputs = 16;                 // widths per call
};

// Sets process-wide libvips state for untrusted input: blocks loaders that
// libvips marks untrusted, disables the operation cache (every request has
// fresh bytes) and runs each pipeline on the calling thread, since the
// executor already spreads calls over the cores. Call once after VIPS_INIT.
void configure_vips_for_untrusted_input();

// Reads the header to check the format and the pixel bound, decodes once at
// the largest requested width (shrink-on-load for JPEG and WebP), orients the
// image upright from EXIF unless auto_orient is false, then resizes and
// encodes each width. Metadata (EXIF, XMP, ICC) is stripped from outputs.
//
// Errors: INVALID_ARGUMENT naming the field for widths, quality, input bytes,
// pixel count, outputs larger than the encoder allows, unsupported formats
// and corrupt or truncated data. A libvips decoder warning counts as corrupt
// data, as in sharp's default. The call fails with DEADLINE_EXCEEDED,
// CANCELLED or UNAVAILABLE when `context` ends, which is checked between
// steps and while libvips computes pixels, but not inside a progressive
// JPEG's first decode pass.
Status thumbnail(const v1::ThumbnailRequest& request, v1::ThumbnailResponse* response,
                 TaskContext& context, const ImageLimits& limits, const BlobReader& blobs);

}  // namespace heavylift
