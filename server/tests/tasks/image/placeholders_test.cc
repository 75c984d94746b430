#include "tasks/image/placeholders.h"

#include <gtest/gtest.h>

#include <cmath>

namespace heavylift {
namespace {

RgbaPixels solid(int width, int height, uint8_t r, uint8_t g, uint8_t b, uint8_t a = 255) {
  RgbaPixels pixels;
  pixels.width = width;
  pixels.height = height;
  for (int i = 0; i < width * height; ++i) pixels.data.insert(pixels.data.end(), {r, g, b, a});
  return pixels;
}

// A deterministic pattern, with every fourth diagonal transparent when `alpha`.
RgbaPixels pattern(int width, int height, bool alpha) {
  RgbaPixels pixels;
  pixels.width = width;
  pixels.height = height;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      pixels.data.push_back(static_cast<uint8_t>((x * 37 + y * 11) % 256));
      pixels.data.push_back(static_cast<uint8_t>((x * 7 + y * 53) % 256));
      pixels.data.push_back(static_cast<uint8_t>((x * y) % 256));
      pixels.data.push_back(alpha && (x + y) % 4 == 0 ? 0 : 255);
    }
  }
  return pixels;
}

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : bytes) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 15]);
  }
  return text;
}

// The expected strings below were produced by the reference encoders, npm
// blurhash 2.0.5 (encode) and thumbhash 0.1.1 (rgbaToThumbHash), on the
// same pixels; the e2e suite also compares against them live.
TEST(PlaceholdersTest, BlurhashMatchesReferenceEncoder) {
  EXPECT_EQ(blurhash_encode(solid(16, 12, 255, 0, 0), 4, 3), "LRTI:j]9fQ]9|co1fQo1fQfQfQfQ");
  EXPECT_EQ(blurhash_encode(pattern(24, 17, false), 4, 3), "L9HLhY+pSX%hX?WKA4W6VnQ%ooNN");
  EXPECT_EQ(blurhash_encode(pattern(24, 17, false), 9, 2), "HFHLhY#MW%x^R$%bVv2ZNsc0WIEpauAHWY1JF]}D");
}

TEST(PlaceholdersTest, ThumbhashMatchesReferenceEncoder) {
  EXPECT_EQ(hex(thumbhash_encode(pattern(24, 17, false))), "9b090635825178778078868576788667bf6ffb2878");
  EXPECT_EQ(hex(thumbhash_encode(pattern(17, 24, true))), "9b09862c020b410898474967f7eaa697ac7088070c7d87d007");
}

TEST(PlaceholdersTest, BlurhashLengthFollowsComponents) {
  RgbaPixels pixels = solid(8, 8, 10, 200, 30);
  pixels.data[0] = 255;
  for (int x = 1; x <= 9; ++x) {
    for (int y = 1; y <= 9; ++y) {
      EXPECT_EQ(blurhash_encode(pixels, x, y).size(), static_cast<size_t>(4 + 2 + 2 * (x * y - 1)));
    }
  }
}

TEST(PlaceholdersTest, ThumbhashOfOpaqueSquare) {
  const std::vector<uint8_t> hash = thumbhash_encode(solid(10, 10, 128, 128, 128));
  // No alpha: a 5-byte header plus 4-bit AC terms; bit 23 (alpha) is clear.
  ASSERT_GE(hash.size(), 5u);
  EXPECT_EQ(hash[2] & 0x80, 0);
  // The lightness DC is 63 * 128/255, rounded.
  EXPECT_EQ(hash[0] & 63, 32);
}

TEST(PlaceholdersTest, ThumbhashMarksAlpha) {
  RgbaPixels pixels = solid(10, 10, 0, 0, 0, 255);
  for (size_t i = 3; i < pixels.data.size(); i += 8) pixels.data[i] = 0;
  const std::vector<uint8_t> hash = thumbhash_encode(pixels);
  EXPECT_EQ(hash[2] & 0x80, 0x80);
}

TEST(PlaceholdersTest, PerceptualHashIgnoresBrightnessShift) {
  std::vector<double> grey(1024);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) grey[y * 32 + x] = 128 + 60 * std::sin(x * 0.31) * std::cos(y * 0.17) + (x * y % 7) * 6;
  }
  std::vector<double> brighter = grey;
  for (double& v : brighter) v += 30;
  std::vector<double> mirrored(1024);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) mirrored[y * 32 + x] = grey[y * 32 + (31 - x)];
  }
  const uint64_t base = perceptual_hash(grey);
  // Only the DC coefficient moves with brightness.
  EXPECT_LE(__builtin_popcountll(base ^ perceptual_hash(brighter)), 1);
  EXPECT_GE(__builtin_popcountll(base ^ perceptual_hash(mirrored)), 8);
}

TEST(PlaceholdersTest, DominantColourIgnoresTransparentPixels) {
  RgbaPixels pixels = solid(10, 10, 250, 10, 10, 255);
  // 60 transparent blue pixels do not outvote 40 opaque red ones.
  for (size_t i = 0; i < 60; ++i) {
    pixels.data[i * 4] = 0;
    pixels.data[i * 4 + 2] = 250;
    pixels.data[i * 4 + 3] = 0;
  }
  const auto colour = dominant_color(pixels);
  EXPECT_EQ(colour, (std::array<uint8_t, 3>{248, 8, 8}));
}

}  // namespace
}  // namespace heavylift
