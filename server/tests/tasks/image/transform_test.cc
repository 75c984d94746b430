#include "tasks/image/transform.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <vips/vips8>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "image_test_support.h"
#include "tasks/image/vips_support.h"

namespace heavylift {
namespace {

using namespace testing_image;  // NOLINT: test helpers

// Pixel tolerances, as mean absolute difference per 8-bit sample. libvips
// against itself differs only by JPEG decoding paths and rounding; other
// resamplers (ImageMagick) differ by their kernels.
constexpr double kSameLibraryTolerance = 1.5;
constexpr double kOtherToolTolerance = 4.0;
// A resize that starts from a larger output's pixels against one resize
// of the full decode. docs/image.md gives the measured differences.
constexpr double kCascadeTolerance = 1.0;

class TransformTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(VIPS_INIT("heavylift_tests"), 0);
    configure_vips_for_untrusted_input();
  }

  void SetUp() override {
    if (!photos_present()) GTEST_SKIP() << "mate-backgrounds photos not found under " << kPhotoDir;
    temp_dir_ = std::filesystem::temp_directory_path() / ("heavylift-transform-" + std::to_string(getpid()));
    std::filesystem::create_directories(temp_dir_);
  }

  void TearDown() override {
    if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_);
  }

  Status run(v1::TransformResponse* response) { return transform(request_, response, *context_, limits_, blobs_); }

  // Runs `command` through the shell and fails the test when it fails.
  void shell(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

  v1::Output* add_output(v1::OutputFormat format) {
    v1::Output* output = request_.add_outputs();
    output->set_format(format);
    return output;
  }

  v1::Resize* add_resize(uint32_t width, uint32_t height, v1::Fit fit) {
    v1::Resize* resize = request_.add_operations()->mutable_resize();
    resize->set_width(width);
    resize->set_height(height);
    resize->set_fit(fit);
    return resize;
  }

  // Runs the request and checks that its first output matches the image
  // at `expected_path` in size and, as mean absolute difference per sample,
  // within `tolerance`. Only colour bands are compared.
  void expect_first_output_matches(const std::filesystem::path& expected_path, double tolerance) {
    v1::TransformResponse response;
    const Status status = run(&response);
    ASSERT_TRUE(status.ok()) << status.error().message;
    const vips::VImage actual = decode_bytes(response.outputs(0).data());
    vips::VImage expected = vips::VImage::new_from_file(expected_path.c_str()).copy_memory();
    if (expected.bands() > actual.bands()) expected = expected.extract_band(0, vips::VImage::option()->set("n", actual.bands()));
    ASSERT_EQ(actual.bands(), expected.bands());
    ASSERT_EQ(actual.width(), expected.width());
    ASSERT_EQ(actual.height(), expected.height());
    EXPECT_LT(mean_abs_difference(actual, expected), tolerance);
  }

  v1::TransformRequest request_;
  ImageLimits limits_;
  BlobReader blobs_{""};
  std::shared_ptr<TaskContext> context_ = TaskContext::unbounded();
  std::filesystem::path temp_dir_;
};

TEST_F(TransformTest, EightOutputsFromOneDecode) {
  request_.mutable_input()->set_data(read_file(kLargePhoto));
  for (uint32_t width : {1280u, 640u, 320u, 160u}) {
    for (auto format : {v1::OUTPUT_FORMAT_JPEG, v1::OUTPUT_FORMAT_WEBP}) {
      v1::Output* output = add_output(format);
      output->mutable_resize()->set_width(width);
    }
  }
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_EQ(response.outputs_size(), 8);
  EXPECT_EQ(response.source().width(), 5640u);
  EXPECT_EQ(response.source().height(), 3172u);
  EXPECT_EQ(response.source().format(), "jpeg");
  for (const auto& output : response.outputs()) {
    const vips::VImage decoded = decode_bytes(output.data());
    EXPECT_EQ(static_cast<uint32_t>(decoded.width()), output.width());
    EXPECT_EQ(static_cast<uint32_t>(decoded.height()), output.height());
    EXPECT_EQ(output.height(), (3172 * output.width() + 2820) / 5640);
    const char* loader = vips_foreign_find_load_buffer(output.data().data(), output.data().size());
    ASSERT_NE(loader, nullptr);
    EXPECT_NE(std::string(loader).find(output.format() == v1::OUTPUT_FORMAT_JPEG ? "Jpeg" : "Webp"), std::string::npos)
        << loader;
  }
}

