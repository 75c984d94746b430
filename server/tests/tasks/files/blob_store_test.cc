#include "tasks/files/blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace heavylift {
namespace {

namespace fs = std::filesystem;

class BlobWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("heavylift-blob-writer-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "out");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The names in `directory`, sorted.
  std::vector<std::string> names_in(const fs::path& directory) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path root_;
};

TEST_F(BlobWriterTest, OutputHasNoNameUntilCommitted) {
  auto writer = BlobWriter::create_output(root_.string(), "out/result.txt", "output_path");
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  ASSERT_TRUE(writer.value().write("partial").ok());
  EXPECT_TRUE(names_in(root_ / "out").empty());

  ASSERT_TRUE(writer.value().write(" and the rest").ok());
  ASSERT_TRUE(writer.value().commit_output().ok());
  EXPECT_EQ(names_in(root_ / "out"), std::vector<std::string>{"result.txt"});
  EXPECT_EQ(read(root_ / "out" / "result.txt"), "partial and the rest");
}

TEST_F(BlobWriterTest, UncommittedOutputLeavesNothing) {
  {
    auto writer = BlobWriter::create_output(root_.string(), "out/result.txt", "output_path");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer.value().write("abandoned").ok());
  }
  EXPECT_TRUE(names_in(root_ / "out").empty());
}

TEST_F(BlobWriterTest, OutputNameTakenBeforeCreate) {
  std::ofstream(root_ / "out" / "taken.txt") << "keep me";
  auto writer = BlobWriter::create_output(root_.string(), "out/taken.txt", "output_path");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().code, Code::kInvalidArgument);
  EXPECT_EQ(writer.error().reason, "ALREADY_EXISTS");
  EXPECT_EQ(writer.error().field, "output_path");
  EXPECT_EQ(read(root_ / "out" / "taken.txt"), "keep me");
}

TEST_F(BlobWriterTest, OutputNameTakenBeforeCommit) {
  auto writer = BlobWriter::create_output(root_.string(), "out/late.txt", "output_path");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer.value().write("mine").ok());
  std::ofstream(root_ / "out" / "late.txt") << "theirs";

  const Status status = writer.value().commit_output();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "ALREADY_EXISTS");
  EXPECT_EQ(read(root_ / "out" / "late.txt"), "theirs");
  EXPECT_EQ(names_in(root_ / "out"), std::vector<std::string>{"late.txt"});
}

TEST_F(BlobWriterTest, OutputPathMustNameAFile) {
  for (const char* path : {"out/", "out/..", "."}) {
    auto writer = BlobWriter::create_output(root_.string(), path, "output_path");
    ASSERT_FALSE(writer.ok()) << path;
    EXPECT_EQ(writer.error().reason, "NOT_A_FILE") << path;
  }
}

TEST_F(BlobWriterTest, OutputInMissingDirectoryIsNotFound) {
  auto writer = BlobWriter::create_output(root_.string(), "absent/result.txt", "output_path");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().reason, "NOT_FOUND");
}

TEST_F(BlobWriterTest, UploadIsStoredByDigestAndDeduplicated) {
  const std::string digest(64, 'a');
  for (bool expect_deduplicated : {false, true}) {
    auto writer = BlobWriter::create_temporary(root_.string());
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    ASSERT_TRUE(writer.value().write("stored bytes").ok());
    EXPECT_TRUE(names_in(root_ / "files" / "tmp").empty());

    bool deduplicated = false;
    auto path = writer.value().commit_by_digest(digest, ".zst", &deduplicated);
    ASSERT_TRUE(path.ok()) << path.error().message;
    EXPECT_EQ(path.value(), "files/sha256/aa/" + digest + ".zst");
    EXPECT_EQ(deduplicated, expect_deduplicated);
  }
  EXPECT_EQ(read(root_ / "files" / "sha256" / "aa" / (digest + ".zst")), "stored bytes");
  EXPECT_TRUE(names_in(root_ / "files" / "tmp").empty());
}

TEST_F(BlobWriterTest, UncommittedUploadLeavesNothing) {
  {
    auto writer = BlobWriter::create_temporary(root_.string());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer.value().write("abandoned").ok());
  }
  EXPECT_TRUE(names_in(root_ / "files" / "tmp").empty());
  EXPECT_FALSE(fs::exists(root_ / "files" / "sha256"));
}

// Where O_TMPFILE fails, the writer uses a named file beside the final name.
class NamedBlobWriterTest : public BlobWriterTest {
 protected:
  void SetUp() override {
    BlobWriterTest::SetUp();
    set_unnamed_blob_files(false);
  }
  void TearDown() override {
    set_unnamed_blob_files(true);
    BlobWriterTest::TearDown();
  }
};

TEST_F(NamedBlobWriterTest, OutputIsLinkedOnCommit) {
  auto writer = BlobWriter::create_output(root_.string(), "out/result.txt", "output_path");
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  ASSERT_TRUE(writer.value().write("named").ok());
  const std::vector<std::string> pending = names_in(root_ / "out");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].rfind(".heavylift-", 0), 0u) << pending[0];

  ASSERT_TRUE(writer.value().commit_output().ok());
  EXPECT_EQ(names_in(root_ / "out"), std::vector<std::string>{"result.txt"});
  EXPECT_EQ(read(root_ / "out" / "result.txt"), "named");
}

TEST_F(NamedBlobWriterTest, UncommittedFilesAreRemoved) {
  {
    auto output = BlobWriter::create_output(root_.string(), "out/result.txt", "output_path");
    ASSERT_TRUE(output.ok());
    auto upload = BlobWriter::create_temporary(root_.string());
    ASSERT_TRUE(upload.ok());
    EXPECT_EQ(names_in(root_ / "files" / "tmp").size(), 1u);
  }
  EXPECT_TRUE(names_in(root_ / "out").empty());
  EXPECT_TRUE(names_in(root_ / "files" / "tmp").empty());
}

TEST_F(NamedBlobWriterTest, UploadIsStoredAndItsFileRemoved) {
  const std::string digest(64, 'b');
  auto writer = BlobWriter::create_temporary(root_.string());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer.value().write("named upload").ok());
  bool deduplicated = true;
  auto path = writer.value().commit_by_digest(digest, "", &deduplicated);
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_FALSE(deduplicated);
  EXPECT_EQ(read(root_ / path.value()), "named upload");
  EXPECT_TRUE(names_in(root_ / "files" / "tmp").empty());
}

TEST_F(BlobWriterTest, MovedWriterKeepsItsFile) {
  auto created = BlobWriter::create_output(root_.string(), "out/moved.txt", "output_path");
  ASSERT_TRUE(created.ok());
  std::optional<BlobWriter> writer;
  writer.emplace(std::move(created).value());
  ASSERT_TRUE(writer->write("moved").ok());
  ASSERT_TRUE(writer->commit_output().ok());
  EXPECT_EQ(read(root_ / "out" / "moved.txt"), "moved");
}

}  // namespace
}  // namespace heavylift
