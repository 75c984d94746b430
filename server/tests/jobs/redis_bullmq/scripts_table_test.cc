// The build check: the generator accepts the committed table for the pinned
// bullmq and rejects a table whose keys or arguments differ from the package.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "jobs/redis_bullmq/bullmq_scripts_generated.h"

namespace heavylift {
namespace {

const std::string kSource = HEAVYLIFT_SOURCE_DIR;
const std::string kPackage = kSource + "/../sdk/node/node_modules/bullmq";
const std::string kTable = kSource + "/src/jobs/redis_bullmq/bullmq_scripts.json";

// Runs the generator with `table` and returns its exit status and output.
std::pair<int, std::string> run_generator(const std::string& table, const std::string& output) {
  const std::string command = "node " + kSource + "/tools/bullmq_scripts.mjs --package " + kPackage + " --table " +
                              table + " --output " + output + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string text;
  char buffer[4096];
  while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) text += buffer;
  const int status = pipe != nullptr ? pclose(pipe) : -1;
  return {status, text};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ScriptsTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPackage + "/package.json")) GTEST_SKIP() << "bullmq is not installed in sdk/node";
    char pattern[] = "/tmp/heavylift-scripts-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(ScriptsTableTest, CommittedTableMatchesPackage) {
  const auto [status, output] = run_generator(kTable, dir_ + "/out.h");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(read_file(dir_ + "/out.h").find("kMoveToActiveSha1"), std::string::npos);
}

TEST_F(ScriptsTableTest, ChangedKeyFailsTheBuild) {
  std::string table = read_file(kTable);
  const std::string from = "[\"marker\",\"marker key\"]";
  const size_t at = table.find(from);
  ASSERT_NE(at, std::string::npos);
  table.replace(at, from.size(), "[\"marker\",\"some other key\"]");
  std::ofstream(dir_ + "/table.json") << table;
  const auto [status, output] = run_generator(dir_ + "/table.json", dir_ + "/out.h");
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("KEYS[11] is \"marker key\" in the package"), std::string::npos) << output;
}

TEST_F(ScriptsTableTest, OtherVersionFailsTheBuild) {
  std::string table = read_file(kTable);
  const std::string pinned = std::string("\"bullmq\": \"") + std::string(bullmq::generated::kBullmqVersion) + "\"";
  const size_t at = table.find(pinned);
  ASSERT_NE(at, std::string::npos);
  table.replace(at, pinned.size(), "\"bullmq\": \"0.0.1\"");
  std::ofstream(dir_ + "/table.json") << table;
  const auto [status, output] = run_generator(dir_ + "/table.json", dir_ + "/out.h");
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("the table is for bullmq 0.0.1"), std::string::npos) << output;
}

TEST(BullmqScripts, GeneratedShaMatchesSource) {
  // A script's SHA-1 is what EVALSHA names it by; spot-check one length.
  EXPECT_EQ(bullmq::generated::kMoveToActiveSha1.size(), 40u);
  EXPECT_EQ(bullmq::generated::kMoveToActiveKeys.size(), 11u);
  EXPECT_EQ(bullmq::generated::kMoveToFinishedKeys[10], "finished");
}

}  // namespace
}  // namespace heavylift