TEST_F(TransformTest, CascadedResizeMatchesDirectResize) {
  // Dune is 1680x1050. The decode shrinks to 840x525 for the largest
  // output, the 420 px output resizes from that, and the 210 px output
  // from the 420 px one (a cascade, each step at least 2x).
  const std::string photo = read_file(kDune);
  request_.mutable_input()->set_data(photo);
  for (uint32_t width : {840u, 420u, 210u}) add_output(v1::OUTPUT_FORMAT_PNG)->mutable_resize()->set_width(width);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_EQ(response.outputs_size(), 3);
  const vips::VImage cascaded = decode_bytes(response.outputs(2).data());
  ASSERT_EQ(cascaded.width(), 210);
  ASSERT_EQ(cascaded.height(), 131);

  // One Lanczos-3 resize of the full decode to the same size.
  const vips::VImage full = decode_bytes(photo);
  const vips::VImage direct = full.resize(210.0 / full.width(), vips::VImage::option()->set("vscale", 131.0 / full.height()));
  ASSERT_EQ(direct.width(), 210);
  ASSERT_EQ(direct.height(), 131);
  EXPECT_LT(mean_abs_difference(cascaded, direct), kCascadeTolerance);
}

TEST_F(TransformTest, ResizeMatchesVipsCli) {
  const auto expected_path = temp_dir_ / "expected.png";
  shell(std::string("vips thumbnail ") + kDune + " " + expected_path.string() + " 400");
  request_.mutable_input()->set_data(read_file(kDune));
  add_resize(400, 0, v1::FIT_UNSPECIFIED);
  add_output(v1::OUTPUT_FORMAT_PNG);
  expect_first_output_matches(expected_path, kSameLibraryTolerance);
}

TEST_F(TransformTest, CoverCropMatchesImageMagick) {
  const auto expected_path = temp_dir_ / "expected.png";
  shell(std::string("convert ") + kDune + " -resize 300x300^ -gravity center -extent 300x300 " + expected_path.string());
  request_.mutable_input()->set_data(read_file(kDune));
  add_resize(300, 300, v1::FIT_COVER);
  add_output(v1::OUTPUT_FORMAT_PNG);
  expect_first_output_matches(expected_path, kOtherToolTolerance);
}

TEST_F(TransformTest, RotateFlopGrayscaleMatchVipsCli) {
  const auto small_path = temp_dir_ / "small.png";
  const auto expected_path = temp_dir_ / "expected.png";
  small_photo(kLadyBird, 200).pngsave(small_path.c_str());
  shell("vips rot " + small_path.string() + " " + temp_dir_.string() + "/r.v d90 && vips flip " + temp_dir_.string() +
        "/r.v " + temp_dir_.string() + "/f.v horizontal && vips colourspace " + temp_dir_.string() + "/f.v " +
        expected_path.string() + " b-w");
  request_.mutable_input()->set_data(read_file(small_path));
  request_.add_operations()->mutable_rotate()->set_angle(90);
  request_.add_operations()->set_flop(true);
  request_.add_operations()->mutable_grayscale();
  add_output(v1::OUTPUT_FORMAT_PNG);
  expect_first_output_matches(expected_path, kSameLibraryTolerance);
}

