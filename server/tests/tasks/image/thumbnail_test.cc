#include "tasks/image/thumbnail.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tasks/image/vips_support.h"

namespace heavylift {
namespace {

// The photographs of Debian's mate-backgrounds package.
const char* const kPhotoDir = "/usr/share/backgrounds/mate";
const char* const kLargePhoto = "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool is_jpeg(const std::string& bytes) { return bytes.size() > 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0; }
bool is_webp(const std::string& bytes) {
  return bytes.size() > 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0;
}

// Encodes a synthetic width x height gray JPEG with an EXIF orientation tag
// and a white square in its stored top-left corner.
std::string synthetic_jpeg(int width, int height, int orientation) {
  const auto bands = vips::VImage::option()->set("bands", 3);
  vips::VImage image = vips::VImage::black(width, height, bands).linear(1.0, 96.0).cast(VIPS_FORMAT_UCHAR);
  const int side = std::min(width, height) / 2;
  const vips::VImage white =
      vips::VImage::black(side, side, vips::VImage::option()->set("bands", 3)).linear(1.0, 255.0).cast(VIPS_FORMAT_UCHAR);
  image = image.insert(white, 0, 0).copy();
  image.set(VIPS_META_ORIENTATION, orientation);
  VipsBlob* blob = image.jpegsave_buffer();
  size_t size = 0;
  const void* data = vips_blob_get(blob, &size);
  std::string bytes(static_cast<const char*>(data), size);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

class ThumbnailTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(VIPS_INIT("heavylift_tests"), 0);
    configure_vips_for_untrusted_input();
  }

  Status run(v1::ThumbnailResponse* response) {
    return thumbnail(request_, response, *context_, limits_, blobs_);
  }

  void require_photos() {
    if (!std::filesystem::exists(kLargePhoto)) {
      GTEST_SKIP() << "mate-backgrounds photos not found under " << kPhotoDir
                   << " (install Debian's mate-backgrounds)";
    }
  }

  v1::ThumbnailRequest request_;
  ImageLimits limits_;
  BlobReader blobs_{""};
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
};

TEST_F(ThumbnailTest, RealPhotoManyWidthsFromOneCall) {
  require_photos();
  request_.mutable_input()->set_data(read_file(kLargePhoto));
  request_.add_widths(320);
  request_.add_widths(1280);
  request_.add_widths(640);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;

  EXPECT_EQ(response.source_width(), 5640u);
  EXPECT_EQ(response.source_height(), 3172u);
  EXPECT_EQ(response.source_format(), "jpeg");
  ASSERT_EQ(response.thumbnails_size(), 3);
  const uint32_t expected_widths[] = {320, 1280, 640};
  for (int i = 0; i < 3; ++i) {
    const auto& thumbnail = response.thumbnails(i);
    EXPECT_EQ(thumbnail.width(), expected_widths[i]);
    // The height image.transform gives for this width: the source's, scaled and rounded.
    const long expected_height = std::lround(expected_widths[i] * 3172.0 / 5640.0);
    EXPECT_EQ(thumbnail.height(), static_cast<uint32_t>(expected_height)) << expected_widths[i];
    EXPECT_TRUE(is_jpeg(thumbnail.data()));
    EXPECT_EQ(thumbnail.format(), v1::IMAGE_FORMAT_JPEG);
    // The encoded bytes decode to the reported size.
    auto decoded = vips::VImage::new_from_buffer(thumbnail.data(), "");
    EXPECT_EQ(static_cast<uint32_t>(decoded.width()), thumbnail.width());
    EXPECT_EQ(static_cast<uint32_t>(decoded.height()), thumbnail.height());
  }
}

TEST_F(ThumbnailTest, WebpOutput) {
  request_.mutable_input()->set_data(synthetic_jpeg(400, 300, 1));
  request_.add_widths(100);
  request_.set_format(v1::IMAGE_FORMAT_WEBP);
  request_.set_quality(60);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  ASSERT_EQ(response.thumbnails_size(), 1);
  EXPECT_TRUE(is_webp(response.thumbnails(0).data()));
  EXPECT_EQ(response.thumbnails(0).height(), 75u);
}

// A smaller width is resized from the largest output. Its height still comes
// from the source: 1280 * 320 / 1920 = 213.3 gives 213, where 427 * 320 / 640
// = 213.5 from the 640-pixel output would give 214.
TEST_F(ThumbnailTest, SmallerWidthsKeepTheSourceAspect) {
  request_.mutable_input()->set_data(synthetic_jpeg(1920, 1280, 1));
  request_.add_widths(640);
  request_.add_widths(320);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  ASSERT_EQ(response.thumbnails_size(), 2);
  EXPECT_EQ(response.thumbnails(0).height(), 427u);
  EXPECT_EQ(response.thumbnails(1).height(), 213u);
}

TEST_F(ThumbnailTest, AutoOrientRotatesFromExif) {
  // Orientation 6: stored 200x100, displayed rotated 90 degrees, 100x200.
  request_.mutable_input()->set_data(synthetic_jpeg(200, 100, 6));
  request_.add_widths(50);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  EXPECT_EQ(response.orientation(), 6u);
  EXPECT_EQ(response.thumbnails(0).width(), 50u);
  EXPECT_EQ(response.thumbnails(0).height(), 100u);
}

// Returns which corner of `image` is brightest: "top-left", "top-right",
// "bottom-left" or "bottom-right".
std::string brightest_corner(const vips::VImage& image) {
  const int w = image.width() / 4;
  const int h = image.height() / 4;
  const std::pair<const char*, std::pair<int, int>> corners[] = {
      {"top-left", {0, 0}},
      {"top-right", {image.width() - w, 0}},
      {"bottom-left", {0, image.height() - h}},
      {"bottom-right", {image.width() - w, image.height() - h}},
  };
  std::string brightest;
  double best = -1;
  for (const auto& [name, origin] : corners) {
    const double mean = image.extract_area(origin.first, origin.second, w, h).avg();
    if (mean > best) {
      best = mean;
      brightest = name;
    }
  }
  return brightest;
}

TEST_F(ThumbnailTest, EveryOrientationComesOutUpright) {
  // Where the stored top-left corner appears once each EXIF orientation is
  // applied. Orientations 5 to 8 turn by 90 or 270 degrees, so width and
  // height swap.
  const char* const expected_corner[] = {"",          "top-left",  "top-right",   "bottom-right", "bottom-left",
                                         "top-left",  "top-right", "bottom-right", "bottom-left"};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    v1::ThumbnailRequest request;
    request.mutable_input()->set_data(synthetic_jpeg(200, 100, orientation));
    request.add_widths(40);
    v1::ThumbnailResponse response;
    const Status status = thumbnail(request, &response, *context_, limits_, blobs_);
    ASSERT_TRUE(status.ok()) << "orientation " << orientation << ": " << status.error().message;
    EXPECT_EQ(response.orientation(), static_cast<uint32_t>(orientation));
    const uint32_t expected_height = orientation >= 5 ? 80 : 20;
    EXPECT_EQ(response.thumbnails(0).width(), 40u) << "orientation " << orientation;
    EXPECT_EQ(response.thumbnails(0).height(), expected_height) << "orientation " << orientation;
    const auto decoded = vips::VImage::new_from_buffer(response.thumbnails(0).data(), "");
    EXPECT_EQ(brightest_corner(decoded), expected_corner[orientation]) << "orientation " << orientation;
  }
}

