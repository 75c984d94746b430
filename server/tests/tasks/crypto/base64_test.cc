#include "tasks/crypto/base64.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(Base64, EncodesAllTailLengths) {
  EXPECT_EQ(base64_encode("", Base64Alphabet::kStandard), "");
  EXPECT_EQ(base64_encode("f", Base64Alphabet::kStandard), "Zg");
  EXPECT_EQ(base64_encode("fo", Base64Alphabet::kStandard), "Zm8");
  EXPECT_EQ(base64_encode("foo", Base64Alphabet::kStandard), "Zm9v");
  EXPECT_EQ(base64_encode("foob", Base64Alphabet::kStandard), "Zm9vYg");
}

TEST(Base64, DecodeRejectsNonCanonicalTrailingBits) {
  std::string bytes;
  EXPECT_TRUE(base64_decode("Zg", Base64Alphabet::kStandard, &bytes));
  EXPECT_EQ(bytes, "f");
  EXPECT_FALSE(base64_decode("Zh", Base64Alphabet::kStandard, &bytes));
  EXPECT_FALSE(base64_decode("Z", Base64Alphabet::kStandard, &bytes));
  EXPECT_FALSE(base64_decode("Zm9v!", Base64Alphabet::kStandard, &bytes));
  EXPECT_FALSE(base64_decode("Zg==", Base64Alphabet::kStandard, &bytes));
}

TEST(Base64, AlphabetsDifferOnlyInTheLastTwoDigits) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64_encode(bytes, Base64Alphabet::kStandard), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  std::string decoded;
  EXPECT_FALSE(base64url_decode("+/+/", &decoded));
  EXPECT_FALSE(base64_decode("-_-_", Base64Alphabet::kStandard, &decoded));
  ASSERT_TRUE(base64url_decode("-_-_", &decoded));
  EXPECT_EQ(decoded, bytes);
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (auto alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
    for (size_t length = 0; length <= all.size(); length += 7) {
      std::string decoded;
      ASSERT_TRUE(base64_decode(base64_encode(all.substr(0, length), alphabet), alphabet, &decoded));
      EXPECT_EQ(decoded, all.substr(0, length));
    }
  }
}

}  // namespace
}  // namespace heavylift