TEST_F(TransformTest, FitModesGiveTheirSizes) {
  // Dune.jpg is landscape; each fit into a 300 x 300 box gives a known shape.
  struct Case {
    v1::Fit fit;
    bool width_is_box;
    bool height_is_box;
  };
  const std::string input = read_file(kDune);
  const vips::VImage source = decode_bytes(input);
  const double aspect = static_cast<double>(source.width()) / source.height();
  for (auto fit : {v1::FIT_COVER, v1::FIT_CONTAIN, v1::FIT_FILL, v1::FIT_INSIDE, v1::FIT_OUTSIDE}) {
    request_.Clear();
    request_.mutable_input()->set_data(input);
    add_resize(300, 300, fit);
    add_output(v1::OUTPUT_FORMAT_PNG);
    v1::TransformResponse response;
    const Status status = run(&response);
    ASSERT_TRUE(status.ok()) << v1::Fit_Name(fit) << ": " << status.error().message;
    const auto& output = response.outputs(0);
    switch (fit) {
      case v1::FIT_INSIDE:
        EXPECT_EQ(output.width(), 300u);
        EXPECT_EQ(output.height(), static_cast<uint32_t>(std::lround(300 / aspect)));
        break;
      case v1::FIT_OUTSIDE:
        EXPECT_EQ(output.height(), 300u);
        EXPECT_EQ(output.width(), static_cast<uint32_t>(std::lround(300 * aspect)));
        break;
      default:
        EXPECT_EQ(output.width(), 300u) << v1::Fit_Name(fit);
        EXPECT_EQ(output.height(), 300u) << v1::Fit_Name(fit);
    }
  }
}

TEST_F(TransformTest, ContainPadsWithBackground) {
  request_.mutable_input()->set_data(read_file(kDune));
  v1::Resize* resize = add_resize(300, 300, v1::FIT_CONTAIN);
  resize->mutable_background()->set_r(255);
  resize->mutable_background()->set_g(0);
  resize->mutable_background()->set_b(0);
  add_output(v1::OUTPUT_FORMAT_PNG);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  const vips::VImage image = decode_bytes(response.outputs(0).data());
  const std::vector<double> corner = image.getpoint(0, 0);
  EXPECT_EQ(corner, (std::vector<double>{255, 0, 0}));
  const std::vector<double> centre = image.getpoint(150, 150);
  EXPECT_NE(centre, (std::vector<double>{255, 0, 0}));
}

// Tags a small photo with each orientation after applying the inverse of
// that orientation's transform, so that an upright decode gives back the
// original.
TEST_F(TransformTest, EveryOrientationComesOutUpright) {
  const vips::VImage upright = small_photo(kLadyBird, 120);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    vips::VImage stored = upright;
    switch (orientation) {
      case 2: stored = upright.flip(VIPS_DIRECTION_HORIZONTAL); break;
      case 3: stored = upright.rot(VIPS_ANGLE_D180); break;
      case 4: stored = upright.flip(VIPS_DIRECTION_VERTICAL); break;
      case 5: stored = upright.rot(VIPS_ANGLE_D270).flip(VIPS_DIRECTION_VERTICAL); break;
      case 6: stored = upright.rot(VIPS_ANGLE_D270); break;
      case 7: stored = upright.rot(VIPS_ANGLE_D90).flip(VIPS_DIRECTION_VERTICAL); break;
      case 8: stored = upright.rot(VIPS_ANGLE_D90); break;
      default: break;
    }
    stored = stored.copy();
    stored.set(VIPS_META_ORIENTATION, orientation);
    request_.Clear();
    request_.mutable_input()->set_data(save_png(stored));
    add_output(v1::OUTPUT_FORMAT_PNG);
    v1::TransformResponse response;
    const Status status = run(&response);
    ASSERT_TRUE(status.ok()) << "orientation " << orientation << ": " << status.error().message;
    EXPECT_EQ(response.source().orientation(), static_cast<uint32_t>(orientation));
    const vips::VImage actual = decode_bytes(response.outputs(0).data());
    ASSERT_EQ(actual.width(), upright.width()) << "orientation " << orientation;
    EXPECT_LT(mean_abs_difference(actual, upright), 0.5) << "orientation " << orientation;
  }
}

