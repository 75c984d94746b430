// Task image.transform: one decode, an ordered list of operations, and many
// encoded outputs. Task image.metadata and image.analyze read the same
// sources with the same limits.
#pragma once

#include <string>
#include <string_view>

#include "core/blob.h"
#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/image.pb.h"
#include "tasks/image/limits.h"
#include "tasks/image/vips_support.h"

namespace heavylift {

// Checks every bound before decoding (operation and output counts, sizes,
// options, and the source's pixels and frames from its header), decodes once
// (shrinking on load when the first operation is a resize of a single page),
// orients from EXIF unless auto_orient is false, converts to sRGB unless
// to_srgb is false, applies the operations in order to every page, then
// encodes each output.
//
// Errors: INVALID_ARGUMENT naming the field (for example
// "operations[2].resize.width" or "outputs[1].webp.quality") and the bound;
// CORRUPT_INPUT unless the corrupt-input policy is WARN; DEADLINE_EXCEEDED,
// CANCELLED or UNAVAILABLE when the call ends, checked between steps and
// while libvips computes pixels.
Status transform(const v1::TransformRequest& request, v1::TransformResponse* response, TaskContext& context,
                 const ImageLimits& limits, const BlobReader& blobs);

// Checks the counts and options of `request`, which do not depend on the
// source. transform() runs this first.
Status check_transform_request(const v1::TransformRequest& request, const ImageLimits& limits);

// Runs transform() on `bytes`, a source already read (for example streamed
// in), instead of `request.input`, within `call`'s time budget. `field` names
// the source in errors. The request must have passed
// check_transform_request().
Status transform_source(const v1::TransformRequest& request, std::string_view bytes, const std::string& field,
                        v1::TransformResponse* response, const ImageCall& call, const ImageLimits& limits,
                        const BlobReader& blobs);

// Reads the source's header and returns its metadata without decoding pixels.
// Errors as for transform's input.
Status image_metadata(const v1::MetadataRequest& request, v1::MetadataResponse* response, TaskContext& context,
                      const ImageLimits& limits, const BlobReader& blobs);

// Decodes the first page shrunk to at most 100 pixels on its longest side
// and returns its dominant colour, BlurHash, ThumbHash and perceptual hash.
// Errors as for transform's input, and INVALID_ARGUMENT for BlurHash
// component counts outside 1..9.
Status analyze(const v1::AnalyzeRequest& request, v1::AnalyzeResponse* response, TaskContext& context,
               const ImageLimits& limits, const BlobReader& blobs);

}  // namespace heavylift
