#include "core/blob.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace heavylift {
namespace {

namespace fs = std::filesystem;

class BlobReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("heavylift-blob-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    root_ = base_ / "root";
    fs::create_directories(root_ / "photos");
    std::ofstream(root_ / "photos" / "a.bin") << "hello";
    std::ofstream(root_ / "empty.bin");
    std::ofstream(base_ / "secret.txt") << "outside";
    fs::create_symlink(base_ / "secret.txt", root_ / "link-out");
    fs::create_symlink("photos/a.bin", root_ / "link-in");
  }
  void TearDown() override { fs::remove_all(base_); }

  Result<Blob> read_path(const std::string& path, uint64_t max = 1024) {
    v1::BlobRef ref;
    ref.set_path(path);
    return BlobReader(root_.string()).read(ref, "input", max);
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(BlobReaderTest, InlineDataIsBorrowed) {
  v1::BlobRef ref;
  ref.set_data("bytes");
  auto blob = BlobReader("").read(ref, "input", 10);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob.value().bytes(), "bytes");
  EXPECT_EQ(blob.value().bytes().data(), ref.data().data());
}

TEST_F(BlobReaderTest, EmptyInlineDataIsRejected) {
  v1::BlobRef ref;
  ref.set_data("");
  auto blob = BlobReader("").read(ref, "input", 10);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().field, "input.data");
  EXPECT_EQ(blob.error().reason, "EMPTY");
  EXPECT_EQ(blob.error().bound, ">= 1 byte");
}

TEST_F(BlobReaderTest, MissingSourceIsRejected) {
  auto blob = BlobReader("").read(v1::BlobRef(), "input", 10);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().field, "input");
  EXPECT_EQ(blob.error().reason, "MISSING");
}

TEST_F(BlobReaderTest, OversizedInlineDataNamesBound) {
  v1::BlobRef ref;
  ref.set_data(std::string(11, 'x'));
  auto blob = BlobReader("").read(ref, "input", 10);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().bound, "<= 10 bytes");
  EXPECT_EQ(blob.error().value, "11 bytes");
}

TEST_F(BlobReaderTest, ReadsFileUnderRoot) {
  auto blob = read_path("photos/a.bin");
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob.value().bytes(), "hello");
}

TEST_F(BlobReaderTest, SmallFileSurvivesMove) {
  auto blob = read_path("photos/a.bin");
  ASSERT_TRUE(blob.ok());
  Blob moved = std::move(blob).value();
  EXPECT_EQ(moved.bytes(), "hello");
}

TEST_F(BlobReaderTest, AbsolutePathInsideRootIsAccepted) {
  auto blob = read_path((root_ / "photos" / "a.bin").string());
  ASSERT_TRUE(blob.ok()) << blob.error().message;
}

TEST_F(BlobReaderTest, DotDotThatStaysInsideIsAccepted) {
  auto blob = read_path("photos/../photos/./a.bin");
  ASSERT_TRUE(blob.ok()) << blob.error().message;
}

TEST_F(BlobReaderTest, SymlinkInsideRootIsFollowed) {
  auto blob = read_path("link-in");
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob.value().bytes(), "hello");
}

TEST_F(BlobReaderTest, EscapesAreRejected) {
  const std::vector<std::string> escapes = {
      "../secret.txt",          "photos/../../secret.txt", "no-such-dir/../../secret.txt",
      "link-out",               (base_ / "secret.txt").string(),
      (root_ / ".." / "secret.txt").string()};
  for (const std::string& path : escapes) {
    auto blob = read_path(path);
    ASSERT_FALSE(blob.ok()) << path;
    EXPECT_EQ(blob.error().code, Code::kInvalidArgument) << path;
    EXPECT_EQ(blob.error().reason, "PATH_OUTSIDE_ROOT") << path;
    EXPECT_EQ(blob.error().field, "input.path") << path;
  }
}

