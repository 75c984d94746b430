#include "tasks/image/transform.h"

#include <fmt/format.h>
#include <vips/vips8>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tasks/image/operations.h"
#include "tasks/image/placeholders.h"
#include "tasks/image/vips_support.h"

namespace heavylift {
namespace {

using vips::VImage;

// Largest width or height each encoder writes: libjpeg's limit, WebP's
// 14-bit dimension fields, GIF's 16-bit fields and the AV1 encoder's limit.
constexpr int kMaxJpegDimension = 65500;
constexpr int kMaxWebpDimension = 16383;
constexpr int kMaxGifDimension = 65535;
constexpr int kMaxAvifDimension = 16384;
constexpr int kMaxPngDimension = std::numeric_limits<int>::max();

// ThumbHash accepts at most 100 x 100 pixels; BlurHash and the other
// analyses use the same small decode.
constexpr int kAnalysisSize = 100;
constexpr int kPerceptualHashSize = 32;

const char* format_label(v1::OutputFormat format) {
  switch (format) {
    case v1::OUTPUT_FORMAT_PNG: return "PNG";
    case v1::OUTPUT_FORMAT_WEBP: return "WebP";
    case v1::OUTPUT_FORMAT_AVIF: return "AVIF";
    case v1::OUTPUT_FORMAT_GIF: return "GIF";
    default: return "JPEG";
  }
}

int max_dimension(v1::OutputFormat format) {
  switch (format) {
    case v1::OUTPUT_FORMAT_PNG: return kMaxPngDimension;
    case v1::OUTPUT_FORMAT_WEBP: return kMaxWebpDimension;
    case v1::OUTPUT_FORMAT_AVIF: return kMaxAvifDimension;
    case v1::OUTPUT_FORMAT_GIF: return kMaxGifDimension;
    default: return kMaxJpegDimension;
  }
}

v1::OutputFormat effective_format(const v1::Output& output) {
  return output.format() == v1::OUTPUT_FORMAT_UNSPECIFIED ? v1::OUTPUT_FORMAT_JPEG : output.format();
}

Status check_max(uint32_t value, uint32_t high, const std::string& field, const char* bound) {
  if (value > high) return Error::out_of_range(field, bound, fmt::format("{}", value));
  return Status::Ok();
}

// Checks an output's options, which do not depend on the image.
Status check_output(const v1::Output& output, const std::string& field, const ImageLimits& limits) {
  if (!v1::OutputFormat_IsValid(output.format())) {
    return Error::out_of_range(field + ".format", "OUTPUT_FORMAT_JPEG, _PNG, _WEBP, _AVIF or _GIF",
                               fmt::format("{}", static_cast<int>(output.format())));
  }
  if (output.has_resize()) {
    const auto& resize = output.resize();
    if (resize.width() == 0 && resize.height() == 0) {
      return Error::invalid(field + ".resize.width", "MISSING",
                            fmt::format("{}.resize needs a width, a height or both", field), "width or height set",
                            "neither");
    }
    if (Status s = check_color(resize.background(), field + ".resize.background"); !s.ok()) return s;
  }
  if (Status s = check_color(output.flatten_background(), field + ".flatten_background"); !s.ok()) return s;

  const auto& jpeg = output.jpeg();
  if (Status s = check_max(jpeg.quality(), 100, field + ".jpeg.quality", "in 1..100 (0 means 80)"); !s.ok()) return s;
  if (!jpeg.chroma_subsampling().empty() && jpeg.chroma_subsampling() != "4:2:0" && jpeg.chroma_subsampling() != "4:4:4") {
    return Error::out_of_range(field + ".jpeg.chroma_subsampling", "\"4:2:0\" or \"4:4:4\"",
                               quote_value(jpeg.chroma_subsampling()));
  }
  const auto& png = output.png();
  if (png.has_compression()) {
    if (Status s = check_max(png.compression(), 9, field + ".png.compression", "in 0..9"); !s.ok()) return s;
  }
  if (png.colors() == 1 || png.colors() > 256) {
    return Error::out_of_range(field + ".png.colors", "in 2..256 (0 means 256)", fmt::format("{}", png.colors()));
  }
  const auto& webp = output.webp();
  if (Status s = check_max(webp.quality(), 100, field + ".webp.quality", "in 1..100 (0 means 80)"); !s.ok()) return s;
  if (webp.has_effort()) {
    if (Status s = check_max(webp.effort(), 6, field + ".webp.effort", "in 0..6"); !s.ok()) return s;
  }
  const auto& avif = output.avif();
  if (Status s = check_max(avif.quality(), 100, field + ".avif.quality", "in 1..100 (0 means 50)"); !s.ok()) return s;
  if (avif.has_effort()) {
    if (Status s = check_max(avif.effort(), 9, field + ".avif.effort", "in 0..9"); !s.ok()) return s;
  }
  if (output.gif().has_effort() && (output.gif().effort() < 1 || output.gif().effort() > 10)) {
    return Error::out_of_range(field + ".gif.effort", "in 1..10", fmt::format("{}", output.gif().effort()));
  }
  (void)limits;
  return Status::Ok();
}

Status check_request(const v1::TransformRequest& request, const ImageLimits& limits) {
  if (request.outputs().empty()) {
    return Error::invalid("outputs", "MISSING", "outputs is empty: give at least one output", "at least 1 entry",
                          "0 entries");
  }
  if (static_cast<uint32_t>(request.outputs_size()) > limits.max_outputs) {
    return Error::out_of_range("outputs", fmt::format("at most {} entries (image.max_outputs)", limits.max_outputs),
                               fmt::format("{} entries", request.outputs_size()));
  }
  if (static_cast<uint32_t>(request.operations_size()) > limits.max_operations) {
    return Error::out_of_range("operations",
                               fmt::format("at most {} entries (image.max_operations)", limits.max_operations),
                               fmt::format("{} entries", request.operations_size()));
  }
  if (!v1::CorruptInputPolicy_IsValid(request.corrupt_input())) {
    return Error::out_of_range("corrupt_input", "CORRUPT_INPUT_POLICY_FAIL or CORRUPT_INPUT_POLICY_WARN",
                               fmt::format("{}", static_cast<int>(request.corrupt_input())));
  }
  for (int i = 0; i < request.operations_size(); ++i) {
    if (Status s = check_operation(request.operations(i), fmt::format("operations[{}]", i), limits); !s.ok()) return s;
  }
  for (int i = 0; i < request.outputs_size(); ++i) {
    if (Status s = check_output(request.outputs(i), fmt::format("outputs[{}]", i), limits); !s.ok()) return s;
  }
  return Status::Ok();
}

VImage to_8bit(const VImage& image) {
  if (image.format() == VIPS_FORMAT_UCHAR) return image;
  switch (image.interpretation()) {
    case VIPS_INTERPRETATION_RGB16: return image.colourspace(VIPS_INTERPRETATION_sRGB);
    case VIPS_INTERPRETATION_GREY16: return image.colourspace(VIPS_INTERPRETATION_B_W);
    default: return image.cast(VIPS_FORMAT_UCHAR);
  }
}

std::string save(const VImage& image, const v1::Output& output, v1::OutputFormat format) {
  const bool strip = !output.keep_metadata();
  switch (format) {
    case v1::OUTPUT_FORMAT_PNG: {
      const auto& png = output.png();
      auto options = VImage::option()->set("compression", png.has_compression() ? static_cast<int>(png.compression()) : 6)
                         ->set("strip", strip);
      if (png.palette()) {
        const int colors = png.colors() == 0 ? 256 : static_cast<int>(png.colors());
        // libvips sets the palette size through the bit depth: 1, 2, 4 or 8 bits.
        int bitdepth = 8;
        if (colors <= 2) {
          bitdepth = 1;
        } else if (colors <= 4) {
          bitdepth = 2;
        } else if (colors <= 16) {
          bitdepth = 4;
        }
        options->set("palette", true)->set("bitdepth", bitdepth);
      }
      return take_blob(image.pngsave_buffer(options));
    }
    case v1::OUTPUT_FORMAT_WEBP: {
      const auto& webp = output.webp();
      return take_blob(to_8bit(image).webpsave_buffer(
          VImage::option()
              ->set("Q", webp.quality() != 0 ? static_cast<int>(webp.quality()) : 80)
              ->set("lossless", webp.lossless())
              ->set("effort", webp.has_effort() ? static_cast<int>(webp.effort()) : 4)
              ->set("strip", strip)));
    }
    case v1::OUTPUT_FORMAT_AVIF: {
      const auto& avif = output.avif();
      return take_blob(to_8bit(image).heifsave_buffer(
          VImage::option()
              ->set("Q", avif.quality() != 0 ? static_cast<int>(avif.quality()) : 50)
              ->set("lossless", avif.lossless())
              ->set("effort", avif.has_effort() ? static_cast<int>(avif.effort()) : 4)
              ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
              ->set("strip", strip)));
    }
    case v1::OUTPUT_FORMAT_GIF:
      return take_blob(to_8bit(image).gifsave_buffer(
          VImage::option()->set("effort", output.gif().has_effort() ? static_cast<int>(output.gif().effort()) : 7)->set("strip", strip)));
    default: {
      const auto& jpeg = output.jpeg();
      VImage opaque = to_8bit(image);
      // JPEG has no alpha channel: flatten onto the background, white by default.
      if (opaque.has_alpha()) {
        v1::Color white;
        white.set_r(255);
        white.set_g(255);
        white.set_b(255);
        const v1::Color& background = output.has_flatten_background() ? output.flatten_background() : white;
        std::vector<double> values = background_for(opaque, &background);
        values.pop_back();
        opaque = opaque.flatten(VImage::option()->set("background", values));
      }
      return take_blob(opaque.jpegsave_buffer(
          VImage::option()
              ->set("Q", jpeg.quality() != 0 ? static_cast<int>(jpeg.quality()) : 80)
              ->set("interlace", jpeg.progressive())
              ->set("optimize_coding", true)
              ->set("subsample_mode", jpeg.chroma_subsampling() == "4:4:4" ? VIPS_FOREIGN_SUBSAMPLE_OFF
                                                                           : VIPS_FOREIGN_SUBSAMPLE_ON)
              ->set("strip", strip)));
    }
  }
}

// Whether `output` keeps every page of `frames`: GIF and WebP outputs of an animation do.
bool is_animated_output(const Frames& frames, const v1::Output& output) {
  const v1::OutputFormat format = effective_format(output);
  return frames.pages.size() > 1 && (format == v1::OUTPUT_FORMAT_GIF || format == v1::OUTPUT_FORMAT_WEBP);
}

// The pages of `frames` that `output` encodes before any resize.
std::vector<VImage> source_pages(const Frames& frames, const v1::Output& output) {
  const bool animated = is_animated_output(frames, output);
  return std::vector<VImage>(frames.pages.begin(), animated ? frames.pages.end() : frames.pages.begin() + 1);
}

// One distinct resize among a call's outputs. Outputs with the same Resize
// and the same pages share it, and a resize may start from the scaled pages
// of a larger one (see choose_cascade_sources).
struct ResizeGroup {
  const v1::Resize* resize = nullptr;
  // The first output that requests this resize, which errors name.
  int first_output = 0;
  int output_count = 0;
  bool all_pages = false;
  std::optional<ResizePlan> plan;
  Status plan_status;
  // The larger resize this one starts from, or null for the decoded image.
  ResizeGroup* source = nullptr;
  bool is_source = false;

