#include "grpc/stream_call.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "grpc/file_service.h"
#include "tasks/files/digest.h"

namespace heavylift {
namespace {

using namespace std::chrono_literals;

// Sleeps `delay` per message and counts what it saw, so tests can tell how
// the adapter paced, bounded and stopped the stream.
class SlowHandler final : public ClientStreamHandler<v1::UploadChunk, v1::UploadResult> {
 public:
  SlowHandler(std::chrono::milliseconds delay, std::atomic<int>& messages, std::atomic<bool>& ended)
      : delay_(delay), messages_(messages), ended_(ended) {}
  Status on_message(v1::UploadChunk& message, TaskContext&) override {
    std::this_thread::sleep_for(delay_);
    ++messages_;
    bytes_ += message.data().size();
    if (message.data() == "fail") return Error::invalid("data", "BAD_CHUNK", "data must not be \"fail\"");
    return Status::Ok();
  }
  Status on_end(v1::UploadResult* response, TaskContext&) override {
    ended_ = true;
    response->set_bytes(bytes_);
    return Status::Ok();
  }

 private:
  std::chrono::milliseconds delay_;
  std::atomic<int>& messages_;
  std::atomic<bool>& ended_;
  uint64_t bytes_ = 0;
};

class SlowUploadService final : public v1::FileService::CallbackService {
 public:
  SlowUploadService(StreamCallTracker& tracker, StreamCallOptions options, std::chrono::milliseconds delay)
      : tracker_(tracker), options_(std::move(options)), delay_(delay) {}
  grpc::ServerReadReactor<v1::UploadChunk>* Upload(grpc::CallbackServerContext* context,
                                                   v1::UploadResult* response) override {
    return ClientStreamCall<v1::UploadChunk, v1::UploadResult>::start(
        context, response, options_, std::make_unique<SlowHandler>(delay_, messages, ended), tracker_);
  }
  std::atomic<int> messages{0};
  std::atomic<bool> ended{false};

 private:
  StreamCallTracker& tracker_;
  StreamCallOptions options_;
  std::chrono::milliseconds delay_;
};

class StreamCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    executor_ = std::make_unique<Executor>(Executor::Options{2, 8}, metrics_);
    tracker_ = std::make_unique<StreamCallTracker>(*executor_, metrics_, draining_);
  }

  void serve(grpc::Service* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service);
    builder.SetMaxReceiveMessageSize(16 << 20);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::FileService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 5s);
    executor_->shutdown();
    // Calls delete themselves once gRPC reports them done.
    for (int i = 0; i < 100 && tracker_->in_flight() > 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(tracker_->in_flight(), 0u);
  }

  static v1::ErrorDetail detail_of(const grpc::ClientContext& context) {
    v1::ErrorDetail detail;
    const auto& trailers = context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kErrorDetailKey); it != trailers.end()) {
      detail.ParseFromString(std::string(it->second.data(), it->second.size()));
    }
    return detail;
  }

  static StreamCallOptions options(uint64_t max_bytes = UINT64_MAX, uint32_t buffered = 2) {
    StreamCallOptions result;
    result.method = "test.upload";
    result.max_call_bytes = max_bytes;
    result.bytes_setting = "test.max_bytes";
    result.max_buffered_messages = buffered;
    return result;
  }

  static v1::UploadChunk chunk(std::string data) {
    v1::UploadChunk message;
    message.set_data(std::move(data));
    return message;
  }

  Metrics metrics_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<StreamCallTracker> tracker_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::FileService::Stub> stub_;
};

