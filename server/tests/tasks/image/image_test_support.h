// Helpers shared by the image task tests: real photos, encoding synthetic
// images and comparing pixels.
#pragma once

#include <vips/vips8>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tasks/image/vips_support.h"

namespace heavylift::testing_image {

// The photographs of Debian's mate-backgrounds package.
inline const char* const kPhotoDir = "/usr/share/backgrounds/mate";
inline const char* const kDune = "/usr/share/backgrounds/mate/nature/Dune.jpg";
inline const char* const kLadyBird = "/usr/share/backgrounds/mate/nature/LadyBird.jpg";
inline const char* const kLargePhoto = "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg";
inline const char* const kAlphaPng = "/usr/share/backgrounds/mate/abstract/Arc-Colors-Transparent-Wallpaper.png";

inline bool photos_present() { return std::filesystem::exists(kDune) && std::filesystem::exists(kLargePhoto); }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline vips::VImage decode_bytes(const std::string& bytes) {
  return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
}

// Mean absolute difference per sample between two images of the same size
// and band count, on the 0..255 scale.
inline double mean_abs_difference(const vips::VImage& a, const vips::VImage& b) {
  return (a.cast(VIPS_FORMAT_DOUBLE) - b.cast(VIPS_FORMAT_DOUBLE)).abs().avg();
}

// Downscales `bytes` (a photo) to `width` pixels with libvips and returns it
// as an sRGB image in memory.
inline vips::VImage small_photo(const std::string& path, int width) {
  return vips::VImage::thumbnail(path.c_str(), width).colourspace(VIPS_INTERPRETATION_sRGB).copy_memory();
}

inline std::string save_jpeg(const vips::VImage& image, int quality = 95) {
  return take_blob(image.jpegsave_buffer(vips::VImage::option()->set("Q", quality)));
}

inline std::string save_png(const vips::VImage& image) { return take_blob(image.pngsave_buffer()); }

}  // namespace heavylift::testing_image