  std::once_flag once;
  Status status;
  // The pages at the plan's scaled size, before a crop or padding. They
  // are in memory when other outputs or resizes read them.
  std::vector<VImage> scaled;
  // The finished pages that the outputs encode.
  std::vector<VImage> pages;
};

// The resizes of one call's outputs, each computed once, on first use, by
// whichever encoding thread needs it first.
class OutputResizes {
 public:
  // Plans every resize. A plan that fails is reported by pages() for the
  // outputs that use it, so errors keep their request order.
  OutputResizes(const Frames& frames, const v1::TransformRequest& request, const ImageLimits& limits,
                const ImageCall& call)
      : frames_(frames), request_(request), call_(call),
        group_of_output_(static_cast<size_t>(request.outputs_size()), nullptr) {
    std::map<std::string, ResizeGroup*> by_key;
    for (int i = 0; i < request.outputs_size(); ++i) {
      const v1::Output& output = request.outputs(i);
      if (!output.has_resize()) continue;
      const bool all_pages = is_animated_output(frames, output);
      auto [found, inserted] = by_key.emplace(output.resize().SerializeAsString() + (all_pages ? "/all" : "/first"),
                                              nullptr);
      if (inserted) found->second = add_group(output.resize(), i, all_pages, limits);
      ++found->second->output_count;
      group_of_output_[static_cast<size_t>(i)] = found->second;
    }
    link_cascade();
  }

