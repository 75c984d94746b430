#include "tasks/crypto/phc.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

// From the argon2 reference implementation's test suite: argon2id, version
// 19, m=65536 t=2 p=1, password "password", salt "somesalt".
constexpr char kReferenceHash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

TEST(PhcArgon2, ParsesReferenceString) {
  auto parsed = parse_phc_argon2(kReferenceHash, "hash");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const PhcArgon2& phc = parsed.value();
  EXPECT_EQ(phc.variant, Argon2Variant::kArgon2id);
  EXPECT_EQ(phc.version, 0x13u);
  EXPECT_EQ(phc.memory_cost, 65536u);
  EXPECT_EQ(phc.time_cost, 2u);
  EXPECT_EQ(phc.parallelism, 1u);
  EXPECT_EQ(phc.salt, "somesalt");
  EXPECT_EQ(phc.hash.size(), 32u);
}

TEST(PhcArgon2, FormatRoundTrips) {
  auto parsed = parse_phc_argon2(kReferenceHash, "hash");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(format_phc_argon2(parsed.value()), kReferenceHash);
}

TEST(PhcArgon2, ParametersInAnyOrder) {
  // The npm argon2 package writes m,p,t.
  auto parsed = parse_phc_argon2(
      "$argon2id$v=19$m=65536,p=1,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "hash");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().time_cost, 2u);
  EXPECT_EQ(parsed.value().parallelism, 1u);
}

TEST(PhcArgon2, MissingVersionMeansVersion16) {
  auto parsed = parse_phc_argon2("$argon2i$m=4096,t=3,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "hash");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().version, 0x10u);
  EXPECT_EQ(parsed.value().variant, Argon2Variant::kArgon2i);
}

TEST(PhcArgon2, MalformedStringsAreRejectedWithReason) {
  const char* const cases[] = {
      "",
      "argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2x$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=18$m=1,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=1,t=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=1,t=1,p=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=1,t=1,x=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=01,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=-1,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=99999999999,t=1,p=1$c29tZXNhbHQ$AAAA",
      "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ=$AAAA",
      "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$A",
      "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAA$extra",
      "$argon2id$v=19$m,t=1,p=1$c29tZXNhbHQ$AAAA",
  };
  for (const char* text : cases) {
    auto parsed = parse_phc_argon2(text, "hash");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << text;
    EXPECT_EQ(parsed.error().field, "hash") << text;
  }
}

TEST(PhcArgon2, LongSaltIsRejected) {
  const std::string text = "$argon2i$m=4096,t=3,p=1$" + std::string(257, 'A') + "$AAAAAAAAAAAAAAAAAAAAAA";
  auto parsed = parse_phc_argon2(text, "hash");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("256 base64 characters"), std::string::npos);
}

TEST(PhcArgon2, AcceptedStringsFormatUnderLengthLimit) {
  // Found by phc_fuzz: a version-less string near the length limit grew past
  // it when formatted with "v=16".
  const std::string text = "$argon2i$m=4096,p=1,t=3$" + std::string(256, 'A') + "$" + std::string(256, 'A');
  auto parsed = parse_phc_argon2(text, "hash");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const std::string formatted = format_phc_argon2(parsed.value());
  EXPECT_TRUE(parse_phc_argon2(formatted, "hash").ok()) << formatted.size();
}

}  // namespace
}  // namespace heavylift
