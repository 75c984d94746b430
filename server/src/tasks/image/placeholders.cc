#include "tasks/image/placeholders.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace heavylift {
namespace {

constexpr double kPi = std::numbers::pi;

constexpr char kBase83[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void append_base83(std::string* out, uint64_t value, int digits) {
  uint64_t divisor = 1;
  for (int i = 1; i < digits; ++i) divisor *= 83;
  for (int i = 0; i < digits; ++i) {
    out->push_back(kBase83[(value / divisor) % 83]);
    divisor /= 83;
  }
}

double srgb_to_linear(uint8_t value) {
  const double v = value / 255.0;
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

int linear_to_srgb(double value) {
  const double v = std::clamp(value, 0.0, 1.0);
  if (v <= 0.0031308) return static_cast<int>(std::trunc(v * 12.92 * 255.0 + 0.5));
  return static_cast<int>(std::trunc((1.055 * std::pow(v, 1.0 / 2.4) - 0.055) * 255.0 + 0.5));
}

double sign_pow(double value, double exponent) {
  return std::copysign(std::pow(std::abs(value), exponent), value);
}

// Rounds half up, as JavaScript's Math.round does, so hashes match the
// reference encoders bit for bit.
long round_half_up(double value) { return static_cast<long>(std::floor(value + 0.5)); }

struct ChannelDct {
  double dc = 0;
  std::vector<double> ac;
  double scale = 0;
};

// DCT of one ThumbHash channel, keeping the triangle of components where
// cx * ny < nx * (ny - cy), and mapping the AC terms into 0..1.
ChannelDct encode_thumbhash_channel(const std::vector<double>& channel, int width, int height, int nx, int ny) {
  ChannelDct result;
  std::vector<double> fx(static_cast<size_t>(width));
  for (int cy = 0; cy < ny; ++cy) {
    for (int cx = 0; cx * ny < nx * (ny - cy); ++cx) {
      for (int x = 0; x < width; ++x) fx[x] = std::cos(kPi / width * cx * (x + 0.5));
      double f = 0;
      for (int y = 0; y < height; ++y) {
        const double fy = std::cos(kPi / height * cy * (y + 0.5));
        for (int x = 0; x < width; ++x) f += channel[static_cast<size_t>(x + y * width)] * fx[x] * fy;
      }
      f /= static_cast<double>(width) * height;
      if (cx > 0 || cy > 0) {
        result.ac.push_back(f);
        result.scale = std::max(result.scale, std::abs(f));
      } else {
        result.dc = f;
      }
    }
  }
  if (result.scale > 0) {
    for (double& f : result.ac) f = 0.5 + 0.5 / result.scale * f;
  }
  return result;
}

}  // namespace

std::string blurhash_encode(const RgbaPixels& pixels, int components_x, int components_y) {
  const int width = pixels.width;
  const int height = pixels.height;
  const size_t stride = static_cast<size_t>(width) * 4;

  // Linear-light values once, instead of once per component.
  std::vector<double> linear(pixels.data.size());
  for (size_t i = 0; i < pixels.data.size(); ++i) linear[i] = srgb_to_linear(pixels.data[i]);

  std::vector<std::array<double, 3>> factors;
  for (int j = 0; j < components_y; ++j) {
    for (int i = 0; i < components_x; ++i) {
      const double normalisation = (i == 0 && j == 0) ? 1.0 : 2.0;
      std::array<double, 3> sum{0, 0, 0};
      // Column-major summation, as in the reference encoder, keeps the
      // floating-point result identical.
      for (int x = 0; x < width; ++x) {
        for (int y = 0; y < height; ++y) {
          const double basis = normalisation * std::cos(kPi * i * x / width) * std::cos(kPi * j * y / height);
          const size_t offset = 4 * static_cast<size_t>(x) + static_cast<size_t>(y) * stride;
          sum[0] += basis * linear[offset];
          sum[1] += basis * linear[offset + 1];
          sum[2] += basis * linear[offset + 2];
        }
      }
      const double scale = 1.0 / (static_cast<double>(width) * height);
      factors.push_back({sum[0] * scale, sum[1] * scale, sum[2] * scale});
    }
  }

  std::string hash;
  append_base83(&hash, static_cast<uint64_t>((components_x - 1) + (components_y - 1) * 9), 1);

  double maximum_value = 1;
  if (factors.size() > 1) {
    // The reference encoder takes the largest signed AC value, not the
    // largest magnitude; hashes must match it bit for bit.
    double actual_maximum = -std::numeric_limits<double>::infinity();
    for (size_t k = 1; k < factors.size(); ++k) {
      for (double v : factors[k]) actual_maximum = std::max(actual_maximum, v);
    }
    const double quantised = std::floor(std::max(0.0, std::min(82.0, std::floor(actual_maximum * 166 - 0.5))));
    maximum_value = (quantised + 1) / 166;
    append_base83(&hash, static_cast<uint64_t>(quantised), 1);
  } else {
    append_base83(&hash, 0, 1);
  }

  const auto& dc = factors[0];
  append_base83(&hash,
                (static_cast<uint64_t>(linear_to_srgb(dc[0])) << 16) + (static_cast<uint64_t>(linear_to_srgb(dc[1])) << 8) +
                    static_cast<uint64_t>(linear_to_srgb(dc[2])),
                4);
  for (size_t k = 1; k < factors.size(); ++k) {
    uint64_t value = 0;
    for (double v : factors[k]) {
      const double quantised = std::floor(std::max(0.0, std::min(18.0, std::floor(sign_pow(v / maximum_value, 0.5) * 9 + 9.5))));
      value = value * 19 + static_cast<uint64_t>(quantised);
    }
    append_base83(&hash, value, 2);
  }
  return hash;
}

std::vector<uint8_t> thumbhash_encode(const RgbaPixels& pixels) {
  const int w = pixels.width;
  const int h = pixels.height;
  const size_t count = static_cast<size_t>(w) * h;
  const auto& rgba = pixels.data;

  // The alpha-weighted average colour fills transparent pixels.
  double avg_r = 0, avg_g = 0, avg_b = 0, avg_a = 0;
  for (size_t i = 0, j = 0; i < count; ++i, j += 4) {
    const double alpha = rgba[j + 3] / 255.0;
    avg_r += alpha / 255.0 * rgba[j];
    avg_g += alpha / 255.0 * rgba[j + 1];
    avg_b += alpha / 255.0 * rgba[j + 2];
    avg_a += alpha;
  }
  if (avg_a > 0) {
    avg_r /= avg_a;
    avg_g /= avg_a;
    avg_b /= avg_a;
  }

  const bool has_alpha = avg_a < static_cast<double>(count);
  const int l_limit = has_alpha ? 5 : 7;
  const int longest = std::max(w, h);
  const int lx = std::max(1, static_cast<int>(round_half_up(static_cast<double>(l_limit * w) / longest)));
  const int ly = std::max(1, static_cast<int>(round_half_up(static_cast<double>(l_limit * h) / longest)));

  std::vector<double> l(count), p(count), q(count), a(count);
  for (size_t i = 0, j = 0; i < count; ++i, j += 4) {
    const double alpha = rgba[j + 3] / 255.0;
    const double r = avg_r * (1 - alpha) + alpha / 255.0 * rgba[j];
    const double g = avg_g * (1 - alpha) + alpha / 255.0 * rgba[j + 1];
    const double b = avg_b * (1 - alpha) + alpha / 255.0 * rgba[j + 2];
    l[i] = (r + g + b) / 3;
    p[i] = (r + g) / 2 - b;
    q[i] = r - g;
    a[i] = alpha;
  }

  const ChannelDct l_dct = encode_thumbhash_channel(l, w, h, std::max(3, lx), std::max(3, ly));
  const ChannelDct p_dct = encode_thumbhash_channel(p, w, h, 3, 3);
  const ChannelDct q_dct = encode_thumbhash_channel(q, w, h, 3, 3);
  ChannelDct a_dct;
  if (has_alpha) a_dct = encode_thumbhash_channel(a, w, h, 5, 5);

  const bool landscape = w > h;
  const uint32_t header24 = static_cast<uint32_t>(round_half_up(63 * l_dct.dc)) |
                            (static_cast<uint32_t>(round_half_up(31.5 + 31.5 * p_dct.dc)) << 6) |
                            (static_cast<uint32_t>(round_half_up(31.5 + 31.5 * q_dct.dc)) << 12) |
                            (static_cast<uint32_t>(round_half_up(31 * l_dct.scale)) << 18) |
                            (has_alpha ? 1u << 23 : 0u);
  const uint32_t header16 = static_cast<uint32_t>(landscape ? ly : lx) |
                            (static_cast<uint32_t>(round_half_up(63 * p_dct.scale)) << 3) |
                            (static_cast<uint32_t>(round_half_up(63 * q_dct.scale)) << 9) |
                            (landscape ? 1u << 15 : 0u);
  std::vector<uint8_t> hash = {static_cast<uint8_t>(header24 & 255), static_cast<uint8_t>((header24 >> 8) & 255),
                               static_cast<uint8_t>(header24 >> 16), static_cast<uint8_t>(header16 & 255),
                               static_cast<uint8_t>(header16 >> 8)};
  if (has_alpha) {
    hash.push_back(static_cast<uint8_t>(round_half_up(15 * a_dct.dc) | (round_half_up(15 * a_dct.scale) << 4)));
  }

  // AC terms are packed two per byte, low nibble first.
  const size_t ac_start = hash.size();
  size_t ac_index = 0;
  std::vector<const ChannelDct*> channels = {&l_dct, &p_dct, &q_dct};
  if (has_alpha) channels.push_back(&a_dct);
  for (const ChannelDct* channel : channels) {
    for (double f : channel->ac) {
      const size_t byte = ac_start + (ac_index >> 1);
      if (byte >= hash.size()) hash.push_back(0);
      hash[byte] |= static_cast<uint8_t>(round_half_up(15 * f) << ((ac_index & 1) << 2));
      ++ac_index;
    }
  }
  return hash;
}

uint64_t perceptual_hash(const std::vector<double>& grey) {
  constexpr int kSize = 32;
  constexpr int kKept = 8;

  // Separable DCT-II: rows, then columns, keeping the 8 lowest of each.
  std::array<std::array<double, kSize>, kSize> cosines{};
  for (int k = 0; k < kKept; ++k) {
    for (int n = 0; n < kSize; ++n) cosines[k][n] = std::cos(kPi / kSize * (n + 0.5) * k);
  }
  std::array<std::array<double, kKept>, kSize> rows{};
  for (int y = 0; y < kSize; ++y) {
    for (int u = 0; u < kKept; ++u) {
      double sum = 0;
      for (int x = 0; x < kSize; ++x) sum += grey[static_cast<size_t>(y * kSize + x)] * cosines[u][x];
      rows[y][u] = sum;
    }
  }
  std::array<double, kKept * kKept> coefficients{};
  for (int v = 0; v < kKept; ++v) {
    for (int u = 0; u < kKept; ++u) {
      double sum = 0;
      for (int y = 0; y < kSize; ++y) sum += rows[y][u] * cosines[v][y];
      coefficients[static_cast<size_t>(v * kKept + u)] = sum;
    }
  }

  std::array<double, kKept * kKept> sorted = coefficients;
  std::nth_element(sorted.begin(), sorted.begin() + 32, sorted.end());
  const double upper = sorted[32];
  std::nth_element(sorted.begin(), sorted.begin() + 31, sorted.begin() + 32);
  const double median = (sorted[31] + upper) / 2;

  uint64_t hash = 0;
  for (size_t i = 0; i < coefficients.size(); ++i) {
    if (coefficients[i] > median) hash |= uint64_t{1} << (63 - i);
  }
  return hash;
}

std::array<uint8_t, 3> dominant_color(const RgbaPixels& pixels) {
  std::vector<uint32_t> bins(16 * 16 * 16, 0);
  const size_t count = static_cast<size_t>(pixels.width) * pixels.height;
  bool any_opaque = false;
  for (size_t j = 3; j < pixels.data.size(); j += 4) any_opaque = any_opaque || pixels.data[j] >= 128;

  for (size_t i = 0, j = 0; i < count; ++i, j += 4) {
    if (any_opaque && pixels.data[j + 3] < 128) continue;
    const size_t bin = (static_cast<size_t>(pixels.data[j] >> 4) << 8) | (static_cast<size_t>(pixels.data[j + 1] >> 4) << 4) |
                       static_cast<size_t>(pixels.data[j + 2] >> 4);
    ++bins[bin];
  }
  const size_t best = static_cast<size_t>(std::max_element(bins.begin(), bins.end()) - bins.begin());
  return {static_cast<uint8_t>(((best >> 8) & 15) * 16 + 8), static_cast<uint8_t>(((best >> 4) & 15) * 16 + 8),
          static_cast<uint8_t>((best & 15) * 16 + 8)};
}

}  // namespace heavylift
