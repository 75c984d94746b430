// Image placeholders and hashes computed from decoded pixels: BlurHash,
// ThumbHash, a 64-bit DCT perceptual hash and the dominant colour. Pure
// functions with no libvips dependency.
//
// Thread-safety: every function is reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace heavylift {

// 8-bit sRGB pixels with alpha, row by row, 4 bytes per pixel.
struct RgbaPixels {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> data;  // width * height * 4 bytes
};

// Encodes a BlurHash with `components_x` x `components_y` cosine components
// (each 1..9), following the published BlurHash algorithm: DCT factors of
// the linear-light image, the DC term as 24-bit sRGB and the AC terms
// quantised to 19 levels against their maximum, in base 83. Alpha is ignored.
// `pixels` must be non-empty.
std::string blurhash_encode(const RgbaPixels& pixels, int components_x, int components_y);

// Encodes a ThumbHash, following the published ThumbHash algorithm: the
// alpha-weighted average colour, then DCT coefficients of the L (lightness),
// P and Q (colour differences) and, when any pixel is transparent, A channels,
// packed into a 5- or 6-byte header and 4-bit AC terms. `pixels` must be at
// most 100 x 100 and non-empty.
std::vector<uint8_t> thumbhash_encode(const RgbaPixels& pixels);

// Computes a 64-bit perceptual hash of a 32 x 32 grey image (`grey` holds
// 1024 values, row by row): the 8 x 8 lowest frequencies of its 2-D DCT-II,
// one bit per coefficient set when it is above their median. Bit 63 is the
// DC term, then row by row. Similar pictures differ in few bits.
uint64_t perceptual_hash(const std::vector<double>& grey);

// Returns the most frequent colour of the opaque pixels (alpha >= 128, or
// all pixels when none is): pixels are counted in a 16 x 16 x 16 histogram
// and the winning bin's centre is returned as 8-bit sRGB.
std::array<uint8_t, 3> dominant_color(const RgbaPixels& pixels);

}  // namespace heavylift
