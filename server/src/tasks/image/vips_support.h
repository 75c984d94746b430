// libvips helpers shared by the image tasks: process set-up, format sniffing,
// header-only checks against ImageLimits, decoding with a corrupt-input
// policy, deadline watching and metadata extraction.
//
// Thread-safety: every function may be called from any thread once
// configure_vips_for_untrusted_input() has run.
#pragma once

#include <vips/vips8>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/blob.h"
#include "core/error.h"
#include "core/task_context.h"
#include "heavylift/v1/image.pb.h"
#include "tasks/image/limits.h"

namespace heavylift {

// Sets process-wide libvips state for untrusted input: blocks loaders that
// libvips marks untrusted unless `allow_untrusted_loaders`, disables the
// operation cache (every request has fresh bytes) and runs each pipeline on
// the calling thread, since the executor already spreads calls over the
// cores. Call once after VIPS_INIT.
void configure_vips_for_untrusted_input(bool allow_untrusted_loaders = false);

// The time budget of one image call: the caller's deadline and cancellation,
// and the `image.max_call_ms` bound counted from construction.
class ImageCall {
 public:
  ImageCall(const TaskContext& context, uint32_t max_call_ms);

  // Returns the context's error, or DEADLINE_EXCEEDED naming
  // `image.max_call_ms` once the call has run that long.
  Status check() const;

  // Makes libvips stop computing pixels of `image` (and of every image
  // computed from it) once check() fails. `image` must not outlive this call.
  void watch(const vips::VImage& image) const;

 private:
  const TaskContext& context_;
  std::chrono::steady_clock::time_point limit_;
  uint32_t max_call_ms_;
};

// An encoded source whose header has been read and checked, with no pixels
// decoded yet. `bytes` is borrowed and must outlive the Source.
struct Source {
  // The encoded bytes, or empty when the header was read from a file.
  std::string_view bytes;
  // Encoded bytes in total, for errors.
  uint64_t size = 0;
  // Request field that carried the bytes, for errors ("input.data").
  std::string field;
  // Short format name: "jpeg", "png", "webp", "gif", "tiff", "heif" or,
  // with untrusted loaders allowed, the loader's nickname.
  std::string format;
  // The first page, opened lazily.
  vips::VImage header;
  int width = 0;
  int page_height = 0;
  int pages = 1;
  // EXIF orientation 1..8.
  int orientation = 1;
};

// Sniffs the format from the leading bytes and reads the header. Checks the
// pixel bound on width x page height x decoded pages (all pages when
// `all_pages`, else one) and, when `all_pages`, the frame bound. Errors are
// INVALID_ARGUMENT on `field` with reason UNSUPPORTED_FORMAT,
// TOO_MANY_PIXELS, TOO_MANY_FRAMES or CORRUPT_INPUT.
Result<Source> open_source(std::string_view bytes, std::string field, const ImageLimits& limits,
                           bool all_pages);

// Reads only the header of `file` (a file under the blob root), with the
// checks and errors of open_source(). The Source has no bytes, so it can be
// described but not decoded. UNSUPPORTED_FORMAT here may also mean that the
// format's loader cannot read from a file descriptor, so the caller should
// then read the whole file and call open_source().
Result<Source> open_source_file(const BlobFile& file, std::string field, const ImageLimits& limits,
                                bool all_pages);

// What decode() does.
struct DecodeOptions {
  bool all_pages = false;
  bool auto_orient = true;
  // When both are non-zero, the decode shrinks on load (JPEG, WebP, HEIF,
  // TIFF pyramids) and resizes to exactly this size, measured after
  // orientation. Only for one page.
  int target_width = 0;
  int target_height = 0;
  v1::CorruptInputPolicy corrupt_input = v1::CORRUPT_INPUT_POLICY_FAIL;
};

// Decodes `source` into memory. Under CORRUPT_INPUT_POLICY_WARN a decoder
// warning or a truncated file is appended to `warnings` and the pixels that
// could be decoded are kept; otherwise it fails with CORRUPT_INPUT. Returns
// the call's error when `call` ends during the decode.
Result<vips::VImage> decode(const Source& source, const DecodeOptions& options, const ImageCall& call,
                            std::vector<std::string>* warnings);

// Fills `metadata` from the header of `source`, reading no pixels.
void describe(const Source& source, v1::ImageMetadata* metadata);

// Converts to 8-bit sRGB (or 8-bit grey for grey sources): through the
// embedded ICC profile when there is one, through libvips' built-in CMYK
// profile for CMYK without one. A profile that cannot be used is reported in
// `warnings` and the image is converted without it. An 8-bit sRGB or grey
// image without a profile is returned as it is.
vips::VImage convert_to_srgb(const vips::VImage& image, std::vector<std::string>* warnings);

// Returns the libvips error of `error` on one line and clears libvips' error buffer.
std::string vips_message(const vips::VError& error);

// Returns the lines of `text` joined with "; ", without blank lines or
// repeats: libvips can report a decoder message twice, as for a cut JPEG.
std::string join_distinct_lines(std::string_view text);

// Builds the CORRUPT_INPUT error for `source` with libvips' message.
Error corrupt_input_error(const Source& source, const std::string& detail);

// Returns the bytes of a libvips blob and releases it.
std::string take_blob(VipsBlob* blob);

}  // namespace heavylift
