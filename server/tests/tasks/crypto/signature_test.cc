#include <gtest/gtest.h>
#include <sodium.h>

#include "tasks/crypto/asymmetric_key.h"
#include "tasks/crypto/crypto_tasks.h"
#include "testdata.h"

namespace heavylift {
namespace {

using testdata::hex;
using testdata::unhex;

class SignatureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  CryptoConfig config_;
};

TEST_F(SignatureTest, Ed25519Rfc8032Vectors) {
  struct Vector {
    const char* seed;
    const char* public_key;
    const char* message;
    const char* signature;
  };
  const Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
       "24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
       "eeb00d291612bb0c00"},
  };
  for (const auto& v : vectors) {
    auto key = AsymmetricKey::from_ed25519(unhex(v.public_key), unhex(v.seed), "key");
    ASSERT_TRUE(key.ok()) << key.error().message;
    auto signature = key.value().sign(unhex(v.message), SignatureParams{});
    ASSERT_TRUE(signature.ok());
    EXPECT_EQ(hex(signature.value()), v.signature);
    EXPECT_TRUE(key.value().verify(unhex(v.message), signature.value(), SignatureParams{}));
    EXPECT_FALSE(key.value().verify(unhex(v.message) + "x", signature.value(), SignatureParams{}));
  }
  // A seed whose public key is not the one given is refused.
  EXPECT_FALSE(AsymmetricKey::from_ed25519(unhex(vectors[1].public_key), unhex(vectors[0].seed), "key").ok());
}

TEST_F(SignatureTest, PassesWycheproofEd25519) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "ed25519_test.json");
  int valid = 0, invalid = 0;
  for (const auto& group : (*vectors)["testGroups"]) {
    auto key = AsymmetricKey::from_ed25519(unhex(group["publicKey"]["pk"]), "", "key");
    ASSERT_TRUE(key.ok());
    for (const auto& test : group["tests"]) {
      const bool ok = key.value().verify(unhex(test["msg"]), unhex(test["sig"]), SignatureParams{});
      if (test["result"] == "valid") {
        EXPECT_TRUE(ok) << test["tcId"];
        ++valid;
      } else {
        EXPECT_FALSE(ok) << test["tcId"] << " " << test["comment"];
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 50);
  EXPECT_GT(invalid, 50);
}

void check_wycheproof_ecdsa(const nlohmann::json& vectors, bool der) {
  int valid = 0, invalid = 0;
  for (const auto& group : vectors["testGroups"]) {
    auto key = AsymmetricKey::from_der(unhex(group["publicKeyDer"]), "key");
    ASSERT_TRUE(key.ok()) << key.error().message;
    for (const auto& test : group["tests"]) {
      std::string signature = unhex(test["sig"]);
      bool ok = false;
      if (der) {
        auto p1363 = ecdsa_der_to_p1363(signature, 32);
        ok = p1363 && key.value().verify(unhex(test["msg"]), *p1363, SignatureParams{});
      } else {
        ok = key.value().verify(unhex(test["msg"]), signature, SignatureParams{});
      }
      if (test["result"] == "valid") {
        EXPECT_TRUE(ok) << test["tcId"] << " " << test["comment"];
        ++valid;
      } else {
        EXPECT_FALSE(ok) << test["tcId"] << " " << test["comment"];
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 50);
}

TEST_F(SignatureTest, PassesWycheproofEcdsaP256Der) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "ecdsa_secp256r1_sha256_test.json");
  check_wycheproof_ecdsa(*vectors, true);
}

TEST_F(SignatureTest, PassesWycheproofEcdsaP256P1363) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "ecdsa_secp256r1_sha256_p1363_test.json");
  check_wycheproof_ecdsa(*vectors, false);
}

