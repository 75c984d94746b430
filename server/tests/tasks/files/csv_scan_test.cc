#include "tasks/files/csv_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace heavylift {
namespace {

// Masks computed byte by byte, independently of every kernel.
CsvBlockMasks expected_masks(const std::string& block, char delimiter) {
  CsvBlockMasks masks;
  for (size_t i = 0; i < 64; ++i) {
    if (block[i] == delimiter || block[i] == '\n' || block[i] == '\r') masks.stops |= uint64_t{1} << i;
    if (block[i] == '"') masks.quotes |= uint64_t{1} << i;
    if (block[i] == '\n') masks.newlines |= uint64_t{1} << i;
  }
  return masks;
}

TEST(CsvBlockScan, EveryKernelMatchesByteLoop) {
  const std::string alphabet = std::string("a,;\t\"\n\r\x80\xff ") + '\0';
  std::mt19937 random(5);
  int kernels = 0;
  for (const CsvScanLevel level : {CsvScanLevel::kScalar, CsvScanLevel::kSse2, CsvScanLevel::kAvx2}) {
    const CsvBlockScan scan = csv_block_scan(level);
    if (scan == nullptr) continue;
    ++kernels;
    for (int round = 0; round < 2000; ++round) {
      std::string block(64, ' ');
      for (char& c : block) c = alphabet[random() % alphabet.size()];
      const char delimiter = alphabet[random() % 4];
      const CsvBlockMasks expected = expected_masks(block, delimiter);
      const CsvBlockMasks masks = scan(block.data(), delimiter);
      ASSERT_EQ(masks.stops, expected.stops) << "level " << static_cast<int>(level) << ", round " << round;
      ASSERT_EQ(masks.quotes, expected.quotes) << "level " << static_cast<int>(level) << ", round " << round;
      ASSERT_EQ(masks.newlines, expected.newlines) << "level " << static_cast<int>(level) << ", round " << round;
    }
  }
  EXPECT_GE(kernels, 1);
}

TEST(CsvBlockScan, BestLevelIsAvailable) {
  EXPECT_NE(csv_block_scan(best_csv_scan_level()), nullptr);
#if defined(__x86_64__)
  EXPECT_NE(csv_block_scan(CsvScanLevel::kSse2), nullptr);
  EXPECT_EQ(csv_block_scan(CsvScanLevel::kAvx2) != nullptr, static_cast<bool>(__builtin_cpu_supports("avx2")));
#endif
}

}  // namespace
}  // namespace heavylift
