#include "tasks/crypto/password.h"

#include <argon2.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "testdata.h"

namespace heavylift {
namespace {

using testdata::hex;
using testdata::unhex;

class PasswordTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(argon2_init()); }

  PasswordTest() {
    // Low costs keep the suite fast; the bounds tests set their own.
    limits_.bcrypt_default_cost = 4;
  }

  Result<std::string> bcrypt(const std::string& password, uint32_t cost = 4,
                             v1::BcryptLongPassword policy = v1::BCRYPT_LONG_PASSWORD_DEFAULT) {
    v1::BcryptHashRequest request;
    request.set_password(password);
    request.set_cost(cost);
    request.set_long_password(policy);
    v1::BcryptHashResponse response;
    if (Status s = bcrypt_hash(request, &response, *context_, limits_); !s.ok()) return s.error();
    return response.hash();
  }

  Result<bool> verify(const std::string& password, const std::string& hash,
                      v1::BcryptLongPassword policy = v1::BCRYPT_LONG_PASSWORD_DEFAULT) {
    v1::PasswordVerifyRequest request;
    request.set_password(password);
    request.set_hash(hash);
    request.set_bcrypt_long_password(policy);
    v1::PasswordVerifyResponse response;
    if (Status s = password_verify(request, &response, *context_, limits_); !s.ok()) return s.error();
    return response.match();
  }

  Result<std::string> hash(const std::string& password, const v1::PasswordPolicy& policy) {
    v1::PasswordHashRequest request;
    request.set_password(password);
    *request.mutable_policy() = policy;
    v1::PasswordHashResponse response;
    if (Status s = password_hash(request, &response, *context_, limits_); !s.ok()) return s.error();
    return response.hash();
  }

  Result<v1::PasswordNeedsRehashResponse> needs_rehash(const std::string& hash, const v1::PasswordPolicy& policy) {
    v1::PasswordNeedsRehashRequest request;
    request.set_hash(hash);
    *request.mutable_policy() = policy;
    v1::PasswordNeedsRehashResponse response;
    if (Status s = password_needs_rehash(request, &response, limits_); !s.ok()) return s.error();
    return response;
  }

  PasswordLimits limits_;
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

v1::PasswordPolicy policy_of(v1::PasswordAlgorithm algorithm) {
  v1::PasswordPolicy policy;
  policy.set_algorithm(algorithm);
  return policy;
}

TEST_F(PasswordTest, BcryptWrites2bAndVerifies) {
  auto hashed = bcrypt("correct horse");
  ASSERT_TRUE(hashed.ok()) << hashed.error().message;
  EXPECT_EQ(hashed.value().rfind("$2b$04$", 0), 0u);
  EXPECT_EQ(hashed.value().size(), 60u);
  EXPECT_TRUE(verify("correct horse", hashed.value()).value());
  EXPECT_FALSE(verify("correct horsf", hashed.value()).value());
}

TEST_F(PasswordTest, BcryptVerifies2a2bAnd2yVectors) {
  // Hashes of "password" at cost 4 as written by OpenBSD-style ($2a$, $2b$)
  // and PHP ($2y$) implementations: one salt and hash, three prefixes.
  auto base = bcrypt("password");
  ASSERT_TRUE(base.ok());
  const std::string body = base.value().substr(3);
  for (const char* prefix : {"$2a", "$2b", "$2y"}) {
    EXPECT_TRUE(verify("password", prefix + body).value()) << prefix;
    EXPECT_FALSE(verify("Password", prefix + body).value()) << prefix;
  }
  // $2x$ is the variant with the sign-extension bug; it is refused.
  auto old = verify("password", "$2x" + body);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().reason, "MALFORMED_HASH");
}

TEST_F(PasswordTest, BcryptKnownAnswer) {
  // The $2a$ vector of the OpenBSD test suite for an empty-salt password "U*U".
  EXPECT_TRUE(verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW").value());
  EXPECT_FALSE(verify("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW").value());
}

TEST_F(PasswordTest, BcryptLongPasswordsFollowThePolicy) {
  const std::string first72(72, 'a');
  const std::string one = first72 + "one";
  const std::string two = first72 + "two";

  // Default policy: rejected, so two passwords equal in their first 72
  // bytes never silently match.
  auto rejected = bcrypt(one);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().reason, "PASSWORD_TOO_LONG");
  EXPECT_EQ(rejected.error().field, "password");
  EXPECT_EQ(rejected.error().bound, "<= 72 bytes");

  // TRUNCATE: the npm bcrypt behaviour, chosen explicitly.
  auto truncated = bcrypt(one, 4, v1::BCRYPT_LONG_PASSWORD_TRUNCATE);
  ASSERT_TRUE(truncated.ok());
  EXPECT_TRUE(verify(two, truncated.value(), v1::BCRYPT_LONG_PASSWORD_TRUNCATE).value());
  EXPECT_EQ(verify(two, truncated.value()).error().reason, "PASSWORD_TOO_LONG");
  // Exactly 72 bytes is fine under either policy.
  EXPECT_TRUE(bcrypt(first72).ok());
}