TEST_F(SignatureTest, KeygenSignVerifyTasks) {
  for (auto algorithm : {v1::SIGNATURE_ALGORITHM_ED25519, v1::SIGNATURE_ALGORITHM_ECDSA_P256_SHA256}) {
    v1::KeyGenerateRequest keygen;
    keygen.set_algorithm(algorithm);
    v1::KeyGenerateResponse keys;
    ASSERT_TRUE(keygen_task(keygen, &keys).ok());
    EXPECT_NE(keys.private_key_pem().find("BEGIN PRIVATE KEY"), std::string::npos);
    EXPECT_NE(keys.public_jwk().find("\"kty\""), std::string::npos);

    for (auto format : {v1::SIGNATURE_FORMAT_DEFAULT, v1::SIGNATURE_FORMAT_DER}) {
      if (format == v1::SIGNATURE_FORMAT_DER && algorithm == v1::SIGNATURE_ALGORITHM_ED25519) continue;
      v1::SignRequest sign;
      sign.set_algorithm(algorithm);
      sign.set_private_key_pem(keys.private_key_pem());
      sign.set_message("order 42");
      sign.set_format(format);
      v1::SignResponse signed_message;
      ASSERT_TRUE(sign_task(sign, &signed_message, config_).ok());
      if (format == v1::SIGNATURE_FORMAT_DEFAULT) {
        EXPECT_EQ(signed_message.signature().size(), 64u);
      }

      v1::VerifyRequest verify;
      verify.set_algorithm(algorithm);
      verify.set_public_key_pem(keys.public_key_pem());
      verify.set_message("order 42");
      verify.set_signature(signed_message.signature());
      verify.set_format(format);
      v1::VerifyResponse verdict;
      ASSERT_TRUE(verify_task(verify, &verdict, config_).ok());
      EXPECT_TRUE(verdict.valid());
      verify.set_message("order 43");
      ASSERT_TRUE(verify_task(verify, &verdict, config_).ok());
      EXPECT_FALSE(verdict.valid());
    }
  }
}

TEST_F(SignatureTest, KeyMismatchesAreClearErrors) {
  v1::KeyGenerateRequest keygen;
  keygen.set_algorithm(v1::SIGNATURE_ALGORITHM_ED25519);
  v1::KeyGenerateResponse keys;
  ASSERT_TRUE(keygen_task(keygen, &keys).ok());
  v1::SignRequest sign;
  sign.set_algorithm(v1::SIGNATURE_ALGORITHM_ECDSA_P256_SHA256);
  sign.set_private_key_pem(keys.private_key_pem());
  v1::SignResponse response;
  auto mismatch = sign_task(sign, &response, config_);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().reason, "KEY_MISMATCH");
  sign.set_algorithm(v1::SIGNATURE_ALGORITHM_ED25519);
  sign.set_private_key_pem(keys.public_key_pem());
  EXPECT_EQ(sign_task(sign, &response, config_).error().reason, "PUBLIC_KEY");
  sign.set_private_key_pem("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
  EXPECT_EQ(sign_task(sign, &response, config_).error().field, "private_key_pem");
}

TEST_F(SignatureTest, BatchesReturnOneResultPerItem) {
  for (auto algorithm : {v1::SIGNATURE_ALGORITHM_ED25519, v1::SIGNATURE_ALGORITHM_ECDSA_P256_SHA256}) {
    v1::KeyGenerateRequest keygen;
    keygen.set_algorithm(algorithm);
    v1::KeyGenerateResponse keys;
    ASSERT_TRUE(keygen_task(keygen, &keys).ok());
    auto context = TaskContext::unbounded();

    v1::SignBatchRequest sign;
    sign.set_algorithm(algorithm);
    sign.set_private_key_pem(keys.private_key_pem());
    for (int i = 0; i < 100; ++i) sign.add_messages("message " + std::to_string(i));
    v1::SignBatchResponse signatures;
    ASSERT_TRUE(sign_batch_task(sign, &signatures, *context, config_).ok());
    ASSERT_EQ(signatures.results_size(), 100);

    v1::VerifyBatchRequest verify;
    verify.set_algorithm(algorithm);
    verify.set_public_key_pem(keys.public_key_pem());
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(signatures.results(i).has_error()) << i;
      // Each result is the signature of its own message, in order.
      v1::VerifyRequest one;
      one.set_algorithm(algorithm);
      one.set_public_key_pem(keys.public_key_pem());
      one.set_message(sign.messages(i));
      one.set_signature(signatures.results(i).signature());
      v1::VerifyResponse verdict;
      ASSERT_TRUE(verify_task(one, &verdict, config_).ok());
      EXPECT_TRUE(verdict.valid()) << i;

      auto* item = verify.add_items();
      item->set_message(i % 3 == 0 ? "tampered" : sign.messages(i));
      item->set_signature(signatures.results(i).signature());
    }
    // An item with its own, unreadable key fails alone.
    verify.mutable_items(7)->set_public_key_pem("not a key");
    v1::VerifyBatchResponse verdicts;
    ASSERT_TRUE(verify_batch_task(verify, &verdicts, *context, config_).ok());
    ASSERT_EQ(verdicts.results_size(), 100);
    for (int i = 0; i < 100; ++i) {
      if (i == 7) {
        EXPECT_EQ(verdicts.results(i).error().field(), "items[7].public_key_pem");
        EXPECT_EQ(verdicts.results(i).error().code(), "INVALID_ARGUMENT");
        continue;
      }
      EXPECT_FALSE(verdicts.results(i).has_error()) << i;
      EXPECT_EQ(verdicts.results(i).valid(), i % 3 != 0) << i;
    }
  }
}

