#include "tasks/crypto/digest.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "testdata.h"

namespace heavylift {
namespace {

using testdata::hex;
using testdata::unhex;

class DigestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  DigestLimits limits_;
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

TEST(Digest, HmacRfc4231) {
  // Test cases 1, 2 and 6 of RFC 4231.
  EXPECT_EQ(hex(hmac_sha2(false, std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac_sha2(true, std::string(20, '\x0b'), "Hi There")),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb6"
            "1f1702e696c203a126854");
  EXPECT_EQ(hex(hmac_sha2(false, "Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac_sha2(true, "Jefe", "what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a"
            "6b4b636e070a38bce737");
  EXPECT_EQ(hex(hmac_sha2(false, std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Valid cases must produce the tag (truncated to tagSize); invalid ones must
// not match.
void check_wycheproof_hmac(const nlohmann::json& vectors, bool sha512) {
  int valid = 0, invalid = 0;
  for (const auto& group : vectors["testGroups"]) {
    const size_t tag_bytes = group["tagSize"].get<size_t>() / 8;
    for (const auto& test : group["tests"]) {
      const std::string mac = hmac_sha2(sha512, unhex(test["key"]), unhex(test["msg"])).substr(0, tag_bytes);
      const bool match = constant_time_equal(mac, unhex(test["tag"]));
      if (test["result"] == "valid") {
        EXPECT_TRUE(match) << test["tcId"];
        ++valid;
      } else {
        EXPECT_FALSE(match) << test["tcId"];
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 50);
  EXPECT_GT(invalid, 50);
}

TEST(Digest, PassesWycheproofHmacSha256) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "hmac_sha256_test.json");
  check_wycheproof_hmac(*vectors, false);
}

TEST(Digest, PassesWycheproofHmacSha512) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "hmac_sha512_test.json");
  check_wycheproof_hmac(*vectors, true);
}

TEST(Digest, PassesWycheproofHkdfSha256) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "hkdf_sha256_test.json");
  int valid = 0, invalid = 0;
  for (const auto& group : (*vectors)["testGroups"]) {
    for (const auto& test : group["tests"]) {
      std::string okm;
      const bool ok = hkdf_sha2(false, unhex(test["ikm"]), unhex(test["salt"]), unhex(test["info"]),
                                test["size"].get<size_t>(), &okm);
      if (test["result"] == "valid") {
        EXPECT_TRUE(ok) << test["tcId"];
        EXPECT_EQ(hex(okm), test["okm"].get<std::string>()) << test["tcId"];
        ++valid;
      } else {
        EXPECT_FALSE(ok) << test["tcId"];
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 50);
  EXPECT_GE(invalid, 1);
}

TEST_F(DigestTest, HashesWithEachAlgorithm) {
  v1::HashRequest request;
  request.set_data("abc");
  v1::HashResponse response;
  ASSERT_TRUE(hash_task(request, &response, *context_, limits_).ok());
  EXPECT_EQ(hex(response.digest()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  request.set_algorithm(v1::HASH_ALGORITHM_SHA512);
  ASSERT_TRUE(hash_task(request, &response, *context_, limits_).ok());
  EXPECT_EQ(hex(response.digest()).substr(0, 32), "ddaf35a193617abacc417349ae204131");
  // BLAKE2b-512("abc") from RFC 7693 appendix A.
  request.set_algorithm(v1::HASH_ALGORITHM_BLAKE2B);
  request.set_output_length(64);
  ASSERT_TRUE(hash_task(request, &response, *context_, limits_).ok());
  EXPECT_EQ(hex(response.digest()),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8db"
            "f1925ab92386edd4009923");
  request.set_output_length(65);
  EXPECT_EQ(hash_task(request, &response, *context_, limits_).error().field, "output_length");
  limits_.max_input_bytes = 2;
  EXPECT_EQ(hash_task(request, &response, *context_, limits_).error().bound, "<= 2 bytes");
}

TEST_F(DigestTest, HmacTaskComparesInConstantTime) {
  v1::HmacRequest request;
  request.set_key("Jefe");
  request.set_data("what do ya want for nothing?");
  request.set_expected(unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
  v1::HmacResponse response;
  ASSERT_TRUE(hmac_task(request, &response, *context_, limits_).ok());
  EXPECT_TRUE(response.match());
  request.set_expected(response.mac().substr(0, 31));
  ASSERT_TRUE(hmac_task(request, &response, *context_, limits_).ok());
  EXPECT_FALSE(response.match());
  request.set_key("");
  EXPECT_EQ(hmac_task(request, &response, *context_, limits_).error().reason, "EMPTY");
}

TEST_F(DigestTest, CompareAndRandom) {
  v1::CompareRequest compare;
  compare.set_a("same");
  compare.set_b("same");
  v1::CompareResponse equal;
  ASSERT_TRUE(compare_task(compare, &equal, *context_, limits_).ok());
  EXPECT_TRUE(equal.equal());
  compare.set_b("samf");
  ASSERT_TRUE(compare_task(compare, &equal, *context_, limits_).ok());
  EXPECT_FALSE(equal.equal());

  v1::RandomRequest random;
  v1::RandomResponse first, second;
  ASSERT_TRUE(random_task(random, &first, *context_, limits_).ok());
  ASSERT_TRUE(random_task(random, &second, *context_, limits_).ok());
  EXPECT_EQ(first.data().size(), 32u);
  EXPECT_EQ(first.token().size(), 43u);
  EXPECT_EQ(first.token().find_first_of("+/="), std::string::npos);
  EXPECT_NE(first.data(), second.data());
  random.set_length(65537);
  EXPECT_EQ(random_task(random, &first, *context_, limits_).error().field, "length");
}

}  // namespace
}  // namespace heavylift
