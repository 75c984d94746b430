#include "tasks/crypto/aead.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdio>
#include <fstream>

#include "tasks/crypto/base64.h"
#include "tasks/crypto/crypto_tasks.h"
#include "testdata.h"

namespace heavylift {
namespace {

using testdata::unhex;

// Runs one Wycheproof AEAD file through `open` (and `seal` where given):
// valid cases must decrypt to msg (and encrypt to ct || tag), invalid ones
// must fail to open.
// OpenSSL's GCM takes nonces of at most 128 bytes (the envelope uses 12);
// valid cases with longer nonces are counted apart and must fail cleanly.
constexpr size_t kMaxGcmNonceBits = 1024;

template <typename Open>
void check_wycheproof_aead(const nlohmann::json& vectors, Open open, bool seal_gcm) {
  int valid = 0, invalid = 0, unsupported = 0;
  for (const auto& group : vectors["testGroups"]) {
    const size_t tag_bytes = group["tagSize"].get<size_t>() / 8;
    const bool long_nonce = seal_gcm && group["ivSize"].get<size_t>() > kMaxGcmNonceBits;
    for (const auto& test : group["tests"]) {
      const std::string key = unhex(test["key"]), iv = unhex(test["iv"]), aad = unhex(test["aad"]);
      const std::string msg = unhex(test["msg"]), sealed = unhex(test["ct"]) + unhex(test["tag"]);
      const std::string label = "tcId " + std::to_string(test["tcId"].get<int>()) + " " + test["comment"].get<std::string>();
      std::string plaintext;
      const bool opened = open(key, iv, aad, sealed, tag_bytes, &plaintext);
      if (long_nonce) {
        EXPECT_FALSE(opened) << label;
        ++unsupported;
        continue;
      }
      if (test["result"] == "valid") {
        EXPECT_TRUE(opened) << label;
        EXPECT_EQ(plaintext, msg) << label;
        if (seal_gcm) {
          std::string again;
          EXPECT_TRUE(aes_gcm_seal(key, iv, aad, msg, tag_bytes, &again)) << label;
          EXPECT_EQ(again, sealed) << label;
        }
        ++valid;
      } else {
        EXPECT_FALSE(opened) << label;
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 50);
  if (unsupported > 0) {
    std::printf("note: %d Wycheproof AES-GCM cases use nonces over 128 bytes, which OpenSSL does not take\n",
                unsupported);
  }
}

TEST(Aead, PassesWycheproofAesGcm) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "aes_gcm_test.json");
  check_wycheproof_aead(*vectors, aes_gcm_open, true);
}

TEST(Aead, PassesWycheproofChaCha20Poly1305) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "chacha20_poly1305_test.json");
  check_wycheproof_aead(
      *vectors,
      [](auto key, auto iv, auto aad, auto sealed, size_t, std::string* out) {
        return chacha20poly1305_open(key, iv, aad, sealed, out);
      },
      false);
}

TEST(Aead, PassesWycheproofXChaCha20Poly1305) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "xchacha20_poly1305_test.json");
  check_wycheproof_aead(
      *vectors,
      [](auto key, auto iv, auto aad, auto sealed, size_t, std::string* out) {
        return xchacha20poly1305_open(key, iv, aad, sealed, out);
      },
      false);
}

class AeadEnvelopeTest : public ::testing::Test {
 protected:
  AeadEnvelopeTest() {
    EXPECT_EQ(sodium_init() >= 0, true);
    auto ring = AeadKeyRing::parse("k2:" + base64url_encode(std::string(32, '2')) + ",k1:" +
                                       base64url_encode(std::string(32, '1')),
                                   "keys");
    EXPECT_TRUE(ring.ok());
    keys_ = std::move(ring).value();
  }

  Result<v1::AeadEncryptResponse> seal(const std::string& plaintext, const std::string& aad,
                                       v1::AeadAlgorithm algorithm, const std::string& key_id = "") {
    v1::AeadEncryptRequest request;
    request.set_plaintext(plaintext);
    request.set_associated_data(aad);
    request.set_algorithm(algorithm);
    request.set_key_id(key_id);
    v1::AeadEncryptResponse response;
    if (Status s = aead_encrypt(request, &response, *context_, keys_, limits_); !s.ok()) return s.error();
    return response;
  }