TEST_F(TransformTest, CmykJpegBecomesSrgb) {
  const vips::VImage upright = small_photo(kLadyBird, 160);
  const vips::VImage cmyk = upright.icc_export(vips::VImage::option()->set("output_profile", "cmyk"));
  ASSERT_EQ(cmyk.bands(), 4);
  request_.mutable_input()->set_data(save_jpeg(cmyk));
  add_output(v1::OUTPUT_FORMAT_PNG);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(response.source().color_space(), "cmyk");
  const vips::VImage actual = decode_bytes(response.outputs(0).data());
  ASSERT_EQ(actual.bands(), 3);
  // A CMYK round trip loses gamut, so the bound is looser than for resizing.
  EXPECT_LT(mean_abs_difference(actual, upright), 12.0);
}

TEST_F(TransformTest, AlphaPngFlattensOntoChosenBackground) {
  const vips::VImage transparent = vips::VImage::black(40, 30, vips::VImage::option()->set("bands", 4)).cast(VIPS_FORMAT_UCHAR);
  request_.mutable_input()->set_data(save_png(transparent));
  v1::Output* output = add_output(v1::OUTPUT_FORMAT_JPEG);
  output->mutable_flatten_background()->set_r(0);
  output->mutable_flatten_background()->set_g(0);
  output->mutable_flatten_background()->set_b(255);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(response.source().has_alpha());
  const std::vector<double> pixel = decode_bytes(response.outputs(0).data()).getpoint(20, 15);
  ASSERT_EQ(pixel.size(), 3u);
  EXPECT_LT(pixel[0], 10);
  EXPECT_LT(pixel[1], 10);
  EXPECT_GT(pixel[2], 240);
}

TEST_F(TransformTest, AnimatedGifBecomesAnimatedWebp) {
  const vips::VImage frame = small_photo(kLadyBird, 64);
  std::vector<vips::VImage> pages;
  for (int i = 0; i < 4; ++i) pages.push_back(frame.rot(i % 2 == 0 ? VIPS_ANGLE_D0 : VIPS_ANGLE_D180));
  vips::VImage strip = vips::VImage::arrayjoin(pages, vips::VImage::option()->set("across", 1)).copy();
  strip.set(VIPS_META_PAGE_HEIGHT, frame.height());
  strip.set("delay", std::vector<int>{100, 200, 100, 200});
  request_.mutable_input()->set_data(take_blob(strip.gifsave_buffer()));
  add_resize(32, 0, v1::FIT_UNSPECIFIED);
  add_output(v1::OUTPUT_FORMAT_WEBP);
  add_output(v1::OUTPUT_FORMAT_GIF);
  add_output(v1::OUTPUT_FORMAT_JPEG);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(response.source().pages(), 4u);
  EXPECT_EQ(response.outputs(0).pages(), 4u);
  EXPECT_EQ(response.outputs(1).pages(), 4u);
  EXPECT_EQ(response.outputs(2).pages(), 1u);
  const std::string& webp = response.outputs(0).data();
  const vips::VImage reread = vips::VImage::new_from_buffer(webp.data(), webp.size(), "", vips::VImage::option()->set("n", -1));
  EXPECT_EQ(reread.get_int(VIPS_META_N_PAGES), 4);
  EXPECT_EQ(reread.width(), 32);
  EXPECT_EQ(reread.get_array_int("delay"), (std::vector<int>{100, 200, 100, 200}));
}

