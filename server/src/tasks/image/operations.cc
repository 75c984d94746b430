#include "tasks/image/operations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace heavylift {
namespace {

using vips::VImage;

// Largest value of the alpha band for the image's interpretation.
double max_alpha(const VImage& image) {
  const VipsInterpretation space = image.interpretation();
  return space == VIPS_INTERPRETATION_RGB16 || space == VIPS_INTERPRETATION_GREY16 ? 65535.0 : 255.0;
}

VImage ensure_alpha(const VImage& image) {
  return image.has_alpha() ? image : image.bandjoin_const({max_alpha(image)});
}

// Splits off the alpha band: returns the colour bands and sets `*alpha`.
VImage split_alpha(const VImage& image, VImage* alpha, bool* has_alpha) {
  *has_alpha = image.has_alpha();
  if (!*has_alpha) return image;
  *alpha = image.extract_band(image.bands() - 1);
  return image.extract_band(0, VImage::option()->set("n", image.bands() - 1));
}

VImage join_alpha(const VImage& colour, const VImage& alpha, bool has_alpha) {
  if (!has_alpha) return colour;
  return colour.bandjoin(alpha.format() == colour.format() ? alpha : alpha.cast(colour.format()));
}

VImage cast_like(const VImage& image, const VImage& like) {
  return image.format() == like.format() ? image : image.cast(like.format());
}

// Computes the offset of an inner_w x inner_h box placed inside outer_w x outer_h at `gravity`.
void gravity_offset(v1::Gravity gravity, int outer_w, int outer_h, int inner_w, int inner_h, int* left, int* top) {
  const int free_x = outer_w - inner_w;
  const int free_y = outer_h - inner_h;
  *left = free_x / 2;
  *top = free_y / 2;
  switch (gravity) {
    case v1::GRAVITY_NORTH: *top = 0; break;
    case v1::GRAVITY_NORTH_EAST: *top = 0; *left = free_x; break;
    case v1::GRAVITY_EAST: *left = free_x; break;
    case v1::GRAVITY_SOUTH_EAST: *top = free_y; *left = free_x; break;
    case v1::GRAVITY_SOUTH: *top = free_y; break;
    case v1::GRAVITY_SOUTH_WEST: *top = free_y; *left = 0; break;
    case v1::GRAVITY_WEST: *left = 0; break;
    case v1::GRAVITY_NORTH_WEST: *top = 0; *left = 0; break;
    default: break;
  }
}


Status check_range(double value, double low, double high, const std::string& field, const char* unit = "") {
  if (!std::isfinite(value) || value < low || value > high) {
    return Error::out_of_range(field, fmt::format("in {}..{}{}", low, high, unit), fmt::format("{}", value));
  }
  return Status::Ok();
}

Status check_output_pixels(uint64_t width, uint64_t height, uint64_t pages, const std::string& field,
                           const ImageLimits& limits) {
  const uint64_t pixels = width * height * pages;
  if (pixels > limits.max_output_pixels) {
    Error error = Error::out_of_range(
        field, fmt::format("a result of <= {} pixels (image.max_output_pixels)", limits.max_output_pixels),
        fmt::format("{}x{}{} = {} pixels", width, height, pages > 1 ? fmt::format(" x {} frames", pages) : "", pixels));
    error.reason = "OUTPUT_TOO_LARGE";
    return error;
  }
  return Status::Ok();
}

VipsInteresting interesting_for(v1::Gravity strategy) {
  return strategy == v1::GRAVITY_ENTROPY ? VIPS_INTERESTING_ENTROPY : VIPS_INTERESTING_ATTENTION;
}

VImage rotate_page(const VImage& image, const v1::Rotate& rotate) {
  double angle = std::fmod(rotate.angle(), 360.0);
  if (angle < 0) angle += 360.0;
  if (angle == 0) return image;
  if (angle == 90) return image.rot(VIPS_ANGLE_D90);
  if (angle == 180) return image.rot(VIPS_ANGLE_D180);
  if (angle == 270) return image.rot(VIPS_ANGLE_D270);
  VImage source = image;
  // A transparent background needs an alpha band to be transparent in.
  if (rotate.has_background() && rotate.background().has_alpha() && rotate.background().alpha() < 255) {
    source = ensure_alpha(source);
  }
  return source.rotate(angle, VImage::option()->set("background", background_for(source, rotate.has_background() ? &rotate.background() : nullptr)));
}

VImage modulate_page(const VImage& image, const v1::Modulate& modulate) {
  VImage alpha;
  bool has_alpha = false;
  const VImage colour = split_alpha(image, &alpha, &has_alpha);
  const bool grey = colour.bands() == 1;
  const double brightness = modulate.has_brightness() ? modulate.brightness() : 1.0;
  const double saturation = modulate.has_saturation() ? modulate.saturation() : 1.0;
  VImage lch = colour.colourspace(VIPS_INTERPRETATION_LCH);
  lch = lch.linear({brightness, saturation, 1.0}, {0.0, 0.0, modulate.hue()});
  VImage back = lch.colourspace(grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB);
  return join_alpha(back.cast(VIPS_FORMAT_UCHAR), alpha, has_alpha);
}

VImage tint_page(const VImage& image, const v1::Tint& tint) {
  VImage alpha;
  bool has_alpha = false;
  const VImage colour = split_alpha(image, &alpha, &has_alpha);
  // The tint's a* and b* replace the image's; its lightness is kept.
  const VImage swatch = VImage::black(1, 1)
                            .new_from_image({static_cast<double>(tint.color().r()), static_cast<double>(tint.color().g()),
                                             static_cast<double>(tint.color().b())})
                            .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                            .cast(VIPS_FORMAT_UCHAR)
                            .colourspace(VIPS_INTERPRETATION_LAB);
  const std::vector<double> lab = swatch.getpoint(0, 0);
  const VImage source_lab = colour.colourspace(VIPS_INTERPRETATION_LAB);
  const VImage lightness = source_lab.extract_band(0);
  const VImage tinted = lightness.bandjoin_const({lab[1], lab[2]})
                            .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_LAB))
                            .colourspace(VIPS_INTERPRETATION_sRGB)
                            .cast(VIPS_FORMAT_UCHAR);
  return join_alpha(tinted, alpha, has_alpha);
}