  Result<v1::AeadDecryptResponse> open(const std::string& envelope, const std::string& aad) {
    v1::AeadDecryptRequest request;
    request.set_envelope(envelope);
    request.set_associated_data(aad);
    v1::AeadDecryptResponse response;
    if (Status s = aead_decrypt(request, &response, *context_, keys_, limits_); !s.ok()) return s.error();
    return response;
  }

  AeadKeyRing keys_;
  AeadLimits limits_;
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

TEST_F(AeadEnvelopeTest, RoundTripsBothAlgorithms) {
  for (auto algorithm : {v1::AEAD_ALGORITHM_AES_256_GCM, v1::AEAD_ALGORITHM_XCHACHA20_POLY1305}) {
    auto sealed = seal("card 4111", "user:7", algorithm);
    ASSERT_TRUE(sealed.ok()) << sealed.error().message;
    const std::string& envelope = sealed.value().envelope();
    EXPECT_EQ(envelope[0], 1);
    EXPECT_EQ(envelope[1], algorithm == v1::AEAD_ALGORITHM_AES_256_GCM ? 1 : 2);
    EXPECT_EQ(envelope.substr(2, 3), std::string("\x02k2", 3));
    EXPECT_EQ(envelope.size(), 5 + (algorithm == v1::AEAD_ALGORITHM_AES_256_GCM ? 12u : 24u) + 9 + 16);
    auto opened = open(envelope, "user:7");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(opened.value().plaintext(), "card 4111");
    EXPECT_EQ(opened.value().key_id(), "k2");
    EXPECT_FALSE(opened.value().key_rotated());
  }
  // Random nonces: the same input never gives the same envelope.
  EXPECT_NE(seal("x", "", v1::AEAD_ALGORITHM_DEFAULT).value().envelope(),
            seal("x", "", v1::AEAD_ALGORITHM_DEFAULT).value().envelope());
}

TEST_F(AeadEnvelopeTest, DecryptsAfterKeyRotation) {
  auto old = seal("kept", "", v1::AEAD_ALGORITHM_AES_256_GCM, "k1");
  ASSERT_TRUE(old.ok());
  // A new primary arrives; k1 stays in the ring for old envelopes.
  auto rotated = AeadKeyRing::parse("k3:" + base64url_encode(std::string(32, '3')) + ",k1:" +
                                        base64url_encode(std::string(32, '1')),
                                    "keys");
  keys_ = std::move(rotated).value();
  auto opened = open(old.value().envelope(), "");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened.value().plaintext(), "kept");
  EXPECT_TRUE(opened.value().key_rotated());
  EXPECT_EQ(seal("new", "", v1::AEAD_ALGORITHM_DEFAULT).value().key_id(), "k3");
}

TEST_F(AeadEnvelopeTest, RejectsTampering) {
  for (auto algorithm : {v1::AEAD_ALGORITHM_AES_256_GCM, v1::AEAD_ALGORITHM_XCHACHA20_POLY1305}) {
    const std::string envelope = seal("secret text", "aad", algorithm).value().envelope();
    // Flip a bit in the ciphertext, the tag and the nonce; change the aad.
    for (size_t at : {envelope.size() - 20, envelope.size() - 1, size_t{6}}) {
      std::string changed = envelope;
      changed[at] ^= 0x01;
      auto result = open(changed, "aad");
      ASSERT_FALSE(result.ok()) << at;
      EXPECT_EQ(result.error().reason, "DECRYPTION_FAILED");
    }
    EXPECT_EQ(open(envelope, "aad!").error().reason, "DECRYPTION_FAILED");
    // Pointing the header at the other key fails too.
    std::string other = envelope;
    other[4] = '1';
    EXPECT_EQ(open(other, "aad").error().reason, "DECRYPTION_FAILED");
    EXPECT_EQ(open(envelope.substr(0, 20), "aad").error().reason, "MALFORMED_ENVELOPE");
    std::string version = envelope;
    version[0] = 2;
    EXPECT_EQ(open(version, "aad").error().reason, "MALFORMED_ENVELOPE");
  }
}

