#include "tasks/crypto/argon2.h"

#include <argon2.h>
#include <gtest/gtest.h>

#include "tasks/crypto/phc.h"

#include <fmt/format.h>

namespace heavylift {
namespace {

// Small costs keep the tests fast; bounds are checked with explicit limits.
constexpr uint32_t kTestMemoryCost = 1024;

class Argon2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(argon2_init()); }

  Result<std::string> hash(const std::string& password, uint32_t memory_cost = kTestMemoryCost,
                           uint32_t parallelism = 0, const std::string& salt = "") {
    v1::Argon2idHashRequest request;
    request.set_password(password);
    request.set_memory_cost(memory_cost);
    request.set_parallelism(parallelism);
    request.set_salt(salt);
    v1::Argon2idHashResponse response;
    if (Status s = argon2id_hash(request, &response, *context_, limits_); !s.ok()) return s.error();
    return response.hash();
  }

  Result<bool> verify(const std::string& phc, const std::string& password) {
    v1::Argon2idVerifyRequest request;
    request.set_hash(phc);
    request.set_password(password);
    v1::Argon2idVerifyResponse response;
    if (Status s = argon2id_verify(request, &response, *context_, limits_); !s.ok()) return s.error();
    return response.match();
  }

  Argon2Limits limits_;
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

TEST_F(Argon2Test, DefaultsFollowOwasp) {
  auto phc = hash("correct horse", 0);
  ASSERT_TRUE(phc.ok()) << phc.error().message;
  auto parsed = parse_phc_argon2(phc.value(), "hash");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().memory_cost, 19456u);
  EXPECT_EQ(parsed.value().time_cost, 2u);
  EXPECT_EQ(parsed.value().parallelism, 1u);
  EXPECT_EQ(parsed.value().salt.size(), 16u);
  EXPECT_EQ(parsed.value().hash.size(), 32u);
  EXPECT_EQ(phc.value().rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u);
}

TEST_F(Argon2Test, HashThenVerify) {
  auto phc = hash("correct horse");
  ASSERT_TRUE(phc.ok());
  EXPECT_TRUE(verify(phc.value(), "correct horse").value());
  EXPECT_FALSE(verify(phc.value(), "correct horsf").value());
  EXPECT_FALSE(verify(phc.value(), "").value());
}

TEST_F(Argon2Test, SaltsAreRandom) {
  EXPECT_NE(hash("same").value(), hash("same").value());
}

TEST_F(Argon2Test, VerifiesReferenceVector) {
  const std::string reference =
      "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
  EXPECT_TRUE(verify(reference, "password").value());
  EXPECT_FALSE(verify(reference, "passwore").value());
}

TEST_F(Argon2Test, SodiumFastPathMatchesLibargon2) {
  // p=1 with a 16-byte salt takes libsodium; the same inputs through
  // libargon2 must give the same bytes.
  const std::string salt = "0123456789abcdef";
  auto phc = hash("interop", kTestMemoryCost, 1, salt);
  ASSERT_TRUE(phc.ok());
  auto parsed = parse_phc_argon2(phc.value(), "hash");
  ASSERT_TRUE(parsed.ok());

  std::string expected(32, '\0');
  ASSERT_EQ(argon2id_hash_raw(2, kTestMemoryCost, 1, "interop", 7, salt.data(), salt.size(),
                              expected.data(), expected.size()),
            ARGON2_OK);
  EXPECT_EQ(parsed.value().hash, expected);
}

TEST_F(Argon2Test, ParallelismAboveOneUsesLibargon2AndVerifies) {
  auto phc = hash("lanes", kTestMemoryCost, 4);
  ASSERT_TRUE(phc.ok()) << phc.error().message;
  EXPECT_NE(phc.value().find(",p=4$"), std::string::npos);
  EXPECT_TRUE(verify(phc.value(), "lanes").value());
}