TEST_F(BlobReaderTest, OpenPathReadsNothing) {
  auto file = BlobReader(root_.string()).open_path("photos/a.bin", "input", 1024);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file.value().size(), 5u);
  ASSERT_GE(file.value().fd(), 0);
  EXPECT_EQ(::lseek(file.value().fd(), 0, SEEK_CUR), 0);
  char bytes[8] = {};
  EXPECT_EQ(::read(file.value().fd(), bytes, sizeof bytes), 5);
  EXPECT_EQ(std::string(bytes), "hello");
}

TEST_F(BlobReaderTest, OpenPathKeepsReadChecks) {
  const BlobReader reader(root_.string());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"../secret.txt", "PATH_OUTSIDE_ROOT"}, {"link-out", "PATH_OUTSIDE_ROOT"},
      {(base_ / "secret.txt").string(), "PATH_OUTSIDE_ROOT"}, {"empty.bin", "EMPTY"},
      {"nope.bin", "NOT_FOUND"}, {"photos", "NOT_A_FILE"}};
  for (const auto& [path, reason] : cases) {
    auto file = reader.open_path(path, "input", 1024);
    ASSERT_FALSE(file.ok()) << path;
    EXPECT_EQ(file.error().reason, reason) << path;
    EXPECT_EQ(file.error().field, "input.path") << path;
  }
  auto too_large = reader.open_path("photos/a.bin", "input", 4);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().reason, "TOO_LARGE");
  EXPECT_EQ(too_large.error().value, "5 bytes");
  auto disabled = BlobReader("").open_path("photos/a.bin", "input", 1024);
  ASSERT_FALSE(disabled.ok());
  EXPECT_EQ(disabled.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(disabled.error().reason, "PATHS_DISABLED");
  EXPECT_EQ(disabled.error().field, "input.path");
}

TEST_F(BlobReaderTest, ZeroByteFileIsRejected) {
  auto blob = read_path("empty.bin");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().reason, "EMPTY");
}

TEST_F(BlobReaderTest, OversizedFileIsRejectedBeforeReading) {
  auto blob = read_path("photos/a.bin", 4);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().reason, "TOO_LARGE");
  EXPECT_EQ(blob.error().value, "5 bytes");
}

TEST_F(BlobReaderTest, MissingFileAndDirectoryAreRejected) {
  EXPECT_EQ(read_path("nope.bin").error().reason, "NOT_FOUND");
  EXPECT_EQ(read_path("photos").error().reason, "NOT_A_FILE");
}

TEST_F(BlobReaderTest, FifoIsRejectedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);
  auto blob = read_path("pipe");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().reason, "NOT_A_FILE");
}

TEST_F(BlobReaderTest, LongPathValueIsTruncated) {
  const std::string path = "../" + std::string(10000, 'a');
  auto blob = read_path(path);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().reason, "PATH_OUTSIDE_ROOT");
  EXPECT_LT(blob.error().value.size(), 200u);
  EXPECT_LT(blob.error().message.size(), 400u);
}

TEST_F(BlobReaderTest, SymlinkLoopIsUnreadable) {
  fs::create_symlink("loop-b", root_ / "loop-a");
  fs::create_symlink("loop-a", root_ / "loop-b");
  auto blob = read_path("loop-a");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().reason, "UNREADABLE");
}

TEST_F(BlobReaderTest, RootCheck) {
  EXPECT_TRUE(BlobReader(root_.string()).check_root().ok());
  EXPECT_TRUE(BlobReader("").check_root().ok());
  const Status missing = BlobReader((base_ / "no-such-root").string()).check_root();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field, "blob.root");
  EXPECT_FALSE(BlobReader((root_ / "photos" / "a.bin").string()).check_root().ok());
}

TEST_F(BlobReaderTest, PathsDisabledWithoutRoot) {
  v1::BlobRef ref;
  ref.set_path("photos/a.bin");
  auto blob = BlobReader("").read(ref, "input", 1024);
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(blob.error().reason, "PATHS_DISABLED");
  EXPECT_EQ(blob.error().field, "input.path");
  EXPECT_NE(blob.error().message.find("--blob-root"), std::string::npos) << blob.error().message;
}

}  // namespace
}  // namespace heavylift