  // Returns the pages output `index` encodes, resized when it requests a resize.
  Result<std::vector<VImage>> pages(int index) {
    ResizeGroup* group = group_of_output_[static_cast<size_t>(index)];
    if (group == nullptr) return source_pages(frames_, request_.outputs(index));
    compute(*group);
    if (!group->status.ok()) return group->status.error();
    return group->pages;
  }

 private:
  ResizeGroup* add_group(const v1::Resize& resize, int output, bool all_pages, const ImageLimits& limits) {
    auto group = std::make_unique<ResizeGroup>();
    group->resize = &resize;
    group->first_output = output;
    group->all_pages = all_pages;
    auto plan = plan_resize(resize, frames_.width(), frames_.height(), fmt::format("outputs[{}].resize", output), limits);
    if (plan.ok()) {
      group->plan = plan.value();
    } else {
      group->plan_status = plan.error();
    }
    return groups_.emplace_back(std::move(group)).get();
  }

  // Lets each resize of the first page start from a larger resize of it.
  // Resizes of every page of an animation do not cascade, because a source
  // would hold all its pages in memory at once.
  void link_cascade() {
    std::vector<ResizeGroup*> members;
    std::vector<std::optional<ResizePlan>> plans;
    for (const auto& group : groups_) {
      if (group->all_pages) continue;
      members.push_back(group.get());
      plans.push_back(group->plan);
    }
    const std::vector<int> sources = choose_cascade_sources(plans, frames_.width(), frames_.height());
    for (size_t i = 0; i < members.size(); ++i) {
      if (sources[i] < 0) continue;
      members[i]->source = members[static_cast<size_t>(sources[i])];
      members[i]->source->is_source = true;
    }
  }

