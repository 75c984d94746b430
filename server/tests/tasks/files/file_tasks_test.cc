#include "tasks/files/file_tasks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "jobs/task_job.h"
#include "tasks/files/upload.h"

namespace heavylift {
namespace {

class FileTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("heavylift-files-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    blobs_ = std::make_unique<BlobReader>(root_.string());
    limits_.max_inline_output_bytes = 1 << 20;
    ASSERT_TRUE(register_files_tasks(registry_, limits_, *blobs_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  template <typename Response>
  Status run(const std::string& name, const google::protobuf::Message& request, Response* response) {
    auto context = TaskContext::unbounded();
    return registry_.find(name)->handler(request, response, *context);
  }

  std::filesystem::path root_;
  std::unique_ptr<BlobReader> blobs_;
  FilesLimits limits_;
  TaskRegistry registry_;
};

TEST_F(FileTasksTest, DigestOfInlineBytes) {
  v1::DigestRequest request;
  request.mutable_input()->set_data("abc");
  request.mutable_digests()->set_sha256(true);
  v1::DigestResponse response;
  ASSERT_TRUE(run("files.digest", request, &response).ok());
  EXPECT_EQ(response.bytes(), 3u);
  EXPECT_EQ(response.digests().sha256(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(response.digests().xxh3_64().empty());
}

TEST_F(FileTasksTest, CompressToPathThenDecompressBySniffing) {
  const std::string text(200'000, 'q');
  v1::CompressRequest compress;
  compress.mutable_input()->set_data(text);
  compress.set_format(v1::COMPRESSION_FORMAT_ZSTD);
  compress.set_level(19);
  compress.set_output_path("out.zst");
  v1::CompressResponse compressed;
  Status status = run("files.compress", compress, &compressed);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(std::filesystem::file_size(root_ / "out.zst"), compressed.output_bytes());
  EXPECT_TRUE(compressed.data().empty());

  v1::DecompressRequest decompress;
  decompress.mutable_input()->set_path("out.zst");
  v1::DecompressResponse decompressed;
  ASSERT_TRUE(run("files.decompress", decompress, &decompressed).ok());
  EXPECT_EQ(decompressed.format(), v1::COMPRESSION_FORMAT_ZSTD);
  EXPECT_EQ(decompressed.data(), text);

  // The same output path again is refused rather than overwritten.
  v1::CompressResponse again;
  status = run("files.compress", compress, &again);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "ALREADY_EXISTS");
}

TEST_F(FileTasksTest, DecompressStopsAtRequestedBound) {
  v1::CompressRequest compress;
  compress.mutable_input()->set_data(std::string(5'000'000, '\0'));
  compress.set_format(v1::COMPRESSION_FORMAT_GZIP);
  v1::CompressResponse compressed;
  ASSERT_TRUE(run("files.compress", compress, &compressed).ok());

  v1::DecompressRequest decompress;
  decompress.mutable_input()->set_data(compressed.data());
  decompress.set_max_output_bytes(1000);
  v1::DecompressResponse response;
  Status status = run("files.decompress", decompress, &response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "DECOMPRESSED_TOO_LARGE");
  EXPECT_EQ(status.error().field, "max_output_bytes");
  EXPECT_EQ(status.error().bound, "<= 1000 bytes");

  // Without a request bound, inline output stops at the inline limit.
  decompress.set_max_output_bytes(0);
  status = run("files.decompress", decompress, &response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "files.max_inline_output_bytes");
}

TEST_F(FileTasksTest, OutputPathCannotLeaveRoot) {
  v1::CompressRequest compress;
  compress.mutable_input()->set_data("x");
  compress.set_format(v1::COMPRESSION_FORMAT_GZIP);
  for (const char* path : {"../escape.gz", "/tmp/escape.gz"}) {
    compress.set_output_path(path);
    v1::CompressResponse response;
    Status status = run("files.compress", compress, &response);
    ASSERT_FALSE(status.ok()) << path;
    EXPECT_EQ(status.error().reason, "PATH_OUTSIDE_ROOT") << path;
  }
  std::filesystem::create_symlink("/tmp", root_ / "link");
  compress.set_output_path("link/escape.gz");
  v1::CompressResponse response;
  EXPECT_EQ(run("files.compress", compress, &response).error().reason, "PATH_OUTSIDE_ROOT");
}

TEST_F(FileTasksTest, OutputPathWithoutRootIsPrecondition) {
  const BlobReader no_root("");
  TaskRegistry registry;
  ASSERT_TRUE(register_files_tasks(registry, limits_, no_root).ok());
  v1::CompressRequest compress;
  compress.mutable_input()->set_data("x");
  compress.set_format(v1::COMPRESSION_FORMAT_GZIP);
  compress.set_output_path("out.gz");
  v1::CompressResponse response;
  auto context = TaskContext::unbounded();
  Status status = registry.find("files.compress")->handler(compress, &response, *context);

  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(status.error().reason, "PATHS_DISABLED");
  EXPECT_EQ(status.error().field, "output_path");
}

TEST_F(FileTasksTest, ProfileCsvAndConvertFromPath) {
  std::ofstream(root_ / "people.csv") << "name;age\nann;31\nbob;\n";
  v1::ProfileCsvRequest profile_request;
  profile_request.mutable_input()->set_path("people.csv");
  v1::ProfileResponse profile;
  ASSERT_TRUE(run("files.profile_csv", profile_request, &profile).ok());
  EXPECT_EQ(profile.profile().delimiter(), ";");
  EXPECT_EQ(profile.profile().rows(), 2u);
  EXPECT_EQ(profile.profile().columns(1).type(), v1::COLUMN_TYPE_INTEGER);

  v1::CsvToNdjsonRequest convert;
  convert.mutable_input()->set_path("people.csv");
  v1::CsvToNdjsonResponse converted;
  ASSERT_TRUE(run("files.csv_to_ndjson", convert, &converted).ok());
  EXPECT_EQ(converted.data(), "{\"name\":\"ann\",\"age\":31}\n{\"name\":\"bob\",\"age\":null}\n");

  v1::ProfileNdjsonRequest ndjson_request;
  ndjson_request.mutable_input()->set_data(converted.data());
  v1::ProfileResponse ndjson;
  ASSERT_TRUE(run("files.profile_ndjson", ndjson_request, &ndjson).ok());
  EXPECT_EQ(ndjson.profile().rows(), 2u);
  EXPECT_EQ(ndjson.profile().columns(1).null_count(), 1u);
}

// A file is read in slices of 1 MiB into one reused buffer: values and
// quoted fields that span a slice boundary give the same results as the
// same bytes sent inline.
TEST_F(FileTasksTest, PathInputMatchesInlineInput) {
  std::string csv = "id,amount,comment\n";
  for (int id = 1; csv.size() < 3'500'000; ++id) {
    csv += std::to_string(id) + "," + std::to_string(id % 977) + ".5,\"note " + std::to_string(id % 31) + ",\nok\"\n";
  }
  std::ofstream(root_ / "big.csv", std::ios::binary) << csv;

  v1::ProfileCsvRequest from_path;
  from_path.mutable_input()->set_path("big.csv");
  v1::ProfileCsvRequest inline_request;
  inline_request.mutable_input()->set_data(csv);
  v1::ProfileResponse path_profile;
  v1::ProfileResponse inline_profile;
  ASSERT_TRUE(run("files.profile_csv", from_path, &path_profile).ok());
  ASSERT_TRUE(run("files.profile_csv", inline_request, &inline_profile).ok());
  EXPECT_EQ(path_profile.profile().bytes(), csv.size());
  EXPECT_EQ(path_profile.profile().bad_row_count(), 0u);
  EXPECT_EQ(path_profile.SerializeAsString(), inline_profile.SerializeAsString());

  v1::DigestRequest digest_path;
  digest_path.mutable_input()->set_path("big.csv");
  digest_path.mutable_digests()->set_sha256(true);
  v1::DigestRequest digest_inline = digest_path;
  digest_inline.mutable_input()->set_data(csv);
  v1::DigestResponse path_digest;
  v1::DigestResponse inline_digest;
  ASSERT_TRUE(run("files.digest", digest_path, &path_digest).ok());
  ASSERT_TRUE(run("files.digest", digest_inline, &inline_digest).ok());
  EXPECT_EQ(path_digest.bytes(), csv.size());
  EXPECT_EQ(path_digest.digests().sha256(), inline_digest.digests().sha256());

  v1::CompressRequest compress;
  compress.mutable_input()->set_path("big.csv");
  compress.set_format(v1::COMPRESSION_FORMAT_ZSTD);
  compress.set_output_path("big.csv.zst");
  v1::CompressResponse compressed;
  ASSERT_TRUE(run("files.compress", compress, &compressed).ok());
  EXPECT_EQ(compressed.input_bytes(), csv.size());
  v1::DecompressRequest decompress;
  decompress.mutable_input()->set_path("big.csv.zst");
  decompress.set_output_path("round-trip.csv");
  v1::DecompressResponse decompressed;
  ASSERT_TRUE(run("files.decompress", decompress, &decompressed).ok());
  EXPECT_EQ(decompressed.format(), v1::COMPRESSION_FORMAT_ZSTD);
  EXPECT_EQ(decompressed.output_bytes(), csv.size());
  std::ifstream round_trip(root_ / "round-trip.csv", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(round_trip), {}), csv);
}

// A compressed path input of several slices is sniffed from its first bytes
// and decoded in full.
TEST_F(FileTasksTest, DecompressPathOfManySlices) {
  std::string bytes(3'000'000, '\0');
  uint64_t state = 1;
  for (char& byte : bytes) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    byte = static_cast<char>(state >> 56);
  }
  v1::CompressRequest compress;
  compress.mutable_input()->set_data(bytes);
  compress.set_format(v1::COMPRESSION_FORMAT_GZIP);
  compress.set_level(1);
  compress.set_output_path("random.gz");
  v1::CompressResponse compressed;
  ASSERT_TRUE(run("files.compress", compress, &compressed).ok());
  ASSERT_GT(compressed.output_bytes(), 2u << 20);

  v1::DecompressRequest decompress;
  decompress.mutable_input()->set_path("random.gz");
  decompress.set_output_path("random.bin");
  v1::DecompressResponse decompressed;
  Status status = run("files.decompress", decompress, &decompressed);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(decompressed.format(), v1::COMPRESSION_FORMAT_GZIP);
  EXPECT_EQ(decompressed.input_bytes(), compressed.output_bytes());
  EXPECT_EQ(decompressed.output_bytes(), bytes.size());
  std::ifstream output(root_ / "random.bin", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(output), {}), bytes);
}

// The input is opened before the output, so a missing input creates no
// output file.
TEST_F(FileTasksTest, MissingPathInputCreatesNoOutput) {
  v1::CompressRequest compress;
  compress.mutable_input()->set_path("absent.csv");
  compress.set_format(v1::COMPRESSION_FORMAT_GZIP);
  compress.set_output_path("absent.csv.gz");
  v1::CompressResponse response;
  Status status = run("files.compress", compress, &response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "NOT_FOUND");
  EXPECT_EQ(status.error().field, "input.path");
  EXPECT_FALSE(std::filesystem::exists(root_ / "absent.csv.gz"));
}

TEST_F(FileTasksTest, UploadPipelineCompressesAndProfilesInOnePass) {
  v1::UploadOptions options;
  options.set_store(true);
  options.set_compression(v1::COMPRESSION_FORMAT_ZSTD);
  options.set_profile_csv(true);
  options.set_expected_bytes(12);
  auto pipeline = UploadPipeline::create(options, limits_, root_.string()).value();
  ASSERT_TRUE(pipeline->write("a,b\n1,").ok());
  ASSERT_TRUE(pipeline->write("2\n3,4\n").ok());
  v1::UploadResult result;
  ASSERT_TRUE(pipeline->finish(&result).ok());
  EXPECT_EQ(result.content_type(), "text/csv");
  EXPECT_EQ(result.profile().rows(), 2u);
  EXPECT_TRUE(result.stored_path().ends_with(".zst"));
  EXPECT_EQ(std::filesystem::file_size(root_ / result.stored_path()), result.compressed_bytes());
}

TEST_F(FileTasksTest, UploadPipelineEnforcesExpectedBytes) {
  v1::UploadOptions options;
  options.set_expected_bytes(4);
  auto pipeline = UploadPipeline::create(options, limits_, "").value();
  Status status = pipeline->write("12345");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "options.expected_bytes");

  auto short_pipeline = UploadPipeline::create(options, limits_, "").value();
  ASSERT_TRUE(short_pipeline->write("12").ok());
  v1::UploadResult result;
  EXPECT_EQ(short_pipeline->finish(&result).error().reason, "SIZE_MISMATCH");

  v1::UploadOptions store;
  store.set_store(true);
  EXPECT_EQ(UploadPipeline::create(store, limits_, "").error().code, Code::kFailedPrecondition);
}

// A queue job carries the request as proto3 JSON; the files tasks decode and
// run from it like any other task.
TEST_F(FileTasksTest, RunsFromQueueJobJson) {
  std::ofstream(root_ / "sales.csv") << "region,total\nnorth,10\nsouth,\n";
  const Task* task = registry_.find("files.profile_csv");
  ASSERT_NE(task, nullptr);
  auto request = decode_job_request(*task, R"({"input":{"path":"sales.csv"},"csv":{"delimiter":","}})",
                                    PayloadFormat::kJson);
  ASSERT_TRUE(request.ok()) << request.error().message;
  v1::ProfileResponse response;
  auto context = TaskContext::unbounded();
  ASSERT_TRUE(task->handler(*request.value(), &response, *context).ok());
  const std::string json = encode_job_result(response);
  EXPECT_NE(json.find("\"rows\":\"2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"COLUMN_TYPE_INTEGER\""), std::string::npos) << json;
}

}  // namespace
}  // namespace heavylift