TEST_F(TransformTest, OperationsChainOnRealPhoto) {
  const vips::VImage overlay = vips::VImage::black(50, 20, vips::VImage::option()->set("bands", 3)).linear(1.0, 255.0).cast(VIPS_FORMAT_UCHAR);
  request_.mutable_input()->set_data(read_file(kDune));
  add_resize(400, 300, v1::FIT_COVER)->set_position(v1::GRAVITY_ATTENTION);
  request_.add_operations()->mutable_extract()->set_width(380);
  request_.mutable_operations(1)->mutable_extract()->set_height(280);
  request_.add_operations()->mutable_rotate()->set_angle(15);
  request_.add_operations()->set_flip(true);
  request_.add_operations()->mutable_blur()->set_sigma(1.2);
  request_.add_operations()->mutable_sharpen();
  request_.add_operations()->mutable_modulate()->set_saturation(1.5);
  request_.add_operations()->mutable_tint()->mutable_color()->set_r(200);
  v1::Extend* extend = request_.add_operations()->mutable_extend();
  extend->set_top(10);
  extend->set_bottom(10);
  request_.add_operations()->mutable_trim();
  v1::Composite* composite = request_.add_operations()->mutable_composite();
  composite->mutable_overlay()->set_data(save_png(overlay));
  composite->set_gravity(v1::GRAVITY_SOUTH_EAST);
  composite->set_opacity(0.5);
  add_output(v1::OUTPUT_FORMAT_JPEG)->mutable_jpeg()->set_progressive(true);
  add_output(v1::OUTPUT_FORMAT_PNG)->mutable_png()->set_palette(true);
  add_output(v1::OUTPUT_FORMAT_AVIF);
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_TRUE(status.ok()) << status.error().message;
  for (const auto& output : response.outputs()) {
    const vips::VImage decoded = decode_bytes(output.data());
    EXPECT_EQ(static_cast<uint32_t>(decoded.width()), output.width());
    EXPECT_GT(output.width(), 300u);
  }
  // The half-transparent white overlay lightens the bottom-right corner.
  const vips::VImage result = decode_bytes(response.outputs(1).data());
  EXPECT_GT(result.extract_area(result.width() - 20, result.height() - 10, 10, 5).avg(), 100);
}

TEST_F(TransformTest, TruncatedJpegFailsOrWarnsByPolicy) {
  std::string input = read_file(kDune);
  input.resize(input.size() / 2);
  request_.mutable_input()->set_data(input);
  add_output(v1::OUTPUT_FORMAT_JPEG)->mutable_resize()->set_width(200);
  v1::TransformResponse failed;
  Status status = run(&failed);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "CORRUPT_INPUT");
  EXPECT_EQ(status.error().field, "input.data");

  request_.set_corrupt_input(v1::CORRUPT_INPUT_POLICY_WARN);
  v1::TransformResponse warned;
  status = run(&warned);
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_EQ(warned.outputs_size(), 1);
  EXPECT_EQ(warned.outputs(0).width(), 200u);
  ASSERT_EQ(warned.warnings_size(), 1);
  EXPECT_NE(warned.warnings(0).find("input.data"), std::string::npos) << warned.warnings(0);
}

TEST_F(TransformTest, LimitsNameTheirBound) {
  request_.mutable_input()->set_data(read_file(kDune));
  v1::TransformResponse response;

  Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "outputs");

  limits_.max_outputs = 2;
  for (int i = 0; i < 3; ++i) add_output(v1::OUTPUT_FORMAT_JPEG);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().bound, "at most 2 entries (image.max_outputs)");

  request_.clear_outputs();
  add_output(v1::OUTPUT_FORMAT_JPEG);
  limits_.max_operations = 1;
  request_.add_operations()->set_flip(true);
  request_.add_operations()->set_flop(true);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().bound, "at most 1 entries (image.max_operations)");

  request_.clear_operations();
  limits_.max_input_pixels = 1000;
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "TOO_MANY_PIXELS");
  EXPECT_EQ(status.error().bound, "<= 1000 pixels (image.max_input_pixels)");

  limits_ = ImageLimits();
  limits_.max_output_pixels = 10'000;
  add_resize(200, 200, v1::FIT_FILL);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "operations[0].resize");
  EXPECT_EQ(status.error().reason, "OUTPUT_TOO_LARGE");

  limits_ = ImageLimits();
  limits_.max_output_bytes = 100;
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "outputs");
  EXPECT_EQ(status.error().reason, "OUTPUT_TOO_LARGE");
}

