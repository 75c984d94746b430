#include "tasks/files/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace heavylift {
namespace {

// Expected values printed by sha256sum, sha512sum, b2sum, `xxhsum -H3` and
// `xxhsum -H2` for the same bytes.
TEST(StreamDigester, MatchesCommandLineToolsForAbc) {
  Result<v1::Digests> digests = digest_bytes("abc", {});
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(digests.value().sha256(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digests.value().sha512().substr(0, 40), "ddaf35a193617abacc417349ae20413112e6fa4e");
  EXPECT_EQ(digests.value().blake2b512(),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc95"
            "18d38aa8dbf1925ab92386edd4009923");
  EXPECT_EQ(digests.value().xxh3_64(), "78af5f94892f3950");
  EXPECT_EQ(digests.value().xxh128(), "06b05ab6733a618578af5f94892f3950");
}

TEST(StreamDigester, EmptyInputHasXxh3OfNothing) {
  Result<v1::Digests> digests = digest_bytes("", {});
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(digests.value().xxh3_64(), "2d06800538d394c2");
  EXPECT_EQ(digests.value().xxh128(), "99aa06d3014798d86001c324468d497f");
}

TEST(StreamDigester, ComputesOnlySelectedDigests) {
  v1::DigestSelection selection;
  selection.set_xxh3_64(true);
  Result<v1::Digests> digests = digest_bytes("abc", selection);
  ASSERT_TRUE(digests.ok());
  EXPECT_TRUE(digests.value().sha256().empty());
  EXPECT_TRUE(digests.value().blake2b512().empty());
  EXPECT_EQ(digests.value().xxh3_64(), "78af5f94892f3950");
}

TEST(StreamDigester, ChunkedEqualsWholeAtEverySplit) {
  std::string data;
  for (int i = 0; i < 700; ++i) data.push_back(static_cast<char>((i * 131) & 0xff));
  const v1::Digests whole = digest_bytes(data, {}).value();
  for (size_t split = 0; split <= data.size(); split += 7) {
    auto digester = StreamDigester::create({}).value();
    digester->update(std::string_view(data).substr(0, split));
    digester->update(std::string_view(data).substr(split));
    v1::Digests chunked;
    digester->finish(&chunked);
    ASSERT_EQ(chunked.SerializeAsString(), whole.SerializeAsString()) << "split at " << split;
  }
}

}  // namespace
}  // namespace heavylift
