// Task image.thumbnail: one decode with shrink-on-load, one encode per width.
#pragma once

#include <cstdint>

#include "core/blob.h"
#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/image.pb.h"
#include "tasks/image/limits.h"
#include "tasks/image/vips_support.h"

namespace heavylift {

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
