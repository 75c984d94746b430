// Bounds every image task enforces, one field per `image.*` setting.
#pragma once

#include <cstdint>

namespace heavylift {

struct ImageLimits {
  uint64_t max_input_bytes = 64ull << 20;     // bytes of an encoded source or overlay
  uint64_t max_stream_input_bytes = 256ull << 20;  // bytes of a source streamed in by TransformUpload
  uint32_t max_stream_chunk_bytes = 1u << 20;      // data bytes of one message of a streaming image call
  uint64_t max_input_pixels = 100'000'000;    // width x page height x decoded pages, from the header
  uint32_t max_width = 8192;                  // pixels, per thumbnail width and per resize side
  uint32_t max_outputs = 16;                  // thumbnail widths or transform outputs per call
  uint32_t max_operations = 32;               // transform operations per call
  uint32_t max_frames = 256;                  // decoded pages of an animated source
  uint64_t max_output_pixels = 100'000'000;   // width x height x pages of any intermediate or output image
  uint64_t max_output_bytes = 64ull << 20;    // encoded bytes of all outputs of one call
  uint32_t max_call_ms = 60'000;              // milliseconds one transform, metadata or analyze call may run
  bool allow_untrusted_loaders = false;       // accept loaders libvips marks untrusted (SVG, PPM, ...)
};

}  // namespace heavylift
