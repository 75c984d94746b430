#include "tasks/image/vips_support.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string_view>
#include <vector>

namespace heavylift {
namespace {

// Loaders accepted while untrusted loaders are blocked, by the prefix of
// their libvips nickname ("jpegload_buffer"), with the format name reported
// to callers. "heifload" reads HEIC and AVIF.
struct AcceptedLoader {
  const char* nickname_prefix;
  const char* format;
};
constexpr AcceptedLoader kAcceptedLoaders[] = {
    {"jpegload", "jpeg"}, {"pngload", "png"},   {"webpload", "webp"},
    {"gifload", "gif"},   {"tiffload", "tiff"}, {"heifload", "heif"},
};

constexpr char kAcceptedFormats[] = "JPEG, PNG, WebP, AVIF, GIF, TIFF or HEIF";

// Largest number of EXIF fields and characters per value in metadata.
constexpr size_t kMaxExifFields = 512;
constexpr size_t kMaxExifValueLength = 256;

// Returns the format name for `loader`, the type name of the loader that
// libvips picked from the leading bytes, or an empty string when it is null
// or not an accepted loader.
std::string accepted_format(const char* loader, bool allow_untrusted_loaders) {
  if (loader == nullptr) {
    vips_error_clear();
    return "";
  }
  const GType type = g_type_from_name(loader);
  const char* nickname = type != 0 ? vips_nickname_find(type) : nullptr;
  if (nickname == nullptr) return "";
  for (const auto& accepted : kAcceptedLoaders) {
    if (std::string_view(nickname).rfind(accepted.nickname_prefix, 0) == 0) return accepted.format;
  }
  if (!allow_untrusted_loaders) return "";
  std::string name = nickname;
  if (const size_t suffix = name.find("load"); suffix != std::string::npos) name.resize(suffix);
  return name;
}

std::string sniff_format(std::string_view bytes, bool allow_untrusted_loaders) {
  return accepted_format(vips_foreign_find_load_buffer(bytes.data(), bytes.size()), allow_untrusted_loaders);
}

// Kills a pipeline from libvips' "eval" progress signal once the call ends.
void on_eval(VipsImage* image, VipsProgress* /*progress*/, void* user_data) {
  const auto* call = static_cast<const ImageCall*>(user_data);
  if (!call->check().ok()) vips_image_set_kill(image, TRUE);
}

int header_int(const vips::VImage& image, const char* field, int fallback) {
  return image.get_typeof(field) != 0 ? image.get_int(field) : fallback;
}

vips::VImage decode_once(const Source& source, const DecodeOptions& options, bool strict) {
  const char* fail_on = strict ? "warning" : "none";
  if (options.target_width > 0 && options.target_height > 0) {
    VipsBlob* blob = vips_blob_new(nullptr, source.bytes.data(), source.bytes.size());
    std::unique_ptr<VipsBlob, void (*)(VipsBlob*)> owner(blob, [](VipsBlob* b) { vips_area_unref(VIPS_AREA(b)); });
    return vips::VImage::thumbnail_buffer(blob, options.target_width,
                                          vips::VImage::option()
                                              ->set("height", options.target_height)
                                              ->set("size", VIPS_SIZE_FORCE)
                                              ->set("no_rotate", !options.auto_orient)
                                              ->set("option_string", fmt::format("fail_on={}", fail_on).c_str()));
  }
  auto load_options = vips::VImage::option()->set("fail_on", fail_on);
  if (options.all_pages && source.pages > 1) load_options->set("n", -1);
  return vips::VImage::new_from_buffer(source.bytes.data(), source.bytes.size(), "", load_options);
}

// Header-only load options: no pixels are decoded, and no decoder warning
// fails the header.
vips::VOption* header_options() {
  return vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_NONE);
}

Error unsupported_format(const Source& source) {
  return Error::invalid(source.field, "UNSUPPORTED_FORMAT",
                        fmt::format("{} is not an image in a supported format ({}, detected from its bytes)",
                                    source.field, kAcceptedFormats),
                        fmt::format("a {} image", kAcceptedFormats), fmt::format("{} bytes", source.size));
}

// Fills the header fields of `source` and checks the frame and pixel bounds.
Result<Source> check_header(Source source, const ImageLimits& limits, bool all_pages) {
  try {
    source.width = source.header.width();
    source.page_height = vips_image_get_page_height(source.header.get_image());
    source.pages = std::max(1, header_int(source.header, VIPS_META_N_PAGES, 1));
    const int orientation = header_int(source.header, VIPS_META_ORIENTATION, 1);
    source.orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
  } catch (const vips::VError& error) {
    return corrupt_input_error(source, vips_message(error));
  }

  const uint64_t decoded_pages = all_pages ? static_cast<uint64_t>(source.pages) : 1;
  if (all_pages && decoded_pages > limits.max_frames) {
    Error error = Error::out_of_range(source.field, fmt::format("at most {} frames (image.max_frames)", limits.max_frames),
                                      fmt::format("{} frames", decoded_pages));
    error.reason = "TOO_MANY_FRAMES";
    return error;
  }
  const uint64_t pixels = static_cast<uint64_t>(source.width) * static_cast<uint64_t>(source.page_height) * decoded_pages;
  if (pixels > limits.max_input_pixels) {
    Error error = Error::out_of_range(
        source.field, fmt::format("<= {} pixels (image.max_input_pixels)", limits.max_input_pixels),
        decoded_pages > 1 ? fmt::format("{}x{} x {} frames = {} pixels", source.width, source.page_height,
                                        decoded_pages, pixels)
                          : fmt::format("{}x{} = {} pixels", source.width, source.page_height, pixels));
    error.reason = "TOO_MANY_PIXELS";
    return error;
  }
  return source;
}

}  // namespace

