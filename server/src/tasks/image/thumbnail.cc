#include "tasks/image/thumbnail.h"

#include <fmt/format.h>
#include <vips/vips8>

#include <algorithm>
#include <cmath>
#include <string>

namespace heavylift {
namespace {

constexpr uint32_t kDefaultQuality = 80;

// Loaders heavylift accepts, by the prefix of their libvips class nickname
// ("jpegload_buffer" and so on), with the format name reported to callers.
struct AcceptedLoader {
  const char* nickname_prefix;
  const char* format;
};
constexpr AcceptedLoader kAcceptedLoaders[] = {
    {"jpegload", "jpeg"}, {"pngload", "png"},   {"webpload", "webp"},
    {"gifload", "gif"},   {"tiffload", "tiff"}, {"heifload", "heif"},
};

// Returns the format name for the loader libvips picks from the leading
// bytes, or nullptr when no accepted loader recognizes them.
const char* sniff_format(std::string_view bytes) {
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  if (loader == nullptr) {
    vips_error_clear();
    return nullptr;
  }
  const GType type = g_type_from_name(loader);
  const char* nickname = type != 0 ? vips_nickname_find(type) : nullptr;
  if (nickname == nullptr) return nullptr;
  for (const auto& accepted : kAcceptedLoaders) {
    if (std::string_view(nickname).rfind(accepted.nickname_prefix, 0) == 0) return accepted.format;
  }
  return nullptr;
}

// Text of the libvips error for an exception on one line: libvips puts
// one message per line, which are joined with "; ".
std::string vips_message(const vips::VError& error) {
  std::string message = error.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (size_t newline = message.find('\n'); newline != std::string::npos; newline = message.find('\n', newline)) {
    message.replace(newline, 1, "; ");
  }
  vips_error_clear();
  return message;
}

// Kills a pipeline from libvips' "eval" progress signal once the call's
// deadline passes or the call is cancelled. libvips then stops computing
// pixels and the operation that was running fails.
void on_eval(VipsImage* image, VipsProgress* /*progress*/, void* user_data) {
  const auto* context = static_cast<const TaskContext*>(user_data);
  if (!context->check().ok()) vips_image_set_kill(image, TRUE);
}

void watch_for_cancellation(const vips::VImage& image, const TaskContext& context) {
  VipsImage* raw = image.get_image();
  vips_image_set_progress(raw, TRUE);
  g_signal_connect(raw, "eval", G_CALLBACK(on_eval), const_cast<TaskContext*>(&context));
}

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
  size_t size = 0;
  const void* data = vips_blob_get(encoded, &size);
  std::string bytes(static_cast<const char*>(data), size);
  vips_area_unref(VIPS_AREA(encoded));
  return bytes;
}

}  // namespace

void configure_vips_for_untrusted_input() {
  vips_block_untrusted_set(TRUE);
  vips_cache_set_max(0);
  vips_concurrency_set(1);
}

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

  const char* source_format = sniff_format(bytes);
  if (source_format == nullptr) {
    return Error::invalid(input_field, "UNSUPPORTED_FORMAT",
                          fmt::format("{} is not an image in a supported format (JPEG, PNG, WebP, GIF, "
                                      "TIFF or HEIF, detected from its bytes)",
                                      input_field),
                          "a JPEG, PNG, WebP, GIF, TIFF or HEIF image", input_size);
  }

  try {
    // Read the header only: libvips decodes no pixels until they are needed.
    const auto header = vips::VImage::new_from_buffer(
        bytes.data(), bytes.size(), "",
        vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_WARNING));
    // Thumbnails decode the first page only, so the bound applies to one page.
    const int page_height = vips_image_get_page_height(header.get_image());
    const uint64_t pixels = static_cast<uint64_t>(header.width()) * static_cast<uint64_t>(page_height);
    if (pixels > limits.max_input_pixels) {
      Error error = Error::out_of_range(input_field, fmt::format("<= {} pixels", limits.max_input_pixels),
                                        fmt::format("{}x{} = {} pixels", header.width(), page_height, pixels));
      error.reason = "TOO_MANY_PIXELS";
      return error;
    }
    response->set_source_width(static_cast<uint32_t>(header.width()));
    response->set_source_height(static_cast<uint32_t>(header.height()));
    response->set_source_format(source_format);
    const int orientation =
        header.get_typeof(VIPS_META_ORIENTATION) != 0 ? header.get_int(VIPS_META_ORIENTATION) : 1;
    response->set_orientation(orientation >= 1 && orientation <= 8 ? static_cast<uint32_t>(orientation) : 1);

    // Orientations 5 to 8 turn the image by 90 or 270 degrees.
    const bool swaps = auto_orient && response->orientation() >= 5;
    const uint64_t display_width = swaps ? static_cast<uint64_t>(page_height) : header.width();
    const uint64_t display_height = swaps ? header.width() : static_cast<uint64_t>(page_height);
    if (Status s = check_output_sizes(request, format, display_width, display_height); !s.ok()) return s;
  } catch (const vips::VError& error) {
    return Error::invalid(input_field, "CORRUPT_INPUT",
                          fmt::format("{} could not be read as {}: {}", input_field, source_format,
                                      vips_message(error)),
                          fmt::format("a complete, valid {} image", source_format), input_size);
  }

  if (Status s = context.check(); !s.ok()) return s;

  // Decode once at the largest width; smaller outputs are resized from it.
  const uint32_t largest_width = *std::max_element(request.widths().begin(), request.widths().end());
  vips::VImage largest;
  try {
    VipsBlob* source = vips_blob_new(nullptr, bytes.data(), bytes.size());
    vips::VImage decoded;
    try {
      decoded = vips::VImage::thumbnail_buffer(
          source, static_cast<int>(largest_width),
          vips::VImage::option()
              ->set("height", VIPS_MAX_COORD)
              ->set("size", VIPS_SIZE_DOWN)
              ->set("no_rotate", !auto_orient)
              ->set("option_string", "fail_on=warning"));
    } catch (...) {
      vips_area_unref(VIPS_AREA(source));
      throw;
    }
    vips_area_unref(VIPS_AREA(source));
    watch_for_cancellation(decoded, context);
    // NOTE: libvips emits "eval" only once pixels flow, and libjpeg decodes a
    // whole progressive JPEG before its first row, so a deadline cannot stop
    // that decode part-way. The pixel bound caps how long it can take.
    largest = decoded.copy_memory();
  } catch (const vips::VError& error) {
    if (Status s = context.check(); !s.ok()) return s;
    return Error::invalid(input_field, "CORRUPT_INPUT",
                          fmt::format("{} could not be decoded as {}: {}", input_field, source_format,
                                      vips_message(error)),
                          fmt::format("a complete, valid {} image", source_format), input_size);
  }

  for (uint32_t width : request.widths()) {
    if (Status s = context.check(); !s.ok()) return s;
    try {
      vips::VImage output = largest;
      const int target = std::min(static_cast<int>(width), largest.width());
      if (target != largest.width()) {
        // thumbnail_image picks the scale that yields exactly `target` pixels.
        output = largest.thumbnail_image(target, vips::VImage::option()
                                                     ->set("height", VIPS_MAX_COORD)
                                                     ->set("size", VIPS_SIZE_DOWN)
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
