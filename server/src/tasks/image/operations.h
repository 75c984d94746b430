// The operations of image.transform, applied page by page to a decoded
// image, and the checks that run on them before anything is decoded.
//
// Thread-safety: functions are reentrant; a Frames value belongs to one call.
#pragma once

#include <vips/vips8>

#include <optional>
#include <string>
#include <vector>

#include "core/blob.h"
#include "core/error.h"
#include "heavylift/v1/image.pb.h"
#include "tasks/image/limits.h"
#include "tasks/image/vips_support.h"

namespace heavylift {

// A decoded image: one page, or every page of an animation, all the same
// size, with the animation's frame delays (milliseconds) and loop count.
struct Frames {
  std::vector<vips::VImage> pages;
  std::vector<int> delays;
  int loop = 0;

  int width() const { return pages.front().width(); }
  int height() const { return pages.front().height(); }
};

// Splits an animated strip (pages stacked vertically) into Frames.
Frames split_pages(const vips::VImage& strip, int pages);

// The sizes one Resize produces from a width x height image.
struct ResizePlan {
  // Size after scaling, before the crop (cover) or the padding (contain).
  int scaled_width = 0;
  int scaled_height = 0;
  // Final size.
  int width = 0;
  int height = 0;
  v1::Fit fit = v1::FIT_COVER;
  v1::Gravity position = v1::GRAVITY_CENTRE;
  // False when without_enlargement keeps the image as it is.
  bool resizes = true;
};

// Computes the plan, or INVALID_ARGUMENT naming `field`.width/.height when a
// side is missing, above `image.max_width` or the result above
// `image.max_output_pixels`.
Result<ResizePlan> plan_resize(const v1::Resize& resize, int width, int height, const std::string& field,
                               const ImageLimits& limits);

// Crops (cover) or pads (contain) an image already scaled to the plan's
// scaled size, to the plan's final size.
vips::VImage finish_resize(const vips::VImage& scaled, const ResizePlan& plan, const v1::Resize& resize);

// Scales and finishes one page.
vips::VImage apply_resize(const vips::VImage& image, const ResizePlan& plan, const v1::Resize& resize);

// Scales `image` to exactly width x height with libvips' Lanczos-3 resize,
// premultiplying alpha so transparent pixels do not bleed into opaque ones.
vips::VImage scale_to(const vips::VImage& image, int width, int height);

// How much larger, on each side, a scaled image must be than a smaller
// resize for that resize to start from it instead of the full image.
inline constexpr int kCascadeMinFactor = 2;

// Chooses a cascade for the resizes of one image of width x height: for
// each plan, the index of the plan whose scaled image it is resized from,
// or -1 to resize from the full image. A source is the smallest other plan
// whose scaled image keeps the full image's aspect ratio (to within a pixel
// of rounding) and is at least kCascadeMinFactor times as wide and as high
// as the plan's scaled size. Absent plans, and plans that do not resize,
// are neither sources nor targets. Sources are always strictly larger than
// their targets, so following sources never loops.
std::vector<int> choose_cascade_sources(const std::vector<std::optional<ResizePlan>>& plans, int width, int height);

// Checks the options of one operation that do not depend on the image
// (ranges, colours, required fields). `field` is "operations[i]".
Status check_operation(const v1::Operation& operation, const std::string& field, const ImageLimits& limits);

// Checks a colour: each channel 0..255.
Status check_color(const v1::Color& color, const std::string& field);

// State an operation may need beyond the image.
struct OperationEnvironment {
  const ImageLimits& limits;
  const BlobReader& blobs;
  const ImageCall& call;
  v1::CorruptInputPolicy corrupt_input;
  std::vector<std::string>* warnings;
};

// Applies `operation` to every page. Checks that depend on the image (an
// extract region outside it, a result above `image.max_output_pixels`) fail
// with INVALID_ARGUMENT naming `field`.
Status apply_operation(Frames* frames, const v1::Operation& operation, const std::string& field,
                       const OperationEnvironment& environment);

// Returns `color` (or, when absent, transparent black for images with alpha
// and black otherwise) as one value per band of `image`.
std::vector<double> background_for(const vips::VImage& image, const v1::Color* color);

}  // namespace heavylift