TEST_F(TransformTest, OptionErrorsNameTheField) {
  request_.mutable_input()->set_data(read_file(kDune));
  add_output(v1::OUTPUT_FORMAT_WEBP)->mutable_webp()->set_quality(101);
  v1::TransformResponse response;
  Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kInvalidArgument);
  EXPECT_EQ(status.error().field, "outputs[0].webp.quality");

  request_.clear_outputs();
  add_output(v1::OUTPUT_FORMAT_JPEG);
  request_.add_operations()->mutable_blur()->set_sigma(0.01);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "operations[0].blur.sigma");

  request_.clear_operations();
  v1::Extract* extract = request_.add_operations()->mutable_extract();
  extract->set_left(100000);
  extract->set_width(10);
  extract->set_height(10);
  status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "operations[0].extract");
}

TEST_F(TransformTest, CallLimitStopsTheCall) {
  request_.mutable_input()->set_data(read_file(kLargePhoto));
  request_.add_operations()->mutable_blur()->set_sigma(20);
  add_output(v1::OUTPUT_FORMAT_PNG);
  limits_.max_call_ms = 1;
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kDeadlineExceeded);
  EXPECT_EQ(status.error().field, "image.max_call_ms");
}

TEST_F(TransformTest, CancelledCallStops) {
  request_.mutable_input()->set_data(read_file(kDune));
  add_output(v1::OUTPUT_FORMAT_JPEG);
  context_->cancel();
  v1::TransformResponse response;
  const Status status = run(&response);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Code::kCancelled);
}

TEST_F(TransformTest, MetadataReadsHeaderAndExif) {
  vips::VImage tagged = small_photo(kLadyBird, 100).copy();
  tagged.set(VIPS_META_ORIENTATION, 6);
  v1::MetadataRequest request;
  request.mutable_input()->set_data(save_jpeg(tagged));
  v1::MetadataResponse response;
  const Status status = image_metadata(request, &response, *context_, limits_, blobs_);
  ASSERT_TRUE(status.ok()) << status.error().message;
  const auto& metadata = response.metadata();
  EXPECT_EQ(metadata.format(), "jpeg");
  EXPECT_EQ(metadata.width(), 100u);
  EXPECT_EQ(metadata.orientation(), 6u);
  EXPECT_FALSE(metadata.has_alpha());
  EXPECT_EQ(metadata.color_space(), "srgb");
  EXPECT_EQ(metadata.channels(), 3u);
  EXPECT_EQ(metadata.bits_per_sample(), 8u);
  EXPECT_EQ(metadata.pages(), 1u);
  EXPECT_TRUE(metadata.has_exif());
  ASSERT_EQ(metadata.exif().count("ifd0-Orientation"), 1u);
  EXPECT_EQ(metadata.exif().at("ifd0-Orientation").rfind("6", 0), 0u) << metadata.exif().at("ifd0-Orientation");
}

TEST_F(TransformTest, MetadataSkipsPixelBound) {
  v1::MetadataRequest request;
  request.mutable_input()->set_data(read_file(kLargePhoto));
  limits_.max_input_pixels = 1000;
  v1::MetadataResponse response;
  const Status status = image_metadata(request, &response, *context_, limits_, blobs_);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(response.metadata().width(), 5640u);
}

// Bytes this process has read through read(2) and the like so far.
uint64_t bytes_read_by_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

TEST_F(TransformTest, MetadataFromPathReadsOnlyTheHeader) {
  std::filesystem::copy_file(kLargePhoto, temp_dir_ / "large.jpg");
  const BlobReader blobs(temp_dir_.string());
  v1::MetadataRequest by_path;
  by_path.mutable_input()->set_path("large.jpg");
  v1::MetadataResponse from_path;
  const uint64_t before = bytes_read_by_process();
  const Status status = image_metadata(by_path, &from_path, *context_, limits_, blobs);
  const uint64_t read = bytes_read_by_process() - before;
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(from_path.metadata().width(), 5640u);
  EXPECT_EQ(from_path.metadata().height(), 3172u);
  // The photo has 16 MB; its header and EXIF are in the first kilobytes.
  EXPECT_LT(read, 1u << 20) << read << " bytes read";

  v1::MetadataRequest by_bytes;
  by_bytes.mutable_input()->set_data(read_file(kLargePhoto));
  v1::MetadataResponse from_bytes;
  ASSERT_TRUE(image_metadata(by_bytes, &from_bytes, *context_, limits_, blobs_).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(from_path.metadata(), from_bytes.metadata()))
      << from_path.metadata().ShortDebugString() << "\n" << from_bytes.metadata().ShortDebugString();
}