void configure_vips_for_untrusted_input(bool allow_untrusted_loaders) {
  vips_block_untrusted_set(allow_untrusted_loaders ? FALSE : TRUE);
  vips_cache_set_max(0);
  vips_concurrency_set(1);
}

ImageCall::ImageCall(const TaskContext& context, uint32_t max_call_ms)
    : context_(context),
      limit_(std::chrono::steady_clock::now() + std::chrono::milliseconds(max_call_ms)),
      max_call_ms_(max_call_ms) {}

Status ImageCall::check() const {
  if (Status s = context_.check(); !s.ok()) return s;
  if (std::chrono::steady_clock::now() >= limit_) {
    Error error = Error::deadline_exceeded(
        fmt::format("the image call ran longer than image.max_call_ms ({} ms) and was stopped", max_call_ms_));
    error.field = "image.max_call_ms";
    error.bound = fmt::format("<= {} ms", max_call_ms_);
    return error;
  }
  return Status::Ok();
}

void ImageCall::watch(const vips::VImage& image) const {
  VipsImage* raw = image.get_image();
  vips_image_set_progress(raw, TRUE);
  g_signal_connect(raw, "eval", G_CALLBACK(on_eval), const_cast<ImageCall*>(this));
}

std::string join_distinct_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty() && std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
  }
  return fmt::format("{}", fmt::join(lines, "; "));
}

std::string vips_message(const vips::VError& error) {
  std::string message = join_distinct_lines(error.what());
  vips_error_clear();
  return message;
}

Error corrupt_input_error(const Source& source, const std::string& detail) {
  return Error::invalid(source.field, "CORRUPT_INPUT",
                        fmt::format("{} could not be decoded as {}: {}", source.field, source.format, detail),
                        fmt::format("a complete, valid {} image", source.format),
                        fmt::format("{} bytes", source.size));
}

std::string take_blob(VipsBlob* blob) {
  size_t size = 0;
  const void* data = vips_blob_get(blob, &size);
  std::string bytes(static_cast<const char*>(data), size);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

Result<Source> open_source(std::string_view bytes, std::string field, const ImageLimits& limits,
                           bool all_pages) {
  Source source;
  source.bytes = bytes;
  source.size = bytes.size();
  source.field = std::move(field);
  source.format = sniff_format(bytes, limits.allow_untrusted_loaders);
  if (source.format.empty()) return unsupported_format(source);

  try {
    // Reads the header only: libvips decodes no pixels until they are needed.
    source.header = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "", header_options());
  } catch (const vips::VError& error) {
    return corrupt_input_error(source, vips_message(error));
  }
  return check_header(std::move(source), limits, all_pages);
}

Result<Source> open_source_file(const BlobFile& file, std::string field, const ImageLimits& limits,
                                bool all_pages) {
  Source source;
  source.size = file.size();
  source.field = std::move(field);
  try {
    // libvips reads from its own duplicate of the descriptor, and only as
    // far as the loader needs for the header (all of a GIF, to count frames).
    vips::VSource input = vips::VSource::new_from_descriptor(file.fd());
    source.format = accepted_format(vips_foreign_find_load_source(input.get_source()), limits.allow_untrusted_loaders);
    if (source.format.empty()) return unsupported_format(source);
    source.header = vips::VImage::new_from_source(input, "", header_options());
  } catch (const vips::VError& error) {
    return corrupt_input_error(source, vips_message(error));
  }
  return check_header(std::move(source), limits, all_pages);
}


Result<vips::VImage> decode(const Source& source, const DecodeOptions& options, const ImageCall& call,
                            std::vector<std::string>* warnings) {
  if (Status s = call.check(); !s.ok()) return s.error();

  // The first attempt fails on any decoder warning. Under the warn policy a
  // failed attempt is retried accepting warnings, so the warning text is
  // known even though libvips reports it through its log.
  std::string first_failure;
  for (const bool strict : {true, false}) {
    if (!strict && options.corrupt_input != v1::CORRUPT_INPUT_POLICY_WARN) break;
    try {
      vips::VImage image = decode_once(source, options, strict);
      call.watch(image);
      // NOTE: libvips emits "eval" only once pixels flow, and libjpeg decodes
      // a whole progressive JPEG before its first row, so a deadline cannot
      // stop that decode part-way. The pixel bound caps how long it can take.
      image = image.copy_memory();
      const bool thumbnail_path = options.target_width > 0 && options.target_height > 0;
      if (!thumbnail_path && options.auto_orient && source.pages == 1) image = image.autorot();
      if (!strict) {
        warnings->push_back(fmt::format("{} is damaged and was decoded as far as possible: {}", source.field,
                                        first_failure));
      }
      return image;
    } catch (const vips::VError& error) {
      const std::string message = vips_message(error);
      if (Status s = call.check(); !s.ok()) return s.error();
      if (strict) first_failure = message;
      if (!strict) return corrupt_input_error(source, message);
    }
  }
  return corrupt_input_error(source, first_failure);
}