VImage extend_page(const VImage& image, const v1::Extend& extend) {
  VipsExtend mode = VIPS_EXTEND_BACKGROUND;
  switch (extend.mode()) {
    case v1::EXTEND_MODE_COPY: mode = VIPS_EXTEND_COPY; break;
    case v1::EXTEND_MODE_REPEAT: mode = VIPS_EXTEND_REPEAT; break;
    case v1::EXTEND_MODE_MIRROR: mode = VIPS_EXTEND_MIRROR; break;
    default: break;
  }
  VImage source = image;
  if (mode == VIPS_EXTEND_BACKGROUND && extend.has_background() && extend.background().has_alpha() &&
      extend.background().alpha() < 255) {
    source = ensure_alpha(source);
  }
  const int width = source.width() + static_cast<int>(extend.left() + extend.right());
  const int height = source.height() + static_cast<int>(extend.top() + extend.bottom());
  return source.embed(static_cast<int>(extend.left()), static_cast<int>(extend.top()), width, height,
                      VImage::option()->set("extend", mode)->set(
                          "background", background_for(source, extend.has_background() ? &extend.background() : nullptr)));
}

// Builds the overlay of a Composite once: decoded, in sRGB, with an alpha
// band scaled by the opacity.
Result<VImage> load_overlay(const v1::Composite& composite, const std::string& field,
                            const OperationEnvironment& environment) {
  const std::string overlay_field = field + ".composite.overlay";
  auto blob = environment.blobs.read(composite.overlay(), overlay_field, environment.limits.max_input_bytes);
  if (!blob.ok()) return blob.error();
  // The bytes must outlive decoding, which copy_memory finishes below.
  const std::string bytes(blob.value().bytes());
  auto source = open_source(bytes, overlay_field + (composite.overlay().has_path() ? ".path" : ".data"),
                            environment.limits, /*all_pages=*/false);
  if (!source.ok()) return source.error();
  DecodeOptions options;
  options.corrupt_input = environment.corrupt_input;
  auto decoded = decode(source.value(), options, environment.call, environment.warnings);
  if (!decoded.ok()) return decoded.error();
  VImage overlay = ensure_alpha(convert_to_srgb(decoded.value(), environment.warnings));
  if (overlay.bands() == 2) overlay = overlay.colourspace(VIPS_INTERPRETATION_sRGB);
  if (composite.has_opacity() && composite.opacity() < 1.0) {
    overlay = overlay.linear({1.0, 1.0, 1.0, composite.opacity()}, {0.0, 0.0, 0.0, 0.0}).cast(VIPS_FORMAT_UCHAR);
  }
  return overlay.copy_memory();
}

