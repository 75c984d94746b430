#include "tasks/image/thumbnail.h"

#include "tasks/image/vips_support.h"

#include <fmt/format.h>
#include <vips/vips8>

#include <algorithm>
#include <cmath>
#include <string>

namespace heavylift {
namespace {

constexpr uint32_t kDefaultQuality = 80;

Status check_request(const v1::ThumbnailRequest& request, const ImageLimits& limits) {
  if (request.widths().empty()) {
    return Error::invalid("widths", "MISSING", "widths is empty: give at least one output width");
  }
  if (static_cast<uint32_t>(request.widths_size()) > limits.max_outputs) {
    return Error::out_of_range("widths", fmt::format("at most {} entries", limits.max_outputs),
                               fmt::format("{} entries", request.widths_size()));
  }
  for (int i = 0; i < request.widths_size(); ++i) {
    const uint32_t width = request.widths(i);
    if (width < 1 || width > limits.max_width) {
      return Error::out_of_range(fmt::format("widths[{}]", i),
                                 fmt::format("in 1..{} pixels", limits.max_width),
                                 fmt::format("{}", width));
    }
  }
  if (request.quality() > 100) {
    return Error::out_of_range("quality", "in 1..100 (0 means 80)",
                               fmt::format("{}", request.quality()));
  }
  if (request.format() != v1::IMAGE_FORMAT_UNSPECIFIED && request.format() != v1::IMAGE_FORMAT_JPEG &&
      request.format() != v1::IMAGE_FORMAT_WEBP) {
    return Error::out_of_range("format", "IMAGE_FORMAT_JPEG or IMAGE_FORMAT_WEBP",
                               fmt::format("{}", static_cast<int>(request.format())));
  }
  return Status::Ok();
}

// Largest width or height each encoder writes: libjpeg's limit, and WebP's
// 14-bit dimension fields.
constexpr uint64_t kMaxJpegDimension = 65500;
constexpr uint64_t kMaxWebpDimension = 16383;

// Checks, before decoding, that every output fits its encoder: a very
// narrow or tall source can yield a thumbnail taller than the format allows.
// `display_width` and `display_height` are the source size after orientation.
Status check_output_sizes(const v1::ThumbnailRequest& request, v1::ImageFormat format,
                          uint64_t display_width, uint64_t display_height) {
  const bool webp = format == v1::IMAGE_FORMAT_WEBP;
  const uint64_t max_dimension = webp ? kMaxWebpDimension : kMaxJpegDimension;
  for (int i = 0; i < request.widths_size(); ++i) {
    const uint64_t width = std::min<uint64_t>(request.widths(i), display_width);
    const uint64_t height = (display_height * width + display_width - 1) / display_width;
    if (width > max_dimension || height > max_dimension) {
      return Error::out_of_range(
          fmt::format("widths[{}]", i),
          fmt::format("a width giving an output of at most {} x {} pixels ({})", max_dimension, max_dimension,
                      webp ? "the WebP limit" : "the JPEG limit"),
          fmt::format("{} -> {}x{} from a {}x{} source", request.widths(i), width, height, display_width,
                      display_height));
    }
  }
  return Status::Ok();
}

// Encodes `image` in `format`, with metadata stripped.
// Returns the largest JPEG shrink-on-load factor (1, 2, 4 or 8) that still
// decodes at least `target` pixels across `display_width`. libjpeg then
// scales in the DCT, so far fewer pixels are decoded and resized. libvips'
// thumbnail keeps a factor of 2 in reserve for its final resize; this gives
// up that bit of sharpness for speed, as sharp does by default.
int jpeg_shrink_factor(uint64_t display_width, uint32_t target) {
  int factor = 1;
  while (factor < 8 && display_width / (2 * static_cast<uint64_t>(factor)) >= target) factor *= 2;
  return factor;
}

std::string encode(const vips::VImage& image, v1::ImageFormat format, uint32_t quality) {
  VipsBlob* encoded = nullptr;
  if (format == v1::IMAGE_FORMAT_WEBP) {
    encoded = image.webpsave_buffer(
        vips::VImage::option()->set("Q", static_cast<int>(quality))->set("strip", true));
  } else {
    vips::VImage opaque = image;
    // JPEG has no alpha channel: flatten transparent pixels onto white.
    if (image.has_alpha()) opaque = image.flatten(vips::VImage::option()->set("background", 255.0));
    encoded = opaque.jpegsave_buffer(vips::VImage::option()
                                         ->set("Q", static_cast<int>(quality))
                                         ->set("strip", true)
                                         ->set("optimize_coding", true));
  }
  return take_blob(encoded);
}

}  // namespace

Status thumbnail(const v1::ThumbnailRequest& request, v1::ThumbnailResponse* response,
                 TaskContext& context, const ImageLimits& limits, const BlobReader& blobs) {
  if (Status s = check_request(request, limits); !s.ok()) return s;
  const uint32_t quality = request.quality() != 0 ? request.quality() : kDefaultQuality;
  const v1::ImageFormat format =
      request.format() == v1::IMAGE_FORMAT_WEBP ? v1::IMAGE_FORMAT_WEBP : v1::IMAGE_FORMAT_JPEG;
  const bool auto_orient = !request.has_auto_orient() || request.auto_orient();

  auto blob = blobs.read(request.input(), "input", limits.max_input_bytes);
  if (!blob.ok()) return blob.error();
  const std::string_view bytes = blob.value().bytes();

  // Errors about the image name the field that carried it.
  const std::string input_field = request.input().has_path() ? "input.path" : "input.data";
  const std::string input_size = fmt::format("{} bytes", bytes.size());

  auto opened = open_source(bytes, input_field, limits, /*all_pages=*/false);
  if (!opened.ok()) return opened.error();
  const Source& source = opened.value();
  const char* source_format = source.format.c_str();
  response->set_source_width(static_cast<uint32_t>(source.width));
  response->set_source_height(static_cast<uint32_t>(source.header.height()));
  response->set_source_format(source.format);
  response->set_orientation(static_cast<uint32_t>(source.orientation));

  // Orientations 5 to 8 turn the image by 90 or 270 degrees.
  const bool swaps = auto_orient && source.orientation >= 5;
  const uint64_t display_width = swaps ? static_cast<uint64_t>(source.page_height) : source.width;
  const uint64_t display_height = swaps ? source.width : static_cast<uint64_t>(source.page_height);
  if (Status s = check_output_sizes(request, format, display_width, display_height); !s.ok()) return s;

  const ImageCall call(context, limits.max_call_ms);
  if (Status s = call.check(); !s.ok()) return s;

  // Decode once at the largest width; smaller outputs are resized from it.
  const uint32_t largest_width = *std::max_element(request.widths().begin(), request.widths().end());
  vips::VImage largest;
  try {
    vips::VImage decoded;
    if (source.format == "jpeg") {
      // `bytes` outlives the image: copy_memory() below decodes it all.
      const vips::VImage loaded = vips::VImage::new_from_buffer(
          bytes.data(), bytes.size(), "",
          vips::VImage::option()
              ->set("shrink", jpeg_shrink_factor(display_width, largest_width))
              ->set("fail_on", VIPS_FAIL_ON_WARNING));
      decoded = loaded.thumbnail_image(static_cast<int>(largest_width), vips::VImage::option()
                                                                          ->set("height", VIPS_MAX_COORD)
                                                                          ->set("size", VIPS_SIZE_DOWN)
                                                                          ->set("no_rotate", !auto_orient));
    } else {
      VipsBlob* blob = vips_blob_new(nullptr, bytes.data(), bytes.size());
      try {
        decoded = vips::VImage::thumbnail_buffer(
            blob, static_cast<int>(largest_width),
            vips::VImage::option()
                ->set("height", VIPS_MAX_COORD)
                ->set("size", VIPS_SIZE_DOWN)
                ->set("no_rotate", !auto_orient)
                ->set("option_string", "fail_on=warning"));
      } catch (...) {
        vips_area_unref(VIPS_AREA(blob));
        throw;
      }
      vips_area_unref(VIPS_AREA(blob));
    }
    call.watch(decoded);
    // NOTE: libvips emits "eval" only once pixels flow, and libjpeg decodes a
    // whole progressive JPEG before its first row, so a deadline cannot stop
    // that decode part-way. The pixel bound caps how long it can take.
    largest = decoded.copy_memory();
  } catch (const vips::VError& error) {
    if (Status s = call.check(); !s.ok()) return s;
    return Error::invalid(input_field, "CORRUPT_INPUT",
                          fmt::format("{} could not be decoded as {}: {}", input_field, source_format,
                                      vips_message(error)),
                          fmt::format("a complete, valid {} image", source_format), input_size);
  }

  for (uint32_t width : request.widths()) {
    if (Status s = call.check(); !s.ok()) return s;
    try {
      vips::VImage output = largest;
      const int target = std::min(static_cast<int>(width), largest.width());
      if (target != largest.width()) {
        // The height comes from the source's aspect ratio, rounded to the
        // nearest pixel, and not from `largest`, whose height is rounded
        // already. An output then has the size that image.transform gives for
        // the same width.
        const auto target_width = static_cast<uint64_t>(target);
        const auto target_height = static_cast<int>(
            std::max<uint64_t>(1, (2 * display_height * target_width + display_width) / (2 * display_width)));
        output = largest.thumbnail_image(target, vips::VImage::option()
                                                     ->set("height", target_height)
                                                     ->set("size", VIPS_SIZE_FORCE)
                                                     ->set("no_rotate", true));
      }
      v1::Thumbnail* thumbnail = response->add_thumbnails();
      thumbnail->set_data(encode(output, format, quality));
      thumbnail->set_width(static_cast<uint32_t>(output.width()));
      thumbnail->set_height(static_cast<uint32_t>(output.height()));
      thumbnail->set_format(format);
    } catch (const vips::VError& error) {
      return Error::internal(fmt::format("encoding a {} pixel wide thumbnail failed: {}", width,
                                         vips_message(error)));
    }
  }
  return Status::Ok();
}

}  // namespace heavylift