  void compute(ResizeGroup& group) {
    std::call_once(group.once, [&] {
      if (!group.plan_status.ok()) {
        group.status = group.plan_status;
        return;
      }
      std::vector<VImage> inputs;
      if (group.source != nullptr) {
        compute(*group.source);
        if (!group.source->status.ok()) {
          group.status = group.source->status;
          return;
        }
        inputs = group.source->scaled;
      } else {
        inputs = source_pages(frames_, request_.outputs(group.first_output));
      }

      const ResizePlan& plan = *group.plan;
      const bool in_memory = plan.resizes && (group.output_count > 1 || group.is_source);
      try {
        for (const VImage& input : inputs) {
          VImage scaled = plan.resizes ? scale_to(input, plan.scaled_width, plan.scaled_height) : input;
          if (in_memory) {
            call_.watch(scaled);
            scaled = scaled.copy_memory();
          }
          group.pages.push_back(finish_resize(scaled, plan, *group.resize));
          group.scaled.push_back(std::move(scaled));
        }
      } catch (const vips::VError& error) {
        group.status = call_.check();
        if (group.status.ok()) {
          group.status = Error::internal(
              fmt::format("resizing outputs[{}] failed: {}", group.first_output, vips_message(error)));
        }
      }
    });
  }

  const Frames& frames_;
  const v1::TransformRequest& request_;
  const ImageCall& call_;
  std::vector<std::unique_ptr<ResizeGroup>> groups_;
  std::vector<ResizeGroup*> group_of_output_;
};

// Assembles `pages` (the output's pages, already resized) and encodes one output.
Status encode_output(const Frames& frames, std::vector<VImage> pages, const v1::Output& output,
                     const std::string& field, const ImageCall& call, v1::EncodedImage* encoded) {
  const v1::OutputFormat format = effective_format(output);
  const bool animated = is_animated_output(frames, output);
  const int width = pages.front().width();
  const int height = pages.front().height();
  const int limit = max_dimension(format);
  const int64_t strip_height = static_cast<int64_t>(height) * static_cast<int64_t>(pages.size());
  if (width > limit || (animated ? strip_height : height) > limit) {
    Error error = Error::out_of_range(field, fmt::format("an output of at most {} x {} pixels (the {} limit)", limit,
                                                         limit, format_label(format)),
                                      fmt::format("{}x{}", width, animated ? strip_height : height));
    error.reason = "OUTPUT_TOO_LARGE";
    return error;
  }
  if (Status s = call.check(); !s.ok()) return s;

  VImage image = pages.front();
  if (animated) {
    image = VImage::arrayjoin(pages, VImage::option()->set("across", 1)).copy();
    image.set(VIPS_META_PAGE_HEIGHT, height);
    std::vector<int> delays = frames.delays;
    delays.resize(pages.size(), delays.empty() ? 100 : delays.back());
    image.set("delay", delays);
    image.set("loop", frames.loop);
  }
  call.watch(image);
  encoded->set_data(save(image, output, format));
  encoded->set_width(static_cast<uint32_t>(width));
  encoded->set_height(static_cast<uint32_t>(height));
  encoded->set_format(format);
  encoded->set_pages(static_cast<uint32_t>(pages.size()));
  return Status::Ok();
}

std::string input_field(const v1::BlobRef& input) { return input.has_path() ? "input.path" : "input.data"; }

// Size of the source after auto-orientation.
void oriented_size(const Source& source, bool auto_orient, int* width, int* height) {
  const bool swaps = auto_orient && source.orientation >= 5;
  *width = swaps ? source.page_height : source.width;
  *height = swaps ? source.width : source.page_height;
}

Error vips_failure(const std::string& step, const vips::VError& error) {
  return Error::internal(fmt::format("{} failed: {}", step, vips_message(error)));
}


// Image transforms running in this process, which sets how many spare cores
// one call may use to encode its outputs.
std::atomic<int> running_transforms{0};

class RunningTransform {
 public:
  RunningTransform() { running_transforms.fetch_add(1, std::memory_order_relaxed); }
  ~RunningTransform() { running_transforms.fetch_sub(1, std::memory_order_relaxed); }
  RunningTransform(const RunningTransform&) = delete;
  RunningTransform& operator=(const RunningTransform&) = delete;
};

// Encodes every output into `response`, in request order. While fewer
// transforms run than there are cores, the spare cores encode this call's
// outputs in parallel; under load each call encodes on its own thread, so
// calls never oversubscribe the cores that the executor already fills.
Status encode_outputs(const Frames& frames, const v1::TransformRequest& request, const ImageLimits& limits,
                      const ImageCall& call, v1::TransformResponse* response) {
  const int count = request.outputs_size();
  std::vector<v1::EncodedImage> encoded(static_cast<size_t>(count));
  std::vector<Status> statuses(static_cast<size_t>(count));
  std::atomic<int> next{0};

  OutputResizes resizes(frames, request, limits, call);

  // Each worker takes the next output not yet taken. After a failure no new
  // output is started, and the first failure in request order is returned.
  auto work = [&]() {
    for (int i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      const std::string field = fmt::format("outputs[{}]", i);
      Status& status = statuses[static_cast<size_t>(i)];
      try {
        auto pages = resizes.pages(i);
        status = pages.ok() ? encode_output(frames, std::move(pages).value(), request.outputs(i), field, call,
                                            &encoded[static_cast<size_t>(i)])
                            : Status(pages.error());
      } catch (const vips::VError& error) {
        status = call.check();
        if (status.ok()) status = vips_failure(fmt::format("encoding {}", field), error);
      }
      if (!status.ok()) next.store(count);
    }
  };
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int helpers = std::clamp(cores - running_transforms.load(std::memory_order_relaxed), 0, count - 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < helpers; ++i) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();

  uint64_t total_bytes = 0;
  for (int i = 0; i < count; ++i) {
    if (!statuses[static_cast<size_t>(i)].ok()) return statuses[static_cast<size_t>(i)];
    total_bytes += encoded[static_cast<size_t>(i)].data().size();
    if (total_bytes > limits.max_output_bytes) {
      Error error = Error::out_of_range(
          "outputs", fmt::format("<= {} encoded bytes in total (image.max_output_bytes)", limits.max_output_bytes),
          fmt::format("{} bytes after {} of {} outputs", total_bytes, i + 1, count));
      error.reason = "OUTPUT_TOO_LARGE";
      return error;
    }
    response->add_outputs()->Swap(&encoded[static_cast<size_t>(i)]);
  }
  return Status::Ok();
}
}  // namespace

Status check_transform_request(const v1::TransformRequest& request, const ImageLimits& limits) {
  return check_request(request, limits);
}

Status transform(const v1::TransformRequest& request, v1::TransformResponse* response, TaskContext& context,
                 const ImageLimits& limits, const BlobReader& blobs) {
  if (Status s = check_request(request, limits); !s.ok()) return s;
  const ImageCall call(context, limits.max_call_ms);
  auto blob = blobs.read(request.input(), "input", limits.max_input_bytes);
  if (!blob.ok()) return blob.error();
  return transform_source(request, blob.value().bytes(), input_field(request.input()), response, call, limits,
                          blobs);
}

Status transform_source(const v1::TransformRequest& request, std::string_view bytes, const std::string& field,
                        v1::TransformResponse* response, const ImageCall& call, const ImageLimits& limits,
                        const BlobReader& blobs) {
  const RunningTransform running;
  const bool auto_orient = !request.has_auto_orient() || request.auto_orient();
  const bool animated = !request.has_animated() || request.animated();
  const bool to_srgb = !request.has_to_srgb() || request.to_srgb();
  std::vector<std::string> warnings;

  auto opened = open_source(bytes, field, limits, animated);
  if (!opened.ok()) return opened.error();
  const Source& source = opened.value();
  describe(source, response->mutable_source());

  DecodeOptions decode_options;
  decode_options.all_pages = animated && source.pages > 1;
  decode_options.auto_orient = auto_orient;
  decode_options.corrupt_input = request.corrupt_input() == v1::CORRUPT_INPUT_POLICY_WARN
                                     ? v1::CORRUPT_INPUT_POLICY_WARN
                                     : v1::CORRUPT_INPUT_POLICY_FAIL;

  // A leading resize of one page shrinks on load: JPEG decodes at 1/2, 1/4
  // or 1/8 scale and WebP at any scale, so the full-size pixels never exist.
  int first_operation = 0;
  std::unique_ptr<ResizePlan> leading_plan;
  if (!decode_options.all_pages && !request.operations().empty() && request.operations(0).has_resize()) {
    int width = 0, height = 0;
    oriented_size(source, auto_orient, &width, &height);
    auto plan = plan_resize(request.operations(0).resize(), width, height, "operations[0].resize", limits);
    if (!plan.ok()) return plan.error();
    if (plan.value().resizes) {
      leading_plan = std::make_unique<ResizePlan>(plan.value());
      decode_options.target_width = plan.value().scaled_width;
      decode_options.target_height = plan.value().scaled_height;
    }
    first_operation = 1;
  } else if (!decode_options.all_pages && request.operations().empty()) {
    // With no operations, every output resizes the source: the decode
    // shrinks on load to the largest of them, and each output is resized
    // from that.
    int width = 0, height = 0;
    oriented_size(source, auto_orient, &width, &height);
    double largest_scale = 0;
    for (int i = 0; i < request.outputs_size(); ++i) {
      if (!request.outputs(i).has_resize()) {
        largest_scale = 1;
        break;
      }
      auto plan = plan_resize(request.outputs(i).resize(), width, height, fmt::format("outputs[{}].resize", i), limits);
      if (!plan.ok()) return plan.error();
      largest_scale = std::max({largest_scale, static_cast<double>(plan.value().scaled_width) / width,
                                static_cast<double>(plan.value().scaled_height) / height});
    }
    if (largest_scale < 1) {
      decode_options.target_width = std::max(1, static_cast<int>(std::lround(width * largest_scale)));
      decode_options.target_height = std::max(1, static_cast<int>(std::lround(height * largest_scale)));
    }
  }

  auto decoded = decode(source, decode_options, call, &warnings);
  if (!decoded.ok()) return decoded.error();

  Frames frames;
  try {
    VImage image = decoded.value();
    if (to_srgb) image = convert_to_srgb(image, &warnings).copy_memory();
    if (leading_plan) image = finish_resize(image, *leading_plan, request.operations(0).resize()).copy_memory();
    frames = split_pages(image, decode_options.all_pages ? source.pages : 1);
  } catch (const vips::VError& error) {
    if (Status s = call.check(); !s.ok()) return s;
    return vips_failure("preparing the decoded image", error);
  }

  const OperationEnvironment environment{limits, blobs, call, decode_options.corrupt_input, &warnings};
  for (int i = first_operation; i < request.operations_size(); ++i) {
    const std::string field = fmt::format("operations[{}]", i);
    try {
      if (Status s = apply_operation(&frames, request.operations(i), field, environment); !s.ok()) return s;
    } catch (const vips::VError& error) {
      if (Status s = call.check(); !s.ok()) return s;
      return vips_failure(field, error);
    }
  }

  if (Status s = encode_outputs(frames, request, limits, call, response); !s.ok()) return s;
  for (auto& warning : warnings) response->add_warnings(std::move(warning));
  return Status::Ok();
}

Status image_metadata(const v1::MetadataRequest& request, v1::MetadataResponse* response, TaskContext& context,
                      const ImageLimits& limits, const BlobReader& blobs) {
  if (Status s = context.check(); !s.ok()) return s;
  // Metadata decodes no pixels, so the pixel bound does not apply.
  ImageLimits header_only = limits;
  header_only.max_input_pixels = std::numeric_limits<uint64_t>::max();
  header_only.max_frames = std::numeric_limits<uint32_t>::max();
  const std::string field = input_field(request.input());

  // A file under the blob root is opened, and libvips reads its header from
  // the descriptor. Only a format whose loader cannot read from a
  // descriptor falls through to reading the whole file.
  if (request.input().has_path()) {
    auto file = blobs.open_path(request.input().path(), "input", limits.max_input_bytes);
    if (!file.ok()) return file.error();
    auto opened = open_source_file(file.value(), field, header_only, false);
    if (opened.ok()) {
      describe(opened.value(), response->mutable_metadata());
      return Status::Ok();
    }
    if (opened.error().reason != "UNSUPPORTED_FORMAT") return opened.error();
  }

  auto blob = blobs.read(request.input(), "input", limits.max_input_bytes);
  if (!blob.ok()) return blob.error();
  auto opened = open_source(blob.value().bytes(), field, header_only, false);
  if (!opened.ok()) return opened.error();
  describe(opened.value(), response->mutable_metadata());
  return Status::Ok();
}

Status analyze(const v1::AnalyzeRequest& request, v1::AnalyzeResponse* response, TaskContext& context,
               const ImageLimits& limits, const BlobReader& blobs) {
  const int components_x = request.blurhash_x() == 0 ? 4 : static_cast<int>(request.blurhash_x());
  const int components_y = request.blurhash_y() == 0 ? 3 : static_cast<int>(request.blurhash_y());
  if (components_x > 9) return Error::out_of_range("blurhash_x", "in 1..9 (0 means 4)", fmt::format("{}", components_x));
  if (components_y > 9) return Error::out_of_range("blurhash_y", "in 1..9 (0 means 3)", fmt::format("{}", components_y));
  const ImageCall call(context, limits.max_call_ms);
  const bool auto_orient = !request.has_auto_orient() || request.auto_orient();

  auto blob = blobs.read(request.input(), "input", limits.max_input_bytes);
  if (!blob.ok()) return blob.error();
  auto opened = open_source(blob.value().bytes(), input_field(request.input()), limits, false);
  if (!opened.ok()) return opened.error();
  const Source& source = opened.value();
  describe(source, response->mutable_metadata());

  DecodeOptions options;
  options.auto_orient = auto_orient;
  int width = 0, height = 0;
  oriented_size(source, auto_orient, &width, &height);
  const double scale = std::min(1.0, static_cast<double>(kAnalysisSize) / std::max(width, height));
  options.target_width = std::max(1, static_cast<int>(std::lround(width * scale)));
  options.target_height = std::max(1, static_cast<int>(std::lround(height * scale)));
  std::vector<std::string> warnings;
  auto decoded = decode(source, options, call, &warnings);
  if (!decoded.ok()) return decoded.error();

  try {
    VImage image = convert_to_srgb(decoded.value(), &warnings);
    if (image.bands() < 3) image = image.colourspace(VIPS_INTERPRETATION_sRGB);
    if (!image.has_alpha()) image = image.bandjoin_const({255.0});
    image = image.cast(VIPS_FORMAT_UCHAR).copy_memory();

    RgbaPixels pixels;
    pixels.width = image.width();
    pixels.height = image.height();
    const auto* data = static_cast<const uint8_t*>(image.data());
    pixels.data.assign(data, data + static_cast<size_t>(pixels.width) * pixels.height * 4);

    const auto dominant = dominant_color(pixels);
    response->mutable_dominant()->set_r(dominant[0]);
    response->mutable_dominant()->set_g(dominant[1]);
    response->mutable_dominant()->set_b(dominant[2]);
    if (Status s = call.check(); !s.ok()) return s;
    response->set_blurhash(blurhash_encode(pixels, components_x, components_y));
    const std::vector<uint8_t> thumbhash = thumbhash_encode(pixels);
    response->set_thumbhash(std::string(thumbhash.begin(), thumbhash.end()));

    // The perceptual hash ignores aspect ratio and colour: 32 x 32 grey,
    // transparent pixels flattened onto white.
    VImage grey = image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}))
                      .colourspace(VIPS_INTERPRETATION_B_W)
                      .resize(static_cast<double>(kPerceptualHashSize) / image.width(),
                              VImage::option()->set("vscale", static_cast<double>(kPerceptualHashSize) / image.height()));
    grey = grey.embed(0, 0, kPerceptualHashSize, kPerceptualHashSize, VImage::option()->set("extend", VIPS_EXTEND_COPY))
               .extract_band(0)
               .cast(VIPS_FORMAT_DOUBLE)
               .copy_memory();
    const auto* values = static_cast<const double*>(grey.data());
    const uint64_t phash = perceptual_hash(std::vector<double>(values, values + kPerceptualHashSize * kPerceptualHashSize));
    response->set_phash(fmt::format("{:016x}", phash));
  } catch (const vips::VError& error) {
    if (Status s = call.check(); !s.ok()) return s;
    return vips_failure("analysing the decoded image", error);
  }
  return Status::Ok();
}

}  // namespace heavylift