TEST_F(ThumbnailTest, AutoOrientCanBeTurnedOff) {
  request_.mutable_input()->set_data(synthetic_jpeg(200, 100, 6));
  request_.add_widths(50);
  request_.set_auto_orient(false);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  EXPECT_EQ(response.thumbnails(0).height(), 25u);
}

TEST_F(ThumbnailTest, NeverEnlarges) {
  request_.mutable_input()->set_data(synthetic_jpeg(120, 60, 1));
  request_.add_widths(1000);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  EXPECT_EQ(response.thumbnails(0).width(), 120u);
  EXPECT_EQ(response.thumbnails(0).height(), 60u);
}

TEST_F(ThumbnailTest, OutputsCarryNoExif) {
  request_.mutable_input()->set_data(synthetic_jpeg(200, 100, 6));
  request_.add_widths(50);
  v1::ThumbnailResponse response;
  ASSERT_TRUE(run(&response).ok());
  auto decoded = vips::VImage::new_from_buffer(response.thumbnails(0).data(), "");
  EXPECT_EQ(decoded.get_typeof(VIPS_META_EXIF_NAME), 0u);
}

TEST_F(ThumbnailTest, PixelLimitIsCheckedFromHeader) {
  require_photos();
  limits_.max_input_pixels = 1'000'000;
  request_.mutable_input()->set_data(read_file(kLargePhoto));
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "input.data");
  EXPECT_EQ(status.error().bound, "<= 1000000 pixels (image.max_input_pixels)");
  EXPECT_EQ(status.error().value, "5640x3172 = 17890080 pixels");
  EXPECT_EQ(status.error().reason, "TOO_MANY_PIXELS");
}

TEST_F(ThumbnailTest, CorruptJpegIsInvalidArgument) {
  std::string corrupt = synthetic_jpeg(640, 480, 1);
  // Keep the headers, replace the entropy-coded data with garbage.
  for (size_t i = corrupt.size() / 2; i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(i * 37);
  request_.mutable_input()->set_data(corrupt);
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "input.data");
  EXPECT_EQ(status.error().reason, "CORRUPT_INPUT");
  EXPECT_EQ(status.error().bound, "a complete, valid jpeg image");
  EXPECT_EQ(status.error().value, std::to_string(corrupt.size()) + " bytes");
}

TEST_F(ThumbnailTest, TruncatedJpegIsInvalidArgument) {
  const std::string whole = synthetic_jpeg(640, 480, 1);
  request_.mutable_input()->set_data(whole.substr(0, whole.size() / 2));
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "CORRUPT_INPUT");
}