TEST_F(PasswordTest, BcryptRejectsNulBytes) {
  auto result = bcrypt(std::string("abc\0def", 7));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "PASSWORD_CONTAINS_NUL");
}

TEST_F(PasswordTest, NfcAndNfdAreDifferentPasswords) {
  // "é" precomposed (NFC, C3 A9) and decomposed (NFD, 65 CC 81): heavylift
  // hashes bytes, so they differ unless the caller normalizes.
  const std::string nfc = "caf\xC3\xA9";
  const std::string nfd = "cafe\xCC\x81";
  auto hashed = bcrypt(nfc);
  ASSERT_TRUE(hashed.ok());
  EXPECT_TRUE(verify(nfc, hashed.value()).value());
  EXPECT_FALSE(verify(nfd, hashed.value()).value());
}

TEST_F(PasswordTest, BcryptCostIsBounded) {
  limits_.bcrypt_max_cost = 10;
  auto high = bcrypt("x", 11);
  ASSERT_FALSE(high.ok());
  EXPECT_EQ(high.error().field, "cost");
  EXPECT_EQ(high.error().bound, "in 4..10");
  EXPECT_EQ(bcrypt("x", 3).error().field, "cost");
  // A stored hash above the bound is refused before computing.
  auto forged = verify("x", "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().field, "hash.cost");
}

TEST_F(PasswordTest, PolicyErrorsNamePolicyFields) {
  limits_.bcrypt_max_cost = 10;
  v1::PasswordPolicy bcrypt_policy = policy_of(v1::PASSWORD_ALGORITHM_BCRYPT);
  bcrypt_policy.set_bcrypt_cost(11);
  auto bcrypt_error = hash("x", bcrypt_policy);
  ASSERT_FALSE(bcrypt_error.ok());
  EXPECT_EQ(bcrypt_error.error().field, "policy.bcrypt_cost");
  EXPECT_EQ(bcrypt_error.error().message, "policy.bcrypt_cost must be in 4..10, got 11");

  v1::PasswordPolicy argon2_policy = policy_of(v1::PASSWORD_ALGORITHM_ARGON2ID);
  argon2_policy.set_argon2_memory_cost(limits_.argon2.max_memory_cost + 1);
  auto argon2_error = hash("x", argon2_policy);
  ASSERT_FALSE(argon2_error.ok());
  EXPECT_EQ(argon2_error.error().field, "policy.argon2_memory_cost");
  EXPECT_EQ(argon2_error.error().message.rfind("policy.argon2_memory_cost must be in 8..", 0), 0u)
      << argon2_error.error().message;

  argon2_policy.set_argon2_memory_cost(0);
  argon2_policy.set_argon2_time_cost(1'000'000);
  EXPECT_EQ(hash("x", argon2_policy).error().field, "policy.argon2_time_cost");

  v1::PasswordPolicy scrypt_policy = policy_of(v1::PASSWORD_ALGORITHM_SCRYPT);
  scrypt_policy.set_scrypt_log2_n(25);
  EXPECT_EQ(hash("x", scrypt_policy).error().field, "policy.scrypt_log2_n");
}

TEST_F(PasswordTest, EmptyAndHugePasswordsAreRejected) {
  EXPECT_EQ(bcrypt("").error().reason, "EMPTY");
  auto huge = hash(std::string(10 << 20, 'x'), policy_of(v1::PASSWORD_ALGORITHM_PBKDF2_SHA256));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().field, "password");
  EXPECT_EQ(huge.error().code, Code::kInvalidArgument);
}

TEST_F(PasswordTest, NonUtf8BytesAreHashedAsBytes) {
  const std::string bytes("\xff\xfe\x80secret", 9);
  auto hashed = hash(bytes, policy_of(v1::PASSWORD_ALGORITHM_PBKDF2_SHA256));
  ASSERT_TRUE(hashed.ok());
  EXPECT_TRUE(verify(bytes, hashed.value()).value());
  EXPECT_FALSE(verify("\xfe\xff\x80secret", hashed.value()).value());
}

TEST(PasswordKdf, ScryptRfc7914Vectors) {
  std::string out(64, '\0');
  ASSERT_TRUE(scrypt_kdf("password", "NaCl", 1024, 8, 16, &out));
  EXPECT_EQ(hex(out),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a"
            "83ee6d8360cbdfa2cc0640");
  ASSERT_TRUE(scrypt_kdf("pleaseletmein", "SodiumChloride", 16384, 8, 1, &out));
  EXPECT_EQ(hex(out),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d"
            "651e40dfcf017b45575887");
}