VImage composite_page(const VImage& image, const VImage& overlay, const v1::Composite& composite) {
  const bool had_alpha = image.has_alpha();
  VImage base = image.bands() < 3 ? image.colourspace(VIPS_INTERPRETATION_sRGB) : image;
  VImage layer = overlay;
  int left = 0, top = 0;
  if (composite.tile()) {
    const int across = (base.width() + layer.width() - 1) / layer.width();
    const int down = (base.height() + layer.height() - 1) / layer.height();
    layer = layer.replicate(across, down).extract_area(0, 0, base.width(), base.height());
  } else if (composite.has_left() && composite.has_top()) {
    left = composite.left();
    top = composite.top();
  } else {
    gravity_offset(composite.gravity(), base.width(), base.height(), layer.width(), layer.height(), &left, &top);
  }
  VImage result = base.composite2(layer, VIPS_BLEND_MODE_OVER, VImage::option()->set("x", left)->set("y", top));
  result = result.cast(VIPS_FORMAT_UCHAR);
  // Over an opaque base the result is opaque: drop the alpha band composite2 adds.
  if (!had_alpha) result = result.extract_band(0, VImage::option()->set("n", result.bands() - 1));
  return result;
}

}  // namespace

Frames split_pages(const VImage& strip, int pages) {
  Frames frames;
  if (strip.get_typeof("delay") != 0) {
    try {
      frames.delays = strip.get_array_int("delay");
    } catch (const vips::VError& error) {
      vips_message(error);
    }
  }
  frames.loop = strip.get_typeof("loop") != 0 ? strip.get_int("loop") : 0;
  const int page_height = pages > 1 ? strip.height() / pages : strip.height();
  if (pages <= 1 || page_height * pages != strip.height()) {
    frames.pages.push_back(strip);
    return frames;
  }
  for (int page = 0; page < pages; ++page) {
    frames.pages.push_back(strip.extract_area(0, page * page_height, strip.width(), page_height));
  }
  return frames;
}

std::vector<double> background_for(const VImage& image, const v1::Color* color) {
  const bool alpha = image.has_alpha();
  const int colour_bands = alpha ? image.bands() - 1 : image.bands();
  const double scale = max_alpha(image) / 255.0;
  const double r = color != nullptr ? color->r() : 0;
  const double g = color != nullptr ? color->g() : 0;
  const double b = color != nullptr ? color->b() : 0;
  const double a = color != nullptr && color->has_alpha() ? color->alpha() : (color != nullptr ? 255.0 : 0.0);
  std::vector<double> values;
  if (colour_bands == 1) {
    values.push_back((0.2126 * r + 0.7152 * g + 0.0722 * b) * scale);
  } else {
    values = {r * scale, g * scale, b * scale};
    for (int extra = 3; extra < colour_bands; ++extra) values.push_back(0);
  }
  if (alpha) values.push_back(a * scale);
  return values;
}

