#include "tasks/crypto/jwt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "tasks/crypto/base64.h"
#include "testdata.h"

namespace heavylift {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::system_clock;

Clock::time_point at(int64_t epoch_seconds) { return Clock::time_point(seconds(epoch_seconds)); }

JwtKeySet set_of(std::initializer_list<JwtKey> keys) {
  JwtKeySet set;
  for (const auto& key : keys) EXPECT_TRUE(set.add(key).ok());
  return set;
}

JwtKey must(Result<JwtKey> key) {
  if (!key.ok()) ADD_FAILURE() << key.error().message;
  return std::move(key).value();
}

std::string b64(std::string_view text) { return base64url_encode(text); }

// The token from RFC 7515 appendix A.1 (HS256) with its key.
constexpr char kRfc7515Hs256Key[] =
    R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";
constexpr char kRfc7515Hs256Token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

TEST(Jwt, VerifiesRfc7515Hs256Example) {
  const auto keys = set_of({must(JwtKey::from_jwk(kRfc7515Hs256Key, {JwsAlgorithm::kHS256}))});
  JwtVerifyOptions options;
  options.issuer = "joe";
  auto claims = verify_jwt(kRfc7515Hs256Token, keys, options, at(1300819000));
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims.value().issuer, "joe");
  EXPECT_EQ(claims.value().expires_at, 1300819380.0);
  EXPECT_EQ(claims.value().algorithm, JwsAlgorithm::kHS256);
  EXPECT_NE(claims.value().json.find("\"http://example.com/is_root\":true"), std::string::npos);

  // The same token after its exp (and the skew) is EXPIRED.
  auto late = verify_jwt(kRfc7515Hs256Token, keys, options, at(1300819380 + 31));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Code::kUnauthenticated);
  EXPECT_EQ(late.error().reason, "EXPIRED");
}

TEST(Jwt, VerifiesRfc7515Es256Example) {
  const auto key = must(JwtKey::from_jwk(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
      {JwsAlgorithm::kES256}));
  const std::string token =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  auto claims = verify_jwt(token, set_of({key}), JwtVerifyOptions{}, at(1300819000));
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims.value().issuer, "joe");
}

TEST(Jwt, SignsRfc8037Ed25519Example) {
  // RFC 8037 appendix A.4: Ed25519 signatures are deterministic, so the
  // token must match byte for byte.
  const auto key = must(JwtKey::from_jwk(
      R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
      R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      {JwsAlgorithm::kEdDSA}));
  JwsSignOptions options;
  options.type = "";
  auto token = sign_jws("Example of Ed25519 signing", key, JwsAlgorithm::kEdDSA, options);
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(token.value(),
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  auto verified = verify_jws(token.value(), set_of({key}), JwsVerifyOptions{});
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified.value().payload, "Example of Ed25519 signing");
}

// Vectors of the Wycheproof JSON Web Signature file whose expected result
// is wrong as published; each is still checked, against what heavylift does
// and why.
struct DefectiveVector {
  int tc_id;
  bool accepted;       // what heavylift does
  const char* reason;  // the error reason when rejected
  const char* why;
};
constexpr DefectiveVector kDefectiveJwsVectors[] = {
    {346, false, "ALGORITHM_NOT_ALLOWED",
     "RFC 7520 figure 20 is a PS384 token; the file's key says \"alg\":\"PS256\", and a key's alg binds it"},
    {350, false, "ALGORITHM_NOT_ALLOWED", "the same token and key as tcId 346"},
    {347, false, "", "RFC 7520 figure 27's key says \"alg\":\"ES521\", which is no JWS algorithm (ES512 is)"},
    {351, false, "", "the same key as tcId 347"},
    {367, true, "", "marked invalid, but the token is byte for byte tcId 357's, which is valid"},
    {370, true, "", "marked invalid, but the token is byte for byte tcId 357's, which is valid"},
    {372, false, "MALFORMED", "marked valid, but the header holds '?', outside base64url (RFC 7515 section 2)"},
    {373, false, "MALFORMED", "marked valid, but the payload holds '?', outside base64url (RFC 7515 section 2)"},
};