TEST_F(ThumbnailTest, CutPhotoNamesEachErrorOnce) {
  const std::string photo = read_file(std::string(kPhotoDir) + "/nature/Dune.jpg");
  ASSERT_GT(photo.size(), 5000u);
  request_.mutable_input()->set_data(photo.substr(0, 5000));
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "CORRUPT_INPUT");
  const std::string& message = status.error().message;
  const std::string premature = "Premature end of JPEG file";
  const size_t first = message.find(premature);
  ASSERT_NE(first, std::string::npos) << message;
  EXPECT_EQ(message.find(premature, first + 1), std::string::npos) << message;
}

TEST(JoinDistinctLines, DropsRepeatsAndBlankLines) {
  EXPECT_EQ(join_distinct_lines("a\nb\na\n\n  \nc \n"), "a; b; c");
  EXPECT_EQ(join_distinct_lines(""), "");
  EXPECT_EQ(join_distinct_lines("only\n"), "only");
}

TEST_F(ThumbnailTest, JpegMarkerThenGarbageIsInvalidArgument) {
  std::string bytes = "\xff\xd8\xff\xe0";
  for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<char>((i * 131) & 0xff));
  request_.mutable_input()->set_data(bytes);
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "input.data");
}

TEST_F(ThumbnailTest, NonImageIsUnsupportedFormat) {
  request_.mutable_input()->set_data("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>");
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "UNSUPPORTED_FORMAT");
}

TEST_F(ThumbnailTest, EmptyInputIsInvalidArgument) {
  request_.mutable_input()->set_data("");
  request_.add_widths(100);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "input.data");
  EXPECT_EQ(status.error().reason, "EMPTY");
}

TEST_F(ThumbnailTest, WidthBoundsNameTheEntry) {
  request_.mutable_input()->set_data(synthetic_jpeg(100, 100, 1));
  request_.add_widths(64);
  request_.add_widths(0);
  v1::ThumbnailResponse response;
  Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "widths[1]");
  EXPECT_EQ(status.error().bound, "in 1..8192 pixels");

  request_.clear_widths();
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "widths");

  for (int i = 0; i < 17; ++i) request_.add_widths(10);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().bound, "at most 16 entries");
}

TEST_F(ThumbnailTest, OutputOverWebpLimitIsRejected) {
  const vips::VImage tall =
      vips::VImage::black(100, 20000, vips::VImage::option()->set("bands", 3)).cast(VIPS_FORMAT_UCHAR);
  VipsBlob* png = tall.pngsave_buffer();
  size_t size = 0;
  const void* data = vips_blob_get(png, &size);
  request_.mutable_input()->set_data(static_cast<const char*>(data), size);
  vips_area_unref(VIPS_AREA(png));
  request_.add_widths(100);
  request_.set_format(v1::IMAGE_FORMAT_WEBP);
  v1::ThumbnailResponse response;
  Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "widths[0]");
  EXPECT_EQ(status.error().value, "100 -> 100x20000 from a 100x20000 source");

  // A narrower output fits, and JPEG allows the full height.
  request_.set_widths(0, 50);
  EXPECT_TRUE(run(&response).ok());
  request_.set_widths(0, 100);
  request_.set_format(v1::IMAGE_FORMAT_JPEG);
  response.Clear();
  status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(response.thumbnails(0).height(), 20000u);
}

TEST_F(ThumbnailTest, QualityAbove100IsRejected) {
  request_.mutable_input()->set_data(synthetic_jpeg(100, 100, 1));
  request_.add_widths(64);
  request_.set_quality(101);
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "quality");
}

TEST_F(ThumbnailTest, ExpiredDeadlineStops) {
  request_.mutable_input()->set_data(synthetic_jpeg(100, 100, 1));
  request_.add_widths(64);
  context_ = std::make_shared<TaskContext>("expired", TaskContext::Clock::now());
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kDeadlineExceeded);
}

TEST_F(ThumbnailTest, CancelledCallStops) {
  request_.mutable_input()->set_data(synthetic_jpeg(100, 100, 1));
  request_.add_widths(64);
  context_->cancel();
  v1::ThumbnailResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kCancelled);
}

TEST_F(ThumbnailTest, EveryRealPhotoDecodes) {
  require_photos();
  int photos = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kPhotoDir)) {
    const auto extension = entry.path().extension();
    if (extension != ".jpg" && extension != ".png") continue;
    v1::ThumbnailRequest request;
    request.mutable_input()->set_data(read_file(entry.path()));
    request.add_widths(160);
    v1::ThumbnailResponse response;
    const Status status = thumbnail(request, &response, *context_, limits_, blobs_);
    ASSERT_TRUE(status.ok()) << entry.path() << ": " << status.error().message;
    EXPECT_TRUE(is_jpeg(response.thumbnails(0).data())) << entry.path();
    ++photos;
  }
  EXPECT_GT(photos, 10);
}

}  // namespace
}  // namespace heavylift
