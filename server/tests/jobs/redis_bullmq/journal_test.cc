#include "jobs/redis_bullmq/journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace heavylift {
namespace {

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/heavylift-journal-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/journal";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::string path_;
};

TEST_F(JournalTest, ReturnsEntriesLeftOpen) {
  {
    Journal journal(path_);
    ASSERT_TRUE(journal.open().ok());
    journal.add("1", "token-a");
    journal.add("2", "token-b");
    journal.remove("1");
    // No clean close: the process "dies" here.
  }
  Journal restarted(path_);
  auto entries = restarted.open();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries.value().size(), 1u);
  EXPECT_EQ(entries.value()[0].job_id, "2");
  EXPECT_EQ(entries.value()[0].token, "token-b");

  // open() truncates: the next run starts empty.
  Journal third(path_);
  EXPECT_TRUE(third.open().value().empty());
}

TEST_F(JournalTest, SkipsGarbageLines) {
  std::ofstream(path_) << "+ 7 tok\nnonsense\n+\n- \n+ 8\n+ 9 tok9\n";
  Journal journal(path_);
  auto entries = journal.open();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries.value().size(), 2u);
  EXPECT_EQ(entries.value()[0].job_id, "7");
  EXPECT_EQ(entries.value()[1].job_id, "9");
}

TEST_F(JournalTest, CompactsLongFiles) {
  Journal journal(path_);
  ASSERT_TRUE(journal.open().ok());
  journal.add("keep", "t");
  for (int i = 0; i < 6000; ++i) {
    journal.add(std::to_string(i), "t");
    journal.remove(std::to_string(i));
  }
  EXPECT_LT(std::filesystem::file_size(path_), 100000u);
  Journal restarted(path_);
  auto entries = restarted.open();
  ASSERT_EQ(entries.value().size(), 1u);
  EXPECT_EQ(entries.value()[0].job_id, "keep");
}

TEST_F(JournalTest, EmptyPathRecordsNothing) {
  Journal journal("");
  ASSERT_TRUE(journal.open().ok());
  journal.add("1", "t");
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(JournalTest, UnwritablePathFails) {
  Journal journal(dir_ + "/missing/dir/journal");
  auto entries = journal.open();
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(entries.error().message.find("missing/dir/journal"), std::string::npos);
}

TEST(JournalIds, RejectsWhitespace) {
  EXPECT_TRUE(Journal::valid_id("42"));
  EXPECT_TRUE(Journal::valid_id("custom:id-1"));
  EXPECT_FALSE(Journal::valid_id(""));
  EXPECT_FALSE(Journal::valid_id("a b"));
  EXPECT_FALSE(Journal::valid_id("a\nb"));
}

}  // namespace
}  // namespace heavylift