void describe(const Source& source, v1::ImageMetadata* metadata) {
  const vips::VImage& header = source.header;
  metadata->set_format(source.format);
  metadata->set_width(static_cast<uint32_t>(source.width));
  metadata->set_height(static_cast<uint32_t>(source.page_height));
  metadata->set_orientation(static_cast<uint32_t>(source.orientation));
  metadata->set_has_alpha(header.has_alpha());
  const char* space = vips_enum_nick(VIPS_TYPE_INTERPRETATION, header.interpretation());
  metadata->set_color_space(space != nullptr ? space : "");
  metadata->set_channels(static_cast<uint32_t>(header.bands()));
  metadata->set_bits_per_sample(static_cast<uint32_t>(vips_format_sizeof(header.format()) * 8));
  metadata->set_pages(static_cast<uint32_t>(source.pages));
  if (header.get_typeof("delay") != 0) {
    try {
      for (int delay : header.get_array_int("delay")) metadata->add_delays_ms(static_cast<uint32_t>(std::max(0, delay)));
    } catch (const vips::VError& error) {
      vips_message(error);
    }
  }
  // libvips stores resolution in pixels per millimetre.
  const double density = header.xres() * 25.4;
  metadata->set_density(std::isfinite(density) && density > 1.0 ? std::round(density * 100.0) / 100.0 : 0.0);
  metadata->set_has_icc_profile(header.get_typeof(VIPS_META_ICC_NAME) != 0);
  metadata->set_has_exif(header.get_typeof(VIPS_META_EXIF_NAME) != 0);
  metadata->set_has_xmp(header.get_typeof(VIPS_META_XMP_NAME) != 0);
  metadata->set_progressive(header_int(header, "interlaced", 0) != 0);
  if (header.get_typeof("jpeg-chroma-subsample") != 0) {
    const char* subsampling = nullptr;
    if (vips_image_get_string(header.get_image(), "jpeg-chroma-subsample", &subsampling) == 0 && subsampling) {
      metadata->set_chroma_subsampling(subsampling);
    }
  }

  // EXIF fields are named "exif-ifd0-Make" and so on, with string values.
  gchar** fields = vips_image_get_fields(header.get_image());
  size_t kept = 0;
  for (gchar** field = fields; field != nullptr && *field != nullptr && kept < kMaxExifFields; ++field) {
    const std::string_view name(*field);
    if (name.rfind("exif-ifd", 0) != 0) continue;
    const char* value = nullptr;
    if (vips_image_get_as_string(header.get_image(), *field, const_cast<char**>(&value)) != 0) {
      vips_error_clear();
      continue;
    }
    std::string text(value);
    g_free(const_cast<char*>(value));
    if (text.size() > kMaxExifValueLength) text.resize(kMaxExifValueLength);
    (*metadata->mutable_exif())[std::string(name.substr(5))] = std::move(text);
    ++kept;
  }
  g_strfreev(fields);
}

vips::VImage convert_to_srgb(const vips::VImage& image, std::vector<std::string>* warnings) {
  const VipsInterpretation space = image.interpretation();
  const bool grey = space == VIPS_INTERPRETATION_B_W || space == VIPS_INTERPRETATION_GREY16;
  if (image.get_typeof(VIPS_META_ICC_NAME) != 0 || space == VIPS_INTERPRETATION_CMYK) {
    try {
      // A CMYK image without a profile gets libvips' built-in CMYK profile.
      vips::VImage converted = image.icc_transform(
          "srgb", vips::VImage::option()->set("embedded", true)->set("intent", VIPS_INTENT_PERCEPTUAL)->set("depth", 8));
      if (grey) converted = converted.colourspace(VIPS_INTERPRETATION_B_W);
      return converted.format() == VIPS_FORMAT_UCHAR ? converted : converted.cast(VIPS_FORMAT_UCHAR);
    } catch (const vips::VError& error) {
      warnings->push_back(fmt::format("the embedded ICC profile could not be used and was ignored: {}",
                                      vips_message(error)));
    }
  }
  const VipsInterpretation target = grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
  if (space == target && image.format() == VIPS_FORMAT_UCHAR) return image;
  vips::VImage converted = image.colourspace(target);
  return converted.format() == VIPS_FORMAT_UCHAR ? converted : converted.cast(VIPS_FORMAT_UCHAR);
}

}  // namespace heavylift