TEST(PasswordKdf, Pbkdf2Sha256Rfc7914Vectors) {
  std::string out(64, '\0');
  ASSERT_TRUE(pbkdf2_kdf("passwd", "salt", 1, false, &out));
  EXPECT_EQ(hex(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1"
            "e30bd509112041d3a19783");
  ASSERT_TRUE(pbkdf2_kdf("Password", "NaCl", 80000, false, &out));
  EXPECT_EQ(hex(out),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebb"
            "a1d078478f62b397f33c8d");
}

TEST(PasswordKdf, Argon2idRfc9106Vector) {
  // RFC 9106 section 5.3, which also uses a secret and associated data;
  // libargon2 (the portable path of crypto.argon2id) must produce its tag.
  std::string password(32, '\x01'), salt(16, '\x02'), secret(8, '\x03'), ad(12, '\x04');
  std::string out(32, '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = 32;
  ctx.pwd = reinterpret_cast<uint8_t*>(password.data());
  ctx.pwdlen = 32;
  ctx.salt = reinterpret_cast<uint8_t*>(salt.data());
  ctx.saltlen = 16;
  ctx.secret = reinterpret_cast<uint8_t*>(secret.data());
  ctx.secretlen = 8;
  ctx.ad = reinterpret_cast<uint8_t*>(ad.data());
  ctx.adlen = 12;
  ctx.t_cost = 3;
  ctx.m_cost = 32;
  ctx.lanes = 4;
  ctx.threads = 4;
  ctx.version = ARGON2_VERSION_13;
  ASSERT_EQ(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
  EXPECT_EQ(hex(out), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

TEST_F(PasswordTest, EveryAlgorithmRoundTrips) {
  v1::PasswordPolicy scrypt = policy_of(v1::PASSWORD_ALGORITHM_SCRYPT);
  scrypt.set_scrypt_log2_n(12);
  v1::PasswordPolicy pbkdf2 = policy_of(v1::PASSWORD_ALGORITHM_PBKDF2_SHA512);
  pbkdf2.set_pbkdf2_iterations(1000);
  v1::PasswordPolicy argon = policy_of(v1::PASSWORD_ALGORITHM_ARGON2ID);
  argon.set_argon2_memory_cost(1024);
  v1::PasswordPolicy bcrypt_policy = policy_of(v1::PASSWORD_ALGORITHM_BCRYPT);
  for (const auto& [policy, prefix] : std::vector<std::pair<v1::PasswordPolicy, std::string>>{
           {scrypt, "$scrypt$ln=12,r=8,p=1$"}, {pbkdf2, "$pbkdf2-sha512$i=1000,l=64$"},
           {argon, "$argon2id$v=19$m=1024,t=2,p=1$"}, {bcrypt_policy, "$2b$04$"}}) {
    auto hashed = hash("s3cret", policy);
    ASSERT_TRUE(hashed.ok()) << prefix << hashed.error().message;
    EXPECT_EQ(hashed.value().rfind(prefix, 0), 0u) << hashed.value();
    EXPECT_TRUE(verify("s3cret", hashed.value()).value()) << prefix;
    EXPECT_FALSE(verify("s3cre7", hashed.value()).value()) << prefix;
  }
}

TEST_F(PasswordTest, MalformedHashesNameTheHashField) {
  for (const std::string& bad :
       {std::string("plaintext"), std::string("$argon2id$v=19$m=1,t=1"), std::string("$2b$04$short"),
        std::string("$scrypt$ln=14,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$scrypt$ln=14,r=8,p=1,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$pbkdf2-sha256$i=01000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$!!")}) {
    auto result = verify("x", bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, Code::kInvalidArgument) << bad;
    EXPECT_EQ(result.error().field.rfind("hash", 0), 0u) << bad;
  }
  // Costs inside a stored hash are bounded like request costs.
  auto scrypt = verify("x", "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA");
  ASSERT_FALSE(scrypt.ok());
  EXPECT_EQ(scrypt.error().field, "hash.log2_n");
}

TEST_F(PasswordTest, NeedsRehashComparesWithThePolicy) {
  v1::PasswordPolicy bcrypt_policy = policy_of(v1::PASSWORD_ALGORITHM_BCRYPT);
  bcrypt_policy.set_bcrypt_cost(5);
  const std::string cost4 = bcrypt("pw").value();
  auto weak = needs_rehash(cost4, bcrypt_policy);
  ASSERT_TRUE(weak.ok());
  EXPECT_TRUE(weak.value().needs_rehash());
  EXPECT_EQ(weak.value().reason(), "bcrypt cost 4 is below 5");
  bcrypt_policy.set_bcrypt_cost(4);
  EXPECT_FALSE(needs_rehash(cost4, bcrypt_policy).value().needs_rehash());

  // Moving from bcrypt to argon2id.
  auto move = needs_rehash(cost4, policy_of(v1::PASSWORD_ALGORITHM_DEFAULT));
  EXPECT_TRUE(move.value().needs_rehash());
  EXPECT_NE(move.value().reason().find("ARGON2ID"), std::string::npos);

  // An npm argon2 hash with the package's old defaults (m=4096, t=3, p=1).
  const std::string npm_old = "$argon2id$v=19$m=4096,p=1,t=3$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
  auto argon = needs_rehash(npm_old, policy_of(v1::PASSWORD_ALGORITHM_ARGON2ID));
  ASSERT_TRUE(argon.ok()) << argon.error().message;
  EXPECT_EQ(argon.value().reason(), "memory cost 4096 KiB is below 19456 KiB");

  EXPECT_EQ(needs_rehash("nonsense", bcrypt_policy).error().reason, "MALFORMED_HASH");
}

TEST_F(PasswordTest, BatchesReturnOneResultPerItem) {
  v1::PasswordHashBatchRequest request;
  for (const std::string& password : {std::string("alpha"), std::string(""), std::string("gamma")}) {
    auto* item = request.add_items();
    item->set_password(password);
    item->mutable_policy()->set_algorithm(v1::PASSWORD_ALGORITHM_BCRYPT);
  }
  v1::PasswordHashBatchResponse response;
  ASSERT_TRUE(password_hash_batch(request, &response, *context_, limits_).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_TRUE(verify("alpha", response.results(0).hash()).value());
  EXPECT_EQ(response.results(1).error().reason(), "EMPTY");
  EXPECT_EQ(response.results(1).error().field(), "password");
  EXPECT_TRUE(response.results(1).hash().empty());
  EXPECT_TRUE(verify("gamma", response.results(2).hash()).value());

  v1::PasswordVerifyBatchRequest verify_request;
  for (int i : {0, 2}) {
    auto* item = verify_request.add_items();
    item->set_password(i == 0 ? "alpha" : "wrong");
    item->set_hash(response.results(i).hash());
  }
  verify_request.add_items()->set_hash("garbage");
  v1::PasswordVerifyBatchResponse verified;
  ASSERT_TRUE(password_verify_batch(verify_request, &verified, *context_, limits_).ok());
  ASSERT_EQ(verified.results_size(), 3);
  EXPECT_TRUE(verified.results(0).match());
  EXPECT_EQ(verified.results(0).algorithm(), "bcrypt");
  EXPECT_FALSE(verified.results(1).match());
  EXPECT_FALSE(verified.results(2).error().reason().empty());

  limits_.batch_max_items = 2;
  EXPECT_EQ(password_hash_batch(request, &response, *context_, limits_).error().field, "items");
}

TEST_F(PasswordTest, MemoryBudgetQueuesConcurrentArgon2id) {
  // 64 concurrent argon2id hashes at m=19 MiB with room for 4 at a time:
  // every hash succeeds and the reserved memory never passes the budget.
  MemoryBudget& budget = MemoryBudget::process();
  const uint64_t old_capacity = budget.capacity();
  budget.set_capacity(4 * 19456);
  budget.reset_peak();
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&] {
      v1::Argon2idHashRequest request;
      request.set_password("concurrent");
      request.set_memory_cost(19456);
      request.set_time_cost(1);
      v1::Argon2idHashResponse response;
      auto context = TaskContext::unbounded();
      if (argon2id_hash(request, &response, *context, limits_.argon2).ok()) ++succeeded;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), 64);
  EXPECT_LE(budget.peak(), 4u * 19456);
  EXPECT_GE(budget.peak(), 19456u);
  EXPECT_EQ(budget.in_use(), 0u);

  // A hash bigger than the whole budget is an error, not a wait.
  v1::Argon2idHashRequest big;
  big.set_password("x");
  big.set_memory_cost(5 * 19456);
  v1::Argon2idHashResponse response;
  auto error = argon2id_hash(big, &response, *context_, limits_.argon2);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.error().field, "memory_cost");
  budget.set_capacity(old_capacity);
}

TEST_F(PasswordTest, MemoryBudgetWaitEndsAtTheDeadline) {
  MemoryBudget& budget = MemoryBudget::process();
  const uint64_t old_capacity = budget.capacity();
  budget.set_capacity(1000);
  auto holder = TaskContext::unbounded();
  ASSERT_TRUE(budget.acquire(1000, *holder, "m").ok());
  TaskContext waiter("w", TaskContext::Clock::now() + std::chrono::milliseconds(60));
  auto waited = budget.acquire(10, waiter, "m");
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, Code::kDeadlineExceeded);
  budget.release(1000);
  budget.set_capacity(old_capacity);
}

}  // namespace
}  // namespace heavylift