TEST_F(StreamCallTest, UploadDigestsAndStoresDeduplicated) {
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     ("heavylift-stream-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  FilesLimits limits;
  limits.max_chunk_bytes = 1 << 20;
  TaskRegistry registry;
  TaskRunner runner(*executor_, metrics_);
  TaskCallDispatcher dispatcher(registry, runner, draining_);
  FileServiceImpl service(dispatcher, *tracker_, limits, root.string());
  serve(&service);

  std::string data;
  for (int i = 0; i < 3'000'000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext context;
    v1::UploadResult result;
    auto writer = stub_->Upload(&context, &result);
    v1::UploadChunk first;
    first.mutable_options()->set_store(true);
    ASSERT_TRUE(writer->Write(first));
    for (size_t offset = 0; offset < data.size(); offset += 1 << 20) {
      ASSERT_TRUE(writer->Write(chunk(data.substr(offset, 1 << 20))));
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    const v1::Digests expected = digest_bytes(data, {}).value();
    EXPECT_EQ(result.bytes(), data.size());
    EXPECT_EQ(result.digests().SerializeAsString(), expected.SerializeAsString());
    EXPECT_EQ(result.content_type(), "text/plain");
    EXPECT_EQ(result.stored_path(), "files/sha256/" + expected.sha256().substr(0, 2) + "/" + expected.sha256());
    EXPECT_EQ(result.deduplicated(), attempt == 1);
    EXPECT_EQ(std::filesystem::file_size(root / result.stored_path()), data.size());
  }
  // Only the stored file remains; temporary files are gone.
  EXPECT_TRUE(std::filesystem::is_empty(root / "files" / "tmp"));
  std::filesystem::remove_all(root);
}

TEST_F(StreamCallTest, SlowHandlerKeepsBufferBounded) {
  SlowUploadService service(*tracker_, options(UINT64_MAX, 2), 5ms);
  serve(&service);
  Gauge& buffered = metrics_.gauge("heavylift_stream_buffered_messages", "");
  std::atomic<bool> sending{true};
  double peak = 0;
  std::thread sampler([&] {
    while (sending) {
      peak = std::max(peak, buffered.value());
      std::this_thread::sleep_for(1ms);
    }
  });
  grpc::ClientContext context;
  v1::UploadResult result;
  auto writer = stub_->Upload(&context, &result);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(writer->Write(chunk(std::string(64 * 1024, 'x'))));
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  sending = false;
  sampler.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result.bytes(), 60u * 64 * 1024);
  EXPECT_EQ(service.messages.load(), 60);
  EXPECT_GE(peak, 1.0);
  EXPECT_LE(peak, 2.0);
}

TEST_F(StreamCallTest, ByteLimitFailsNamingSetting) {
  SlowUploadService service(*tracker_, options(100'000), 0ms);
  serve(&service);
  grpc::ClientContext context;
  v1::UploadResult result;
  auto writer = stub_->Upload(&context, &result);
  for (int i = 0; i < 4; ++i) {
    if (!writer->Write(chunk(std::string(40'000, 'x')))) break;
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("test.max_bytes = 100000 bytes"), std::string::npos) << status.error_message();
  const v1::ErrorDetail detail = detail_of(context);
  EXPECT_EQ(detail.field(), "test.max_bytes");
  EXPECT_EQ(detail.bound(), "<= 100000 bytes");
  EXPECT_EQ(detail.reason(), "TOO_LARGE");
  EXPECT_FALSE(service.ended.load());
}

TEST_F(StreamCallTest, HandlerErrorEndsCallWithDetail) {
  SlowUploadService service(*tracker_, options(), 0ms);
  serve(&service);
  grpc::ClientContext context;
  v1::UploadResult result;
  auto writer = stub_->Upload(&context, &result);
  writer->Write(chunk("ok"));
  writer->Write(chunk("fail"));
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(detail_of(context).reason(), "BAD_CHUNK");
  EXPECT_FALSE(service.ended.load());
}

TEST_F(StreamCallTest, DeadlineStopsSlowUpload) {
  SlowUploadService service(*tracker_, options(), 50ms);
  serve(&service);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 300ms);
  v1::UploadResult result;
  auto writer = stub_->Upload(&context, &result);
  for (int i = 0; i < 200; ++i) {
    if (!writer->Write(chunk(std::string(1024, 'x')))) break;
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(200ms);
  // The handler stopped within a message or two of the deadline.
  EXPECT_LT(service.messages.load(), 20);
  EXPECT_FALSE(service.ended.load());
}

TEST_F(StreamCallTest, ClientCancelStopsHandler) {
  SlowUploadService service(*tracker_, options(), 20ms);
  serve(&service);
  grpc::ClientContext context;
  v1::UploadResult result;
  auto writer = stub_->Upload(&context, &result);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer->Write(chunk("x")));
  context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  std::this_thread::sleep_for(200ms);
  const int seen = service.messages.load();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(service.messages.load(), seen);
  EXPECT_FALSE(service.ended.load());
}

}  // namespace
}  // namespace heavylift