Status check_color(const v1::Color& color, const std::string& field) {
  const std::pair<const char*, uint32_t> channels[] = {
      {"r", color.r()}, {"g", color.g()}, {"b", color.b()}, {"alpha", color.has_alpha() ? color.alpha() : 255}};
  for (const auto& [name, value] : channels) {
    if (value > 255) return Error::out_of_range(fmt::format("{}.{}", field, name), "in 0..255", fmt::format("{}", value));
  }
  return Status::Ok();
}

Result<ResizePlan> plan_resize(const v1::Resize& resize, int width, int height, const std::string& field,
                               const ImageLimits& limits) {
  if (resize.width() == 0 && resize.height() == 0) {
    return Error::invalid(field + ".width", "MISSING",
                          fmt::format("{} needs a width, a height or both", field), "width or height set", "neither");
  }
  for (const auto& [name, value] : {std::pair{"width", resize.width()}, std::pair{"height", resize.height()}}) {
    if (value > limits.max_width) {
      return Error::out_of_range(fmt::format("{}.{}", field, name),
                                 fmt::format("in 1..{} pixels (image.max_width)", limits.max_width),
                                 fmt::format("{}", value));
    }
  }
  if (Status s = check_color(resize.background(), field + ".background"); !s.ok()) return s.error();

  ResizePlan plan;
  plan.fit = resize.fit() == v1::FIT_UNSPECIFIED ? v1::FIT_COVER : resize.fit();
  plan.position = resize.position() == v1::GRAVITY_UNSPECIFIED ? v1::GRAVITY_CENTRE : resize.position();
  const double w = width;
  const double h = height;
  int box_w = static_cast<int>(resize.width());
  int box_h = static_cast<int>(resize.height());
  // A missing side follows the aspect ratio, and then every fit is the same.
  if (box_w == 0) box_w = std::max(1, static_cast<int>(std::lround(w * box_h / h)));
  if (box_h == 0) box_h = std::max(1, static_cast<int>(std::lround(h * box_w / w)));
  if (resize.width() == 0 || resize.height() == 0) plan.fit = v1::FIT_FILL;

  const double sx = box_w / w;
  const double sy = box_h / h;
  double scale = 1;
  switch (plan.fit) {
    case v1::FIT_CONTAIN:
    case v1::FIT_INSIDE: scale = std::min(sx, sy); break;
    case v1::FIT_COVER:
    case v1::FIT_OUTSIDE: scale = std::max(sx, sy); break;
    default: break;
  }
  if (plan.fit == v1::FIT_FILL) {
    plan.scaled_width = box_w;
    plan.scaled_height = box_h;
  } else {
    plan.scaled_width = std::max(1, static_cast<int>(std::lround(w * scale)));
    plan.scaled_height = std::max(1, static_cast<int>(std::lround(h * scale)));
  }
  // Rounding must not leave cover short of the box or contain over it.
  if (plan.fit == v1::FIT_COVER || plan.fit == v1::FIT_OUTSIDE) {
    plan.scaled_width = std::max(plan.scaled_width, box_w);
    plan.scaled_height = std::max(plan.scaled_height, box_h);
  } else if (plan.fit == v1::FIT_CONTAIN || plan.fit == v1::FIT_INSIDE) {
    plan.scaled_width = std::min(plan.scaled_width, box_w);
    plan.scaled_height = std::min(plan.scaled_height, box_h);
  }
  const bool cropped_or_padded = plan.fit == v1::FIT_COVER || plan.fit == v1::FIT_CONTAIN;
  plan.width = cropped_or_padded ? box_w : plan.scaled_width;
  plan.height = cropped_or_padded ? box_h : plan.scaled_height;

  if (resize.without_enlargement() && (plan.scaled_width > width || plan.scaled_height > height)) {
    plan = ResizePlan{width, height, width, height, plan.fit, plan.position, false};
  }
  if (Status s = check_output_pixels(static_cast<uint64_t>(std::max(plan.scaled_width, plan.width)),
                                     static_cast<uint64_t>(std::max(plan.scaled_height, plan.height)), 1, field, limits);
      !s.ok()) {
    return s.error();
  }
  return plan;
}

