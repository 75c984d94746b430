#include "tasks/image/transform_stream.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <string>

#include "image_test_support.h"
#include "tasks/image/transform.h"
#include "tasks/image/vips_support.h"

namespace heavylift {
namespace {

using namespace testing_image;  // NOLINT: test helpers

class TransformStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(VIPS_INIT("heavylift_tests"), 0);
    configure_vips_for_untrusted_input();
  }

  void SetUp() override {
    if (!photos_present()) GTEST_SKIP() << "mate-backgrounds photos not found under " << kPhotoDir;
    request_.add_outputs()->set_format(v1::OUTPUT_FORMAT_PNG);
    request_.mutable_outputs(0)->mutable_resize()->set_width(200);
  }

  // Sends `source` to `upload` after the request, in messages of `chunk` bytes.
  Status send(TransformUpload& upload, const std::string& source, size_t chunk) {
    v1::TransformUploadChunk first;
    *first.mutable_request() = request_;
    if (Status s = upload.add(first, *context_); !s.ok()) return s;
    for (size_t offset = 0; offset < source.size(); offset += chunk) {
      v1::TransformUploadChunk message;
      message.set_data(source.substr(offset, chunk));
      if (Status s = upload.add(message, *context_); !s.ok()) return s;
    }
    return Status::Ok();
  }

  v1::TransformRequest request_;
  ImageLimits limits_;
  BlobReader blobs_{""};
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

TEST_F(TransformStreamTest, UploadEqualsUnaryTransform) {
  const std::string source = read_file(kDune);
  TransformUpload upload(limits_, blobs_);
  ASSERT_TRUE(send(upload, source, 64 << 10).ok());
  v1::TransformResponse streamed;
  const Status status = upload.finish(&streamed, *context_);
  ASSERT_TRUE(status.ok()) << status.error().message;

  v1::TransformRequest unary_request = request_;
  unary_request.mutable_input()->set_data(source);
  v1::TransformResponse unary;
  ASSERT_TRUE(transform(unary_request, &unary, *context_, limits_, blobs_).ok());
  ASSERT_EQ(streamed.outputs_size(), 1);
  EXPECT_EQ(streamed.outputs(0).width(), 200u);
  EXPECT_EQ(streamed.outputs(0).data(), unary.outputs(0).data());
  EXPECT_EQ(streamed.source().format(), "jpeg");
}

TEST_F(TransformStreamTest, UploadRejectsPixelsFromHeaderBeforeTheEnd) {
  // The first 64 KiB of the 5640x3172 photo hold its header; the rest never arrives.
  limits_.max_input_pixels = 1'000'000;
  const std::string source = read_file(kLargePhoto);
  TransformUpload upload(limits_, blobs_);
  const Status status = send(upload, source.substr(0, 64 << 10), 16 << 10);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "data");
  EXPECT_EQ(status.error().reason, "TOO_MANY_PIXELS");
}

TEST_F(TransformStreamTest, UploadRejectsRequestMistakes) {
  {
    TransformUpload upload(limits_, blobs_);
    v1::TransformUploadChunk data_only;
    data_only.set_data("abc");
    const Status status = upload.add(data_only, *context_);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().field, "request");
    EXPECT_EQ(status.error().reason, "MISSING");
  }
  {
    TransformUpload upload(limits_, blobs_);
    request_.mutable_input()->set_path("photo.jpg");
    const Status status = send(upload, "", 1);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().field, "request.input");
    request_.clear_input();
  }
  {
    TransformUpload upload(limits_, blobs_);
    ASSERT_TRUE(send(upload, "abc", 3).ok());
    v1::TransformUploadChunk second_request;
    *second_request.mutable_request() = request_;
    const Status status = upload.add(second_request, *context_);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().reason, "UNEXPECTED");
  }
  {
    limits_.max_stream_chunk_bytes = 1024;
    TransformUpload small_chunks(limits_, blobs_);
    const Status status = send(small_chunks, std::string(2048, 'x'), 2048);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().reason, "TOO_LARGE");
    EXPECT_NE(status.error().bound.find("image.max_stream_chunk_bytes"), std::string::npos) << status.error().bound;
  }
}

TEST_F(TransformStreamTest, UploadEndsWithoutSource) {
  TransformUpload upload(limits_, blobs_);
  ASSERT_TRUE(send(upload, "", 1).ok());
  v1::TransformResponse response;
  const Status status = upload.finish(&response, *context_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "EMPTY");

  TransformUpload nothing(limits_, blobs_);
  const Status no_messages = nothing.finish(&response, *context_);
  ASSERT_FALSE(no_messages.ok());
  EXPECT_EQ(no_messages.error().field, "request");
}

TEST_F(TransformStreamTest, OutputStreamCutsOutputsIntoPieces) {
  limits_.max_stream_chunk_bytes = 4096;
  request_.mutable_input()->set_data(read_file(kDune));
  request_.add_outputs()->set_format(v1::OUTPUT_FORMAT_JPEG);
  request_.mutable_outputs(1)->mutable_resize()->set_width(100);
  v1::TransformResponse unary;
  ASSERT_TRUE(transform(request_, &unary, *context_, limits_, blobs_).ok());

  TransformOutputStream stream(request_, limits_, blobs_);
  std::string joined[2];
  bool last = false;
  int messages = 0;
  while (!last) {
    v1::TransformStreamChunk message;
    const Status status = stream.next(&message, &last, *context_);
    ASSERT_TRUE(status.ok()) << status.error().message;
    if (messages == 0) {
      EXPECT_EQ(message.source().width(), 1680u);
      EXPECT_EQ(message.image().width(), 200u);
    } else {
      EXPECT_FALSE(message.has_source());
    }
    ASSERT_LT(message.output_index(), 2u);
    EXPECT_LE(message.data().size(), 4096u);
    joined[message.output_index()] += message.data();
    ++messages;
  }
  EXPECT_GT(messages, 2);
  EXPECT_EQ(joined[0], unary.outputs(0).data());
  EXPECT_EQ(joined[1], unary.outputs(1).data());
}

TEST_F(TransformStreamTest, OutputStreamReturnsTransformErrorFirst) {
  request_.mutable_input()->set_data("not an image at all");
  TransformOutputStream stream(request_, limits_, blobs_);
  v1::TransformStreamChunk message;
  bool last = false;
  const Status status = stream.next(&message, &last, *context_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "UNSUPPORTED_FORMAT");
}

}  // namespace
}  // namespace heavylift
