#include "tasks/image/operations.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace heavylift {
namespace {

// A plan that scales a whole image to width x height.
std::optional<ResizePlan> scaled_to(int width, int height) {
  ResizePlan plan;
  plan.scaled_width = width;
  plan.scaled_height = height;
  plan.width = width;
  plan.height = height;
  plan.fit = v1::FIT_FILL;
  return plan;
}

TEST(ChooseCascadeSources, WidthsStartFromTwiceTheirSize) {
  // The widths of a 1920x1200 photo that the image benchmark requests.
  const std::vector<std::optional<ResizePlan>> plans = {scaled_to(320, 200), scaled_to(640, 400), scaled_to(960, 600),
                                                        scaled_to(1280, 800)};
  const std::vector<int> sources = choose_cascade_sources(plans, 1920, 1200);
  // 320 from 640 (not from the larger 1280), 640 from 1280; 960 and 1280
  // have no resize twice their size and start from the full image.
  EXPECT_EQ(sources, (std::vector<int>{1, 3, -1, -1}));
}

TEST(ChooseCascadeSources, SourceMustBeTwiceAsLargeOnBothSides) {
  const std::vector<std::optional<ResizePlan>> plans = {scaled_to(400, 250), scaled_to(799, 499), scaled_to(800, 500)};
  EXPECT_EQ(choose_cascade_sources(plans, 1600, 1000), (std::vector<int>{2, -1, -1}));
  const std::vector<std::optional<ResizePlan>> short_by_a_row = {scaled_to(400, 250), scaled_to(800, 499)};
  EXPECT_EQ(choose_cascade_sources(short_by_a_row, 1600, 1000), (std::vector<int>{-1, -1}));
}

TEST(ChooseCascadeSources, OnlyEvenScalesAreSources) {
  // 1280x400 squeezes a 1920x1200 image, so it cannot stand in for it.
  const std::vector<std::optional<ResizePlan>> plans = {scaled_to(320, 200), scaled_to(1280, 400)};
  EXPECT_EQ(choose_cascade_sources(plans, 1920, 1200), (std::vector<int>{-1, -1}));
  // A one-pixel rounding of the height still counts as even.
  const std::vector<std::optional<ResizePlan>> rounded = {scaled_to(300, 187), scaled_to(1000, 626)};
  EXPECT_EQ(choose_cascade_sources(rounded, 1920, 1200), (std::vector<int>{1, -1}));
}

TEST(ChooseCascadeSources, SkipsAbsentAndKeptPlans) {
  std::optional<ResizePlan> kept = scaled_to(1280, 800);
  kept->resizes = false;
  const std::vector<std::optional<ResizePlan>> plans = {scaled_to(320, 200), std::nullopt, kept,
                                                        scaled_to(1920, 1200)};
  // The full size is no source either: it would only copy the image.
  EXPECT_EQ(choose_cascade_sources(plans, 1920, 1200), (std::vector<int>{-1, -1, -1, -1}));
}

TEST(ChooseCascadeSources, TargetsMayDistort) {
  // A fill to 300x100 may start from an even 640x400.
  const std::vector<std::optional<ResizePlan>> plans = {scaled_to(300, 100), scaled_to(640, 400)};
  EXPECT_EQ(choose_cascade_sources(plans, 1920, 1200), (std::vector<int>{1, -1}));
}

}  // namespace
}  // namespace heavylift