TEST_F(AeadEnvelopeTest, RequestKeysNeedTheOperator) {
  v1::AeadEncryptRequest request;
  request.set_plaintext("x");
  request.set_key(std::string(32, 'k'));
  v1::AeadEncryptResponse response;
  auto denied = aead_encrypt(request, &response, *context_, keys_, limits_);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);

  limits_.allow_request_keys = true;
  ASSERT_TRUE(aead_encrypt(request, &response, *context_, keys_, limits_).ok());
  EXPECT_EQ(response.envelope()[2], 0);
  v1::AeadDecryptRequest open_request;
  open_request.set_envelope(response.envelope());
  open_request.set_key(std::string(32, 'k'));
  v1::AeadDecryptResponse opened;
  ASSERT_TRUE(aead_decrypt(open_request, &opened, *context_, keys_, limits_).ok());
  EXPECT_EQ(opened.plaintext(), "x");
}

TEST_F(AeadEnvelopeTest, ChecksSizesAndKeyIds) {
  limits_.max_plaintext_bytes = 8;
  auto big = seal("123456789", "", v1::AEAD_ALGORITHM_DEFAULT);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().bound, "<= 8 bytes");
  EXPECT_EQ(seal("x", "", v1::AEAD_ALGORITHM_DEFAULT, "nope").error().code, Code::kNotFound);

  v1::AeadEncryptRequest request;
  request.set_nonce("short");
  v1::AeadEncryptResponse response;
  EXPECT_EQ(aead_encrypt(request, &response, *context_, keys_, limits_).error().field, "nonce");
  EXPECT_FALSE(AeadKeyRing::parse("bad id:" + base64url_encode(std::string(32, 'x')), "keys").ok());
  EXPECT_FALSE(AeadKeyRing::parse("k:" + base64url_encode(std::string(16, 'x')), "keys").ok());
  auto empty = AeadKeyRing::parse("", "keys").value();
  EXPECT_EQ(aead_encrypt(request, &response, *context_, empty, limits_).error().reason, "NO_KEYS");
}

TEST(AeadKeyRing, LoadsKeyFile) {
  const std::string path = ::testing::TempDir() + "/aead_test.keys";
  {
    std::ofstream file(path);
    file << "# rotated 2026-01\nold " << base64_encode(std::string(32, 'o'), Base64Alphabet::kStandard)
         << "=\nnew:" << base64url_encode(std::string(32, 'n')) << "\nprimary new\n";
  }
  auto ring = AeadKeyRing::load_file(path);
  ASSERT_TRUE(ring.ok()) << ring.error().message;
  EXPECT_EQ(ring.value().size(), 2u);
  EXPECT_EQ(ring.value().primary_id(), "new");
  EXPECT_EQ(*ring.value().find("old"), std::string(32, 'o'));
  std::remove(path.c_str());
}

TEST(AeadKeyRing, ReloadSwapsRingAndKeepsOldOnError) {
  const std::string path = ::testing::TempDir() + "/aead_reload_test.keys";
  auto write = [&](const std::string& text) {
    std::ofstream file(path, std::ios::trunc);
    file << text;
  };
  const std::string a = base64url_encode(std::string(32, 'a'));
  const std::string b = base64url_encode(std::string(32, 'b'));
  write("a " + a + "\n");
  CryptoConfig config;
  config.aead_key_file = path;
  auto keys = load_crypto_keys(config);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  const auto before = keys.value()->aead();
  EXPECT_EQ(before->primary_id(), "a");

  write("a " + a + "\nb " + b + "\nprimary b\n");
  ASSERT_TRUE(reload_aead_keys(config, *keys.value()).ok());
  EXPECT_EQ(keys.value()->aead()->primary_id(), "b");
  EXPECT_EQ(keys.value()->aead()->size(), 2u);
  // A call that took the ring before the reload keeps using it.
  EXPECT_EQ(before->primary_id(), "a");
  EXPECT_EQ(before->size(), 1u);

  write("b not-base64!\n");
  auto failed = reload_aead_keys(config, *keys.value());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().field, "crypto.aead.key_file");
  EXPECT_EQ(keys.value()->aead()->primary_id(), "b");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace heavylift