TEST(Jwt, PassesWycheproofJsonWebSignatureVectors) {
  HEAVYLIFT_LOAD_WYCHEPROOF(vectors, "json_web_signature_test.json");
  int valid = 0, invalid = 0, defective = 0;
  for (const auto& group : (*vectors)["testGroups"]) {
    const auto& jwk = group.contains("public") ? group["public"] : group["private"];
    auto key = JwtKey::from_jwk(jwk.dump(), {});
    for (const auto& test : group["tests"]) {
      const int id = test["tcId"].get<int>();
      const std::string label = "tcId " + std::to_string(id) + " " + test["comment"].get<std::string>();
      Result<JwsVerified> result = Error::internal("the key did not load");
      if (key.ok()) result = verify_jws(test["jws"].get<std::string>(), set_of({key.value()}), JwsVerifyOptions{});

      const auto* known = std::find_if(std::begin(kDefectiveJwsVectors), std::end(kDefectiveJwsVectors),
                                       [&](const DefectiveVector& v) { return v.tc_id == id; });
      if (known != std::end(kDefectiveJwsVectors)) {
        EXPECT_EQ(result.ok(), known->accepted) << label << ": " << known->why;
        if (!result.ok() && *known->reason != '\0' && key.ok()) {
          EXPECT_EQ(result.error().reason, known->reason) << label;
        }
        std::printf("note: Wycheproof JWS %s is defective: %s\n", label.c_str(), known->why);
        ++defective;
        continue;
      }
      if (test["result"] == "valid") {
        EXPECT_TRUE(key.ok()) << label << ": " << (key.ok() ? "" : key.error().message);
        EXPECT_TRUE(result.ok()) << label << ": " << (result.ok() ? "" : result.error().message);
        ++valid;
      } else {
        EXPECT_FALSE(result.ok()) << label;
        ++invalid;
      }
    }
  }
  EXPECT_EQ(defective, 8);
  EXPECT_GT(valid, 20);
  EXPECT_GT(invalid, 200);
}

TEST(Jwt, RoundTripsEveryAlgorithm) {
  for (auto algorithm : {JwsAlgorithm::kHS256, JwsAlgorithm::kHS384, JwsAlgorithm::kHS512, JwsAlgorithm::kRS256,
                         JwsAlgorithm::kPS256, JwsAlgorithm::kES256, JwsAlgorithm::kES384, JwsAlgorithm::kES512,
                         JwsAlgorithm::kEdDSA}) {
    SCOPED_TRACE(jws_algorithm_name(algorithm));
    const auto key = must(JwtKey::generate("k1", algorithm));
    JwtSignOptions sign;
    sign.expires_in = seconds(60);
    auto token = sign_jwt(R"({"sub":"user-7","rooms":["a","b"]})", key, algorithm, sign, at(1000));
    ASSERT_TRUE(token.ok()) << token.error().message;
    auto claims = verify_jwt(token.value(), set_of({key}), JwtVerifyOptions{}, at(1030));
    ASSERT_TRUE(claims.ok()) << claims.error().message;
    EXPECT_EQ(claims.value().subject, "user-7");
    EXPECT_EQ(claims.value().issued_at, 1000.0);
    EXPECT_EQ(claims.value().expires_at, 1060.0);
    EXPECT_EQ(claims.value().kid, "k1");
    EXPECT_NE(claims.value().json.find("\"rooms\":[\"a\",\"b\"]"), std::string::npos);

    // A public-only copy of an asymmetric key verifies but cannot sign.
    if (key.type() != JwtKeyType::kOct) {
      const auto public_key = must(JwtKey::from_jwk(key.public_jwk(), {}));
      EXPECT_FALSE(public_key.can_sign());
      EXPECT_TRUE(verify_jwt(token.value(), set_of({public_key}), JwtVerifyOptions{}, at(1030)).ok());
      EXPECT_FALSE(sign_jwt("{}", public_key, algorithm, sign, at(1000)).ok());
      const auto from_pem = must(JwtKey::from_pem("k1", key.public_pem(), {algorithm}));
      EXPECT_TRUE(verify_jwt(token.value(), set_of({from_pem}), JwtVerifyOptions{}, at(1030)).ok());
    }
  }
}

