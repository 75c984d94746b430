#include "core/bearer_tokens.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace heavylift {
namespace {

std::string write_token_file(const std::string& name, const std::string& contents) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << contents;
  return path.string();
}

TEST(BearerTokens, DisabledAcceptsEverything) {
  BearerTokens tokens("");
  EXPECT_FALSE(tokens.enabled());
  EXPECT_TRUE(tokens.reload().ok());
  EXPECT_TRUE(tokens.check(false, "").ok());
}

TEST(BearerTokens, AcceptsListedTokenOnly) {
  BearerTokens tokens(write_token_file("heavylift-tokens-ok",
                                       "# app servers\nfirst-token-0123456789\n\n  second-token-abcdefghij  \n"));
  ASSERT_TRUE(tokens.reload().ok());
  EXPECT_TRUE(tokens.check(true, "Bearer first-token-0123456789").ok());
  EXPECT_TRUE(tokens.check(true, "bearer second-token-abcdefghij").ok());

  const Status unknown = tokens.check(true, "Bearer third-token-0123456789");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Code::kUnauthenticated);
  EXPECT_EQ(unknown.error().reason, "UNKNOWN_TOKEN");
  EXPECT_EQ(unknown.error().message.find("third"), std::string::npos) << "the token must not be echoed";
}

TEST(BearerTokens, MissingAndMalformedHeaders) {
  BearerTokens tokens(write_token_file("heavylift-tokens-headers", "first-token-0123456789\n"));
  ASSERT_TRUE(tokens.reload().ok());
  const Status missing = tokens.check(false, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().reason, "MISSING_TOKEN");
  for (const char* header : {"first-token-0123456789", "Basic Zm9vOmJhcg==", "Bearer ", "Bearer"}) {
    const Status malformed = tokens.check(true, header);
    ASSERT_FALSE(malformed.ok()) << header;
    EXPECT_EQ(malformed.error().reason, "MALFORMED_AUTHORIZATION") << header;
  }
}

TEST(BearerTokens, ShortTokenRejectedNamingLine) {
  BearerTokens tokens(write_token_file("heavylift-tokens-short", "first-token-0123456789\nshort\n"));
  const Status status = tokens.reload();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("line 2"), std::string::npos) << status.error().message;
  EXPECT_EQ(status.error().reason, "TOKEN_TOO_SHORT");
}

TEST(BearerTokens, FailedReloadKeepsPreviousTokens) {
  const std::string file = write_token_file("heavylift-tokens-reload", "first-token-0123456789\n");
  BearerTokens tokens(file);
  ASSERT_TRUE(tokens.reload().ok());
  std::ofstream(file) << "# nothing left\n";
  EXPECT_FALSE(tokens.reload().ok());
  EXPECT_TRUE(tokens.check(true, "Bearer first-token-0123456789").ok());

  std::ofstream(file) << "rotated-token-0123456789\n";
  ASSERT_TRUE(tokens.reload().ok());
  EXPECT_FALSE(tokens.check(true, "Bearer first-token-0123456789").ok());
  EXPECT_TRUE(tokens.check(true, "Bearer rotated-token-0123456789").ok());
}

TEST(BearerTokens, MissingFileRejected) {
  BearerTokens tokens("/nonexistent/heavylift-tokens");
  const Status status = tokens.reload();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("/nonexistent/heavylift-tokens"), std::string::npos);
}

}  // namespace
}  // namespace heavylift