TEST_F(Argon2Test, VerifiesNpmParameterOrder) {
  auto phc = hash("order");
  ASSERT_TRUE(phc.ok());
  auto parsed = parse_phc_argon2(phc.value(), "hash").value();
  // Rewrite "m=..,t=..,p=.." as the npm argon2 package does: "m=..,p=..,t=..".
  const std::string npm_style = fmt::format(
      "$argon2id$v=19$m={},p={},t={}${}${}", parsed.memory_cost, parsed.parallelism, parsed.time_cost,
      base64_encode(parsed.salt, Base64Alphabet::kStandard), base64_encode(parsed.hash, Base64Alphabet::kStandard));
  EXPECT_TRUE(verify(npm_style, "order").value());
}

TEST_F(Argon2Test, VerifiesArgon2iAndArgon2d) {
  const std::string salt = "saltsaltsalt";
  for (const auto type : {Argon2_i, Argon2_d}) {
    char encoded[256];
    ASSERT_EQ(argon2_hash(3, 256, 1, "pw", 2, salt.data(), salt.size(), nullptr, 32, encoded,
                          sizeof encoded, type, ARGON2_VERSION_13),
              ARGON2_OK);
    EXPECT_TRUE(verify(encoded, "pw").value()) << encoded;
    EXPECT_FALSE(verify(encoded, "pW").value()) << encoded;
  }
}

TEST_F(Argon2Test, MemoryCostAboveBoundNamesField) {
  limits_.max_memory_cost = 65536;
  auto phc = hash("pw", 1048576);
  ASSERT_FALSE(phc.ok());
  EXPECT_EQ(phc.error().code, Code::kInvalidArgument);
  EXPECT_EQ(phc.error().field, "memory_cost");
  EXPECT_EQ(phc.error().bound, "in 8..65536 KiB");
  EXPECT_EQ(phc.error().value, "1048576 KiB");
}

TEST_F(Argon2Test, MemoryCostBelowEightPerLaneIsRejected) {
  auto phc = hash("pw", 16, 4);
  ASSERT_FALSE(phc.ok());
  EXPECT_EQ(phc.error().field, "memory_cost");
  EXPECT_EQ(phc.error().bound, "in 32..262144 KiB");
}

TEST_F(Argon2Test, OtherBoundsNameTheirFields) {
  v1::Argon2idHashRequest request;
  v1::Argon2idHashResponse response;
  request.set_memory_cost(kTestMemoryCost);

  request.set_salt("short");
  EXPECT_EQ(argon2id_hash(request, &response, *context_, limits_).error().field, "salt");
  request.clear_salt();

  request.set_hash_length(8);
  EXPECT_EQ(argon2id_hash(request, &response, *context_, limits_).error().field, "hash_length");
  request.clear_hash_length();

  request.set_time_cost(11);
  EXPECT_EQ(argon2id_hash(request, &response, *context_, limits_).error().field, "time_cost");
  request.clear_time_cost();

  request.set_parallelism(9);
  EXPECT_EQ(argon2id_hash(request, &response, *context_, limits_).error().field, "parallelism");
  request.clear_parallelism();

  limits_.max_password_bytes = 4;
  request.set_password("12345");
  EXPECT_EQ(argon2id_hash(request, &response, *context_, limits_).error().field, "password");
}

TEST_F(Argon2Test, ForgedHashAboveBoundIsRejectedBeforeComputing) {
  limits_.max_memory_cost = 65536;
  auto result = verify(
      "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "pw");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().field, "hash.m");
  EXPECT_EQ(result.error().bound, "in 8..65536 KiB");
}

TEST_F(Argon2Test, MalformedHashNamesHashField) {
  auto result = verify("not a hash", "pw");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().field, "hash");
  EXPECT_EQ(result.error().reason, "MALFORMED_HASH");
}

TEST_F(Argon2Test, ExpiredDeadlineStopsBeforeHashing) {
  context_ = std::make_shared<TaskContext>("expired", TaskContext::Clock::now());
  auto phc = hash("pw");
  ASSERT_FALSE(phc.ok());
  EXPECT_EQ(phc.error().code, Code::kDeadlineExceeded);
}

}  // namespace
}  // namespace heavylift