TEST(Jwt, RejectsAlgNone) {
  const auto key = must(JwtKey::generate("", JwsAlgorithm::kHS256));
  const std::string token = b64(R"({"alg":"none"})") + "." + b64(R"({"sub":"x","exp":2000})") + ".";
  auto result = verify_jwt(token, set_of({key}), JwtVerifyOptions{}, at(1000));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Code::kUnauthenticated);
  EXPECT_EQ(result.error().reason, "ALGORITHM_NOT_ALLOWED");
  for (const char* spelling : {"None", "NONE", "nOnE"}) {
    const std::string variant =
        b64(std::string(R"({"alg":")") + spelling + "\"}") + "." + b64(R"({"exp":2000})") + ".";
    EXPECT_EQ(verify_jwt(variant, set_of({key}), JwtVerifyOptions{}, at(1000)).error().reason,
              "ALGORITHM_NOT_ALLOWED");
  }
}

TEST(Jwt, RejectsRsaPublicKeyUsedAsHmacSecret) {
  // The classic confusion: sign HS256 with the verifier's RSA public key PEM
  // as the secret. The RSA key only allows RS256, so the header's HS256 is
  // refused before any MAC is computed.
  const auto rsa = must(JwtKey::generate("rsa", JwsAlgorithm::kRS256));
  const auto forged_key = must(JwtKey::hmac("rsa", rsa.public_pem(), {JwsAlgorithm::kHS256}));
  auto forged = sign_jwt(R"({"sub":"admin"})", forged_key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(1000));
  ASSERT_TRUE(forged.ok());
  const auto public_rsa = must(JwtKey::from_pem("rsa", rsa.public_pem(), {JwsAlgorithm::kRS256}));
  JwtVerifyOptions options;
  options.require_exp = false;
  auto result = verify_jwt(forged.value(), set_of({public_rsa}), options, at(1000));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "ALGORITHM_NOT_ALLOWED");

  // An RSA key cannot even be given an HMAC allow-list.
  EXPECT_FALSE(JwtKey::from_pem("rsa", rsa.public_pem(), {JwsAlgorithm::kHS256}).ok());
}

TEST(Jwt, KeyAllowListBindsTheAlgorithm) {
  // One HMAC secret allowed for HS512 only: an HS256 token made with the same
  // secret is refused.
  std::string secret(64, 's');
  const auto hs256 = must(JwtKey::hmac("k", secret, {JwsAlgorithm::kHS256}));
  const auto hs512 = must(JwtKey::hmac("k", secret, {JwsAlgorithm::kHS512}));
  auto token = sign_jwt(R"({"exp":2000})", hs256, JwsAlgorithm::kHS256, JwtSignOptions{}, at(1000));
  ASSERT_TRUE(token.ok());
  auto result = verify_jwt(token.value(), set_of({hs512}), JwtVerifyOptions{}, at(1000));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "ALGORITHM_NOT_ALLOWED");

  // The verifier's own list narrows further.
  JwtVerifyOptions options;
  options.algorithms = {JwsAlgorithm::kEdDSA};
  EXPECT_EQ(verify_jwt(token.value(), set_of({hs256}), options, at(1000)).error().reason, "ALGORITHM_NOT_ALLOWED");
}

TEST(Jwt, ChecksTimeClaimsWithClockSkew) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kHS256));
  auto token = sign_jwt(R"({"nbf":1000,"exp":2000})", key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(900));
  ASSERT_TRUE(token.ok());
  const auto keys = set_of({key});
  JwtVerifyOptions options;
  options.clock_skew = seconds(10);
  EXPECT_EQ(verify_jwt(token.value(), keys, options, at(989)).error().reason, "NOT_YET_VALID");
  EXPECT_TRUE(verify_jwt(token.value(), keys, options, at(990)).ok());
  EXPECT_TRUE(verify_jwt(token.value(), keys, options, at(2009)).ok());
  EXPECT_EQ(verify_jwt(token.value(), keys, options, at(2010)).error().reason, "EXPIRED");

  // iat in the future beyond the skew.
  auto future = sign_jwt(R"({"iat":5000,"exp":9000})", key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(900));
  EXPECT_EQ(verify_jwt(future.value(), keys, options, at(1000)).error().reason, "NOT_YET_VALID");

  // Maximum age counts from iat.
  options.max_age = seconds(100);
  auto old = sign_jwt(R"({"exp":9000})", key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(1000));
  EXPECT_TRUE(verify_jwt(old.value(), keys, options, at(1100)).ok());
  EXPECT_EQ(verify_jwt(old.value(), keys, options, at(1111)).error().reason, "EXPIRED");
}