VImage finish_resize(const VImage& scaled, const ResizePlan& plan, const v1::Resize& resize) {
  if (!plan.resizes) return scaled;
  if (plan.fit == v1::FIT_COVER && (scaled.width() != plan.width || scaled.height() != plan.height)) {
    if (plan.position == v1::GRAVITY_ATTENTION || plan.position == v1::GRAVITY_ENTROPY) {
      return scaled.smartcrop(plan.width, plan.height, VImage::option()->set("interesting", interesting_for(plan.position)));
    }
    int left = 0, top = 0;
    gravity_offset(plan.position, scaled.width(), scaled.height(), plan.width, plan.height, &left, &top);
    return scaled.extract_area(left, top, plan.width, plan.height);
  }
  if (plan.fit == v1::FIT_CONTAIN && (scaled.width() != plan.width || scaled.height() != plan.height)) {
    VImage source = scaled;
    if (resize.has_background() && resize.background().has_alpha() && resize.background().alpha() < 255) {
      source = ensure_alpha(source);
    }
    int left = 0, top = 0;
    gravity_offset(plan.position, plan.width, plan.height, source.width(), source.height(), &left, &top);
    return source.embed(left, top, plan.width, plan.height,
                        VImage::option()->set("extend", VIPS_EXTEND_BACKGROUND)->set(
                            "background", background_for(source, resize.has_background() ? &resize.background() : nullptr)));
  }
  return scaled;
}

VImage scale_to(const VImage& image, int width, int height) {
  if (width == image.width() && height == image.height()) return image;
  const double hscale = static_cast<double>(width) / image.width();
  const double vscale = static_cast<double>(height) / image.height();
  VImage scaled;
  if (image.has_alpha()) {
    scaled = image.premultiply()
                 .resize(hscale, VImage::option()->set("vscale", vscale))
                 .unpremultiply()
                 .cast(image.format());
  } else {
    scaled = image.resize(hscale, VImage::option()->set("vscale", vscale));
  }
  // libvips rounds each side; pad or crop by at most a pixel to the exact size.
  if (scaled.width() != width || scaled.height() != height) {
    scaled = scaled.embed(0, 0, width, height, VImage::option()->set("extend", VIPS_EXTEND_COPY));
  }
  return scaled;
}

VImage apply_resize(const VImage& image, const ResizePlan& plan, const v1::Resize& resize) {
  if (!plan.resizes) return image;
  return finish_resize(scale_to(image, plan.scaled_width, plan.scaled_height), plan, resize);
}

std::vector<int> choose_cascade_sources(const std::vector<std::optional<ResizePlan>>& plans, int width, int height) {
  const auto usable = [](const std::optional<ResizePlan>& plan) { return plan.has_value() && plan->resizes; };
  // A source must be the whole image scaled by one factor, give or take a
  // pixel of rounding, so a fill that distorts the image is no source.
  const auto keeps_aspect = [&](const ResizePlan& plan) {
    const long expected_height = std::lround(static_cast<double>(height) * plan.scaled_width / width);
    return std::abs(expected_height - plan.scaled_height) <= 1 && plan.scaled_width < width && plan.scaled_height < height;
  };

  std::vector<int> sources(plans.size(), -1);
  for (size_t target = 0; target < plans.size(); ++target) {
    if (!usable(plans[target])) continue;
    const ResizePlan& target_plan = *plans[target];
    int64_t best_area = 0;
    for (size_t candidate = 0; candidate < plans.size(); ++candidate) {
      if (candidate == target || !usable(plans[candidate]) || !keeps_aspect(*plans[candidate])) continue;
      const ResizePlan& source = *plans[candidate];
      if (source.scaled_width < kCascadeMinFactor * target_plan.scaled_width ||
          source.scaled_height < kCascadeMinFactor * target_plan.scaled_height) {
        continue;
      }
      const int64_t area = static_cast<int64_t>(source.scaled_width) * source.scaled_height;
      if (sources[target] < 0 || area < best_area) {
        sources[target] = static_cast<int>(candidate);
        best_area = area;
      }
    }
  }
  return sources;
}