TEST_F(TransformTest, MetadataFromPathRejectsBadFiles) {
  const std::string photo = read_file(kDune);
  std::ofstream(temp_dir_ / "cut.jpg", std::ios::binary) << photo.substr(0, 200);
  std::ofstream(temp_dir_ / "notes.txt") << "not an image\n";
  // PPM has a libvips loader, which is blocked as untrusted.
  std::ofstream(temp_dir_ / "tiny.ppm") << "P3\n1 1\n255\n0 0 0\n";
  std::ofstream(temp_dir_.parent_path() / "outside.jpg", std::ios::binary) << photo;
  std::filesystem::create_symlink(temp_dir_.parent_path() / "outside.jpg", temp_dir_ / "link.jpg");
  const BlobReader blobs(temp_dir_.string());

  const std::vector<std::pair<std::string, std::string>> cases = {{"cut.jpg", "CORRUPT_INPUT"},
                                                                  {"notes.txt", "UNSUPPORTED_FORMAT"},
                                                                  {"tiny.ppm", "UNSUPPORTED_FORMAT"},
                                                                  {"link.jpg", "PATH_OUTSIDE_ROOT"},
                                                                  {"missing.jpg", "NOT_FOUND"}};
  for (const auto& [path, reason] : cases) {
    v1::MetadataRequest request;
    request.mutable_input()->set_path(path);
    v1::MetadataResponse response;
    const Status status = image_metadata(request, &response, *context_, limits_, blobs);
    ASSERT_FALSE(status.ok()) << path;
    EXPECT_EQ(status.error().code, Code::kInvalidArgument) << path;
    EXPECT_EQ(status.error().reason, reason) << path << ": " << status.error().message;
    EXPECT_EQ(status.error().field, "input.path") << path;
  }
  std::filesystem::remove(temp_dir_.parent_path() / "outside.jpg");

  v1::MetadataRequest cut;
  cut.mutable_input()->set_path("cut.jpg");
  v1::MetadataResponse response;
  const Status status = image_metadata(cut, &response, *context_, limits_, blobs);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("input.path could not be decoded as jpeg"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(status.error().value, "200 bytes");

  limits_.max_input_bytes = 100;
  const Status too_large = image_metadata(cut, &response, *context_, limits_, blobs);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().reason, "TOO_LARGE");
}

int hamming(const std::string& a, const std::string& b) {
  return __builtin_popcountll(std::stoull(a, nullptr, 16) ^ std::stoull(b, nullptr, 16));
}

TEST_F(TransformTest, AnalyzeFindsNearDuplicates) {
  auto analyze_bytes = [&](const std::string& bytes) {
    v1::AnalyzeRequest request;
    request.mutable_input()->set_data(bytes);
    v1::AnalyzeResponse response;
    const Status status = analyze(request, &response, *context_, limits_, blobs_);
    EXPECT_TRUE(status.ok()) << status.error().message;
    return response;
  };
  const auto original = analyze_bytes(read_file(kDune));
  const auto recompressed = analyze_bytes(save_jpeg(small_photo(kDune, 300), 40));
  const auto other = analyze_bytes(read_file(kLadyBird));

  EXPECT_LE(hamming(original.phash(), recompressed.phash()), 6);
  EXPECT_GE(hamming(original.phash(), other.phash()), 16);
  EXPECT_EQ(original.blurhash().size(), 28u);  // 1 + 1 + 4 + 2 x 11 AC terms
  EXPECT_GE(original.thumbhash().size(), 5u);
  EXPECT_EQ(original.phash().size(), 16u);
  EXPECT_EQ(original.metadata().format(), "jpeg");
}

}  // namespace
}  // namespace heavylift