TEST(Jwt, RequiresExpUnlessTold) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kHS256));
  auto token = sign_jwt(R"({"sub":"x"})", key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(1000));
  EXPECT_EQ(verify_jwt(token.value(), set_of({key}), JwtVerifyOptions{}, at(1000)).error().reason,
            "MISSING_CLAIM");
  JwtVerifyOptions options;
  options.require_exp = false;
  EXPECT_TRUE(verify_jwt(token.value(), set_of({key}), options, at(1000)).ok());
}

TEST(Jwt, ChecksAudienceIssuerAndSubject) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kEdDSA));
  auto token = sign_jwt(R"({"aud":["chat","billing"],"iss":"app","sub":"u1","exp":2000})", key,
                        JwsAlgorithm::kEdDSA, JwtSignOptions{}, at(1000));
  const auto keys = set_of({key});
  JwtVerifyOptions options;
  options.audiences = {"chat"};
  options.issuer = "app";
  auto claims = verify_jwt(token.value(), keys, options, at(1000));
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims.value().audience, (std::vector<std::string>{"chat", "billing"}));

  options.audiences = {"admin"};
  EXPECT_EQ(verify_jwt(token.value(), keys, options, at(1000)).error().reason, "AUDIENCE_MISMATCH");
  options.audiences = {};
  options.issuer = "other";
  EXPECT_EQ(verify_jwt(token.value(), keys, options, at(1000)).error().reason, "ISSUER_MISMATCH");
  options.issuer = "";
  options.subject = "u2";
  EXPECT_EQ(verify_jwt(token.value(), keys, options, at(1000)).error().reason, "SUBJECT_MISMATCH");
}

TEST(Jwt, RejectsMalformedTokens) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kHS256));
  const auto keys = set_of({key});
  auto good = sign_jwt(R"({"exp":2000})", key, JwsAlgorithm::kHS256, JwtSignOptions{}, at(1000)).value();
  const size_t dot = good.find('.');
  const std::string payload_and_signature = good.substr(dot);
  for (const std::string& token : {
           std::string(""), std::string("abc"), std::string("a.b"), good + ".", good + ".x",
           std::string("{\"payload\":\"e30\"}"),
           // Padding and the standard alphabet are not base64url.
           good.substr(0, dot) + "=" + payload_and_signature,
           // A header that is not JSON, JSON that is not an object, a
           // duplicate "alg", a "crit" extension.
           b64("not json") + payload_and_signature, b64("[1]") + payload_and_signature,
           b64(R"({"alg":"HS256","alg":"none"})") + payload_and_signature,
           b64(R"({"alg":"HS256","crit":["exp"],"exp":1})") + payload_and_signature,
           b64(R"({"alg":"HS256","kid":7})") + payload_and_signature}) {
    auto result = verify_jwt(token, keys, JwtVerifyOptions{}, at(1000));
    ASSERT_FALSE(result.ok()) << token;
    EXPECT_EQ(result.error().code, Code::kUnauthenticated) << token;
    EXPECT_EQ(result.error().field, "token");
  }
  // Claims of the wrong type are malformed too.
  auto bad_exp = sign_jws(R"({"exp":"tomorrow"})", key, JwsAlgorithm::kHS256, JwsSignOptions{});
  EXPECT_EQ(verify_jwt(bad_exp.value(), keys, JwtVerifyOptions{}, at(1000)).error().reason, "MALFORMED");
  auto not_object = sign_jws("[]", key, JwsAlgorithm::kHS256, JwsSignOptions{});
  EXPECT_EQ(verify_jwt(not_object.value(), keys, JwtVerifyOptions{}, at(1000)).error().reason, "MALFORMED");
}