TEST_F(SignatureTest, BatchBoundsNameFieldAndBound) {
  v1::KeyGenerateRequest keygen;
  v1::KeyGenerateResponse keys;
  ASSERT_TRUE(keygen_task(keygen, &keys).ok());
  auto context = TaskContext::unbounded();
  CryptoConfig config;
  config.signature_batch_max_items = 3;
  config.signature_batch_max_bytes = 10;

  v1::SignBatchRequest sign;
  sign.set_private_key_pem(keys.private_key_pem());
  v1::SignBatchResponse response;
  auto empty = sign_batch_task(sign, &response, *context, config);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().field, "messages");
  EXPECT_EQ(empty.error().reason, "EMPTY");

  for (int i = 0; i < 4; ++i) sign.add_messages("m");
  auto too_many = sign_batch_task(sign, &response, *context, config);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, Code::kInvalidArgument);
  EXPECT_EQ(too_many.error().field, "messages");
  EXPECT_EQ(too_many.error().bound, "<= 3 items");
  EXPECT_EQ(too_many.error().value, "4 items");

  sign.clear_messages();
  sign.add_messages("0123456789a");
  auto too_big = sign_batch_task(sign, &response, *context, config);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().bound, "<= 10 bytes");
  EXPECT_NE(too_big.error().message.find("crypto.signature_batch.max_bytes"), std::string::npos);

  // Signature bytes count towards the verify bound as well.
  v1::VerifyBatchRequest verify;
  verify.set_public_key_pem(keys.public_key_pem());
  auto* item = verify.add_items();
  item->set_message("m");
  item->set_signature(std::string(64, 'x'));
  v1::VerifyBatchResponse verdicts;
  auto verify_too_big = verify_batch_task(verify, &verdicts, *context, config);
  ASSERT_FALSE(verify_too_big.ok());
  EXPECT_EQ(verify_too_big.error().field, "items");
  EXPECT_EQ(verify_too_big.error().value, "65 bytes");

  // A bad request key fails the whole call, naming it.
  config.signature_batch_max_bytes = 1 << 20;
  sign.set_private_key_pem(keys.public_key_pem());
  auto public_key = sign_batch_task(sign, &response, *context, config);
  ASSERT_FALSE(public_key.ok());
  EXPECT_EQ(public_key.error().field, "private_key_pem");
  EXPECT_EQ(public_key.error().reason, "PUBLIC_KEY");
}

TEST_F(SignatureTest, JwtTasksUseTheKeySet) {
  JwtKeySet keys;
  ASSERT_TRUE(keys.add(JwtKey::generate("main", JwsAlgorithm::kEdDSA).value()).ok());
  const auto now = std::chrono::system_clock::now();
  v1::JwtSignRequest sign;
  sign.set_claims_json(R"({"sub":"u1","rooms":["lobby"]})");
  sign.set_expires_in_seconds(60);
  v1::JwtSignResponse token;
  ASSERT_TRUE(jwt_sign_task(sign, &token, keys, now).ok());

  v1::JwtVerifyRequest verify;
  verify.set_token(token.token());
  v1::JwtVerifyResponse claims;
  ASSERT_TRUE(jwt_verify_task(verify, &claims, keys, config_, now).ok());
  EXPECT_EQ(claims.subject(), "u1");
  EXPECT_EQ(claims.algorithm(), "EdDSA");
  EXPECT_EQ(claims.key_id(), "main");
  EXPECT_NE(claims.claims_json().find("lobby"), std::string::npos);

  auto expired = jwt_verify_task(verify, &claims, keys, config_, now + std::chrono::seconds(200));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Code::kUnauthenticated);
  EXPECT_EQ(expired.error().reason, "EXPIRED");

  // A missing token is a missing credential.
  verify.set_token("");
  auto empty = jwt_verify_task(verify, &claims, keys, config_, now);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Code::kUnauthenticated);
  EXPECT_EQ(empty.error().reason, "MALFORMED");

  sign.set_claims_json("[1]");
  EXPECT_EQ(jwt_sign_task(sign, &token, keys, now).error().field, "claims_json");
  sign.set_key_id("missing");
  EXPECT_EQ(jwt_sign_task(sign, &token, keys, now).error().code, Code::kNotFound);
}

}  // namespace
}  // namespace heavylift