Status check_operation(const v1::Operation& operation, const std::string& field, const ImageLimits& limits) {
  switch (operation.op_case()) {
    case v1::Operation::OP_NOT_SET:
      return Error::invalid(field, "MISSING", fmt::format("{} names no operation", field), "one operation set", "none");
    case v1::Operation::kResize: {
      const auto& resize = operation.resize();
      if (resize.width() == 0 && resize.height() == 0) {
        return Error::invalid(field + ".resize.width", "MISSING",
                              fmt::format("{}.resize needs a width, a height or both", field), "width or height set",
                              "neither");
      }
      return check_color(resize.background(), field + ".resize.background");
    }
    case v1::Operation::kSmartCrop: {
      const auto& crop = operation.smart_crop();
      if (crop.width() == 0 || crop.height() == 0 || crop.width() > limits.max_width || crop.height() > limits.max_width) {
        return Error::out_of_range(field + (crop.width() == 0 || crop.width() > limits.max_width ? ".smart_crop.width" : ".smart_crop.height"),
                                   fmt::format("in 1..{} pixels", limits.max_width),
                                   fmt::format("{}x{}", crop.width(), crop.height()));
      }
      if (crop.strategy() != v1::GRAVITY_UNSPECIFIED && crop.strategy() != v1::GRAVITY_ATTENTION &&
          crop.strategy() != v1::GRAVITY_ENTROPY) {
        return Error::out_of_range(field + ".smart_crop.strategy", "GRAVITY_ATTENTION or GRAVITY_ENTROPY",
                                   v1::Gravity_Name(crop.strategy()));
      }
      return Status::Ok();
    }
    case v1::Operation::kExtract:
      if (operation.extract().width() == 0 || operation.extract().height() == 0) {
        return Error::out_of_range(field + (operation.extract().width() == 0 ? ".extract.width" : ".extract.height"),
                                   ">= 1 pixel", "0");
      }
      return Status::Ok();
    case v1::Operation::kRotate:
      if (Status s = check_range(operation.rotate().angle(), -3600, 3600, field + ".rotate.angle", " degrees"); !s.ok()) return s;
      return check_color(operation.rotate().background(), field + ".rotate.background");
    case v1::Operation::kBlur:
      return check_range(operation.blur().sigma(), 0.3, 1000, field + ".blur.sigma", " pixels");
    case v1::Operation::kSharpen: {
      const auto& sharpen = operation.sharpen();
      if (Status s = check_range(sharpen.sigma(), 0, 10, field + ".sharpen.sigma", " pixels"); !s.ok()) return s;
      if (Status s = check_range(sharpen.flat(), 0, 1e6, field + ".sharpen.flat"); !s.ok()) return s;
      return check_range(sharpen.jagged(), 0, 1e6, field + ".sharpen.jagged");
    }
    case v1::Operation::kModulate: {
      const auto& modulate = operation.modulate();
      if (Status s = check_range(modulate.has_brightness() ? modulate.brightness() : 1, 0, 100, field + ".modulate.brightness"); !s.ok()) return s;
      if (Status s = check_range(modulate.has_saturation() ? modulate.saturation() : 1, 0, 100, field + ".modulate.saturation"); !s.ok()) return s;
      return check_range(modulate.hue(), -3600, 3600, field + ".modulate.hue", " degrees");
    }
    case v1::Operation::kTint:
      return check_color(operation.tint().color(), field + ".tint.color");
    case v1::Operation::kExtend: {
      const auto& extend = operation.extend();
      for (const auto& [name, value] : {std::pair{"top", extend.top()}, std::pair{"right", extend.right()},
                                        std::pair{"bottom", extend.bottom()}, std::pair{"left", extend.left()}}) {
        if (value > limits.max_width) {
          return Error::out_of_range(fmt::format("{}.extend.{}", field, name),
                                     fmt::format("in 0..{} pixels (image.max_width)", limits.max_width),
                                     fmt::format("{}", value));
        }
      }
      return check_color(extend.background(), field + ".extend.background");
    }
    case v1::Operation::kTrim:
      if (Status s = check_range(operation.trim().threshold(), 0, 255, field + ".trim.threshold"); !s.ok()) return s;
      return check_color(operation.trim().background(), field + ".trim.background");
    case v1::Operation::kComposite: {
      const auto& composite = operation.composite();
      if (!composite.has_overlay()) {
        return Error::invalid(field + ".composite.overlay", "MISSING",
                              fmt::format("{}.composite.overlay is missing", field), "an image", "none");
      }
      if (composite.has_left() != composite.has_top()) {
        return Error::invalid(field + (composite.has_left() ? ".composite.top" : ".composite.left"), "MISSING",
                              fmt::format("{}.composite needs both left and top, or neither", field),
                              "both left and top, or neither", "one of them");
      }
      if (composite.has_opacity()) {
        return check_range(composite.opacity(), 0, 1, field + ".composite.opacity");
      }
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

Status apply_operation(Frames* frames, const v1::Operation& operation, const std::string& field,
                       const OperationEnvironment& environment) {
  const int width = frames->width();
  const int height = frames->height();
  const uint64_t pages = frames->pages.size();
  std::function<VImage(const VImage&)> step;
  VImage overlay;

  switch (operation.op_case()) {
    case v1::Operation::kResize: {
      auto plan = plan_resize(operation.resize(), width, height, field + ".resize", environment.limits);
      if (!plan.ok()) return plan.error();
      if (Status s = check_output_pixels(static_cast<uint64_t>(plan.value().width), static_cast<uint64_t>(plan.value().height),
                                         pages, field + ".resize", environment.limits);
          !s.ok()) {
        return s;
      }
      step = [plan = plan.value(), &resize = operation.resize()](const VImage& page) {
        return apply_resize(page, plan, resize);
      };
      break;
    }
    case v1::Operation::kSmartCrop: {
      const auto& crop = operation.smart_crop();
      if (static_cast<int>(crop.width()) > width || static_cast<int>(crop.height()) > height) {
        return Error::out_of_range(field + ".smart_crop", fmt::format("within the {}x{} image", width, height),
                                   fmt::format("{}x{}", crop.width(), crop.height()));
      }
      step = [&crop](const VImage& page) {
        return page.smartcrop(static_cast<int>(crop.width()), static_cast<int>(crop.height()),
                              VImage::option()->set("interesting", interesting_for(crop.strategy())));
      };
      break;
    }
    case v1::Operation::kExtract: {
      const auto& region = operation.extract();
      if (uint64_t{region.left()} + region.width() > static_cast<uint64_t>(width) ||
          uint64_t{region.top()} + region.height() > static_cast<uint64_t>(height)) {
        return Error::out_of_range(field + ".extract", fmt::format("a region inside the {}x{} image", width, height),
                                   fmt::format("{}x{} at {},{}", region.width(), region.height(), region.left(), region.top()));
      }
      step = [&region](const VImage& page) {
        return page.extract_area(static_cast<int>(region.left()), static_cast<int>(region.top()),
                                 static_cast<int>(region.width()), static_cast<int>(region.height()));
      };
      break;
    }
    case v1::Operation::kRotate: {
      const double radians = operation.rotate().angle() * 3.14159265358979323846 / 180.0;
      const double rotated_w = std::abs(width * std::cos(radians)) + std::abs(height * std::sin(radians));
      const double rotated_h = std::abs(width * std::sin(radians)) + std::abs(height * std::cos(radians));
      if (Status s = check_output_pixels(static_cast<uint64_t>(std::ceil(rotated_w)), static_cast<uint64_t>(std::ceil(rotated_h)),
                                         pages, field + ".rotate", environment.limits);
          !s.ok()) {
        return s;
      }
      step = [&rotate = operation.rotate()](const VImage& page) { return rotate_page(page, rotate); };
      break;
    }
    case v1::Operation::kFlip:
      if (!operation.flip()) return Status::Ok();
      step = [](const VImage& page) { return page.flip(VIPS_DIRECTION_VERTICAL); };
      break;
    case v1::Operation::kFlop:
      if (!operation.flop()) return Status::Ok();
      step = [](const VImage& page) { return page.flip(VIPS_DIRECTION_HORIZONTAL); };
      break;
    case v1::Operation::kBlur:
      step = [sigma = operation.blur().sigma()](const VImage& page) { return cast_like(page.gaussblur(sigma), page); };
      break;
    case v1::Operation::kSharpen: {
      const auto& sharpen = operation.sharpen();
      step = [&sharpen](const VImage& page) {
        return cast_like(page.sharpen(VImage::option()
                                          ->set("sigma", sharpen.sigma() > 0 ? sharpen.sigma() : 1.0)
                                          ->set("m1", sharpen.flat() > 0 ? sharpen.flat() : 1.0)
                                          ->set("m2", sharpen.jagged() > 0 ? sharpen.jagged() : 2.0)),
                         page);
      };
      break;
    }
    case v1::Operation::kModulate:
      step = [&modulate = operation.modulate()](const VImage& page) { return modulate_page(page, modulate); };
      break;
    case v1::Operation::kGrayscale:
      step = [](const VImage& page) { return page.colourspace(VIPS_INTERPRETATION_B_W); };
      break;
    case v1::Operation::kTint:
      step = [&tint = operation.tint()](const VImage& page) { return tint_page(page, tint); };
      break;
    case v1::Operation::kExtend: {
      const auto& extend = operation.extend();
      if (Status s = check_output_pixels(uint64_t(width) + extend.left() + extend.right(),
                                         uint64_t(height) + extend.top() + extend.bottom(), pages, field + ".extend",
                                         environment.limits);
          !s.ok()) {
        return s;
      }
      step = [&extend](const VImage& page) { return extend_page(page, extend); };
      break;
    }
    case v1::Operation::kTrim: {
      // The box is found on the first page, flattened so that transparent
      // borders count as background, and every page of an animation is cut
      // to it so the pages stay the same size.
      const auto& trim = operation.trim();
      const VImage& first = frames->pages.front();
      const VImage probe = first.has_alpha() ? first.flatten() : first;
      const std::vector<double> background =
          trim.has_background() ? background_for(probe, &trim.background()) : probe.getpoint(0, 0);
      int top = 0, box_w = 0, box_h = 0;
      const int left = probe.find_trim(
          &top, &box_w, &box_h,
          VImage::option()->set("threshold", trim.threshold() > 0 ? trim.threshold() : 10.0)->set("background", background));
      // A uniform image is all border: it is kept whole.
      if (box_w <= 0 || box_h <= 0 || (box_w == width && box_h == height)) return Status::Ok();
      step = [left, top, box_w, box_h](const VImage& page) { return page.extract_area(left, top, box_w, box_h); };
      break;
    }
    case v1::Operation::kComposite: {
      auto loaded = load_overlay(operation.composite(), field, environment);
      if (!loaded.ok()) return loaded.error();
      overlay = loaded.value();
      step = [&overlay, &composite = operation.composite()](const VImage& page) {
        return composite_page(page, overlay, composite);
      };
      break;
    }
    default:
      return Status::Ok();
  }

  for (VImage& page : frames->pages) {
    if (Status s = environment.call.check(); !s.ok()) return s;
    page = step(page);
    environment.call.watch(page);
    // Each page is computed now, so a failure names this operation and the
    // next operation starts from pixels in memory.
    page = page.copy_memory();
  }
  return Status::Ok();
}

}  // namespace heavylift