TEST(Jwt, RejectsTamperingAndUnknownKeys) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kES256));
  const auto keys = set_of({key});
  const std::string good = sign_jwt(R"({"sub":"a","exp":2000})", key, JwsAlgorithm::kES256, JwtSignOptions{},
                                    at(1000)).value();
  std::string tampered_payload = good;
  const size_t dot = good.find('.');
  tampered_payload.replace(dot + 1, good.find('.', dot + 1) - dot - 1, b64(R"({"sub":"b","exp":2000})"));
  EXPECT_EQ(verify_jwt(tampered_payload, keys, JwtVerifyOptions{}, at(1000)).error().reason, "BAD_SIGNATURE");

  const auto other = must(JwtKey::generate("other", JwsAlgorithm::kES256));
  EXPECT_EQ(verify_jwt(good, set_of({other}), JwtVerifyOptions{}, at(1000)).error().reason, "UNKNOWN_KEY");
  EXPECT_TRUE(verify_jwt(good, set_of({other, key}), JwtVerifyOptions{}, at(1000)).ok());
}

TEST(Jwt, TokenSizeIsBounded) {
  const auto key = must(JwtKey::generate("k", JwsAlgorithm::kHS256));
  JwtVerifyOptions options;
  options.max_token_bytes = 100;
  auto result = verify_jwt(std::string(101, 'a'), set_of({key}), options, at(1000));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Code::kInvalidArgument);
  EXPECT_EQ(result.error().bound, "<= 100 bytes");
}

TEST(Jwt, KeyRulesAreEnforced) {
  // RFC 7518 3.2: an HS256 secret has at least 32 bytes.
  auto short_secret = JwtKey::hmac("k", "secret", {JwsAlgorithm::kHS256});
  ASSERT_FALSE(short_secret.ok());
  EXPECT_EQ(short_secret.error().reason, "KEY_TOO_SHORT");
  EXPECT_FALSE(JwtKey::hmac("k", std::string(32, 'x'), {JwsAlgorithm::kHS512}).ok());
  EXPECT_FALSE(JwtKey::hmac("k", std::string(32, 'x'), {}).ok());
  // A JWK for encryption, or without an algorithm, is not a signing key.
  EXPECT_FALSE(JwtKey::from_jwk(R"({"kty":"oct","use":"enc","alg":"HS256","k":")" + b64(std::string(32, 'k')) + "\"}",
                                {}).ok());
  EXPECT_FALSE(JwtKey::from_jwk(R"({"kty":"oct","k":")" + b64(std::string(32, 'k')) + "\"}", {}).ok());
  // An EC point off the curve.
  EXPECT_FALSE(JwtKey::from_jwk(R"({"kty":"EC","crv":"P-256","alg":"ES256","x":")" + b64(std::string(32, '\1')) +
                                    R"(","y":")" + b64(std::string(32, '\2')) + "\"}",
                                {}).ok());
  // Two keys with one kid.
  JwtKeySet set;
  ASSERT_TRUE(set.add(must(JwtKey::generate("same", JwsAlgorithm::kHS256))).ok());
  EXPECT_FALSE(set.add(must(JwtKey::generate("same", JwsAlgorithm::kHS256))).ok());
}

TEST(Jwt, LoadsJwksFile) {
  const auto ed = must(JwtKey::generate("ed", JwsAlgorithm::kEdDSA));
  const auto hs = must(JwtKey::generate("hs", JwsAlgorithm::kHS256));
  const std::string path = ::testing::TempDir() + "/jwt_test.jwks.json";
  {
    std::ofstream file(path);
    file << R"({"keys":[)" << ed.public_jwk() << "," << hs.public_jwk() << "]}";
  }
  auto set = JwtKeySet::load_file(path, {});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set.value().keys().size(), 2u);
  for (const auto* key : {&ed, &hs}) {
    const JwsAlgorithm algorithm = key->algorithms()[0];
    auto token = sign_jwt(R"({"exp":2000})", *key, algorithm, JwtSignOptions{}, at(1000));
    EXPECT_TRUE(verify_jwt(token.value(), set.value(), JwtVerifyOptions{}, at(1000)).ok());
  }
  std::remove(path.c_str());
  EXPECT_FALSE(JwtKeySet::load_file(path, {}).ok());
}

TEST(Jwt, ParsesAlgorithmLists) {
  auto list = parse_jws_algorithm_list("HS256, EdDSA,HS256", "algorithms");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list.value(), (std::vector<JwsAlgorithm>{JwsAlgorithm::kHS256, JwsAlgorithm::kEdDSA}));
  auto bad = parse_jws_algorithm_list("HS256,none", "algorithms");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "algorithms");
  EXPECT_FALSE(parse_jws_algorithm("hs256").has_value());
}

}  // namespace
}  // namespace heavylift
