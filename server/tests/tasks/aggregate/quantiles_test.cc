#include "tasks/aggregate/quantiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace heavylift {
namespace {

const std::vector<double> kQuantiles = {0.5, 0.9, 0.99, 0, 1, 0.37, 0.999, 0.001};

// Quantiles read from a full sort with NaN last.
std::vector<double> sorted_reference(std::vector<double> values, const std::vector<double>& quantiles) {
  std::vector<double> out;
  std::sort(values.begin(), values.end(), [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); });
  for (const double q : quantiles) {
    if (values.empty()) {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double position = q * static_cast<double>(values.size() - 1);
    const auto lower = static_cast<size_t>(std::floor(position));
    const double fraction = position - static_cast<double>(lower);
    double expected = values[lower];
    if (fraction > 0 && lower + 1 < values.size()) expected += (values[lower + 1] - expected) * fraction;
    out.push_back(expected);
  }
  return out;
}

void expect_matches_sort(const std::vector<double>& values, const std::string& label) {
  const std::vector<double> expected = sorted_reference(values, kQuantiles);
  const std::vector<double> actual = exact_quantiles(values, kQuantiles);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << label << " q" << kQuantiles[i];
    } else {
      EXPECT_EQ(actual[i], expected[i]) << label << " q" << kQuantiles[i];
    }
  }
}

TEST(ExactQuantiles, EmptySetGivesNan) {
  std::vector<double> values;
  for (const double q : exact_quantiles(values, {0, 0.5, 1})) EXPECT_TRUE(std::isnan(q));
}

TEST(ExactQuantiles, SizesAroundHistogramThreshold) {
  std::mt19937_64 random(3);
  for (const size_t size : {size_t{1}, size_t{2}, kRadixSelectMinValues - 1, kRadixSelectMinValues,
                            kRadixSelectMinValues + 1, size_t{100'000}}) {
    std::vector<double> values(size);
    for (double& value : values) value = std::uniform_real_distribution<double>(0, 10'000)(random);
    expect_matches_sort(values, "uniform " + std::to_string(size));
  }
}

TEST(ExactQuantiles, NegativeZeroInfinityAndNan) {
  std::mt19937_64 random(4);
  const double infinity = std::numeric_limits<double>::infinity();
  std::vector<double> values;
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t pick = random() % 100;
    if (pick == 0) values.push_back(std::nan(""));
    else if (pick == 1) values.push_back(-0.0);
    else if (pick == 2) values.push_back(0.0);
    else if (pick == 3) values.push_back(infinity);
    else if (pick == 4) values.push_back(-infinity);
    else values.push_back(std::normal_distribution<double>(0, 1e6)(random));
  }
  expect_matches_sort(values, "mixed");
}

// No NaN and no number below zero takes the histogram's bit-pattern path,
// where -0 must count as +0.
TEST(ExactQuantiles, NonNegativeWithSignedZeros) {
  std::mt19937_64 random(10);
  std::vector<double> values;
  for (int i = 0; i < 40'000; ++i) {
    const uint64_t pick = random() % 50;
    if (pick == 0) values.push_back(-0.0);
    else if (pick == 1) values.push_back(0.0);
    else if (pick == 2) values.push_back(std::numeric_limits<double>::infinity());
    else values.push_back(std::exponential_distribution<double>(0.01)(random));
  }
  expect_matches_sort(values, "non-negative");
  // Mostly zeros of both signs: the 50% rank falls among them.
  std::vector<double> zeros(10'000);
  for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = i % 2 == 0 ? -0.0 : (i % 5 == 0 ? static_cast<double>(i) : 0.0);
  expect_matches_sort(zeros, "zeros");
}

TEST(ExactQuantiles, MostlyNanGivesNanAboveTheNumbers) {
  std::vector<double> values(10'000, std::nan(""));
  for (int i = 0; i < 3000; ++i) values[static_cast<size_t>(i) * 3] = i;
  expect_matches_sort(values, "mostly NaN");
}

TEST(ExactQuantiles, ClusteredAndRepeatedValues) {
  std::mt19937_64 random(6);
  // One value repeated, a few outliers far away: the first histogram level
  // puts nearly everything in one bucket.
  std::vector<double> clustered(60'000, 42.0);
  for (int i = 0; i < 40; ++i) clustered[random() % clustered.size()] = 1e300 * (i % 2 == 0 ? 1 : -1);
  for (int i = 0; i < 5000; ++i) clustered[random() % clustered.size()] = 42.0 + 1e-9 * static_cast<double>(random() % 1000);
  expect_matches_sort(clustered, "clustered");

  std::vector<double> repeated(30'000);
  for (double& value : repeated) value = static_cast<double>(random() % 7);
  expect_matches_sort(repeated, "seven values");

  std::vector<double> same(5000, -3.5);
  expect_matches_sort(same, "one value");
}

// Values appended in pieces of many sizes, across blocks and from a second
// set moved in, give the quantiles of all of them together.
TEST(QuantileValues, BlocksAndAbsorbKeepEveryValue) {
  std::mt19937_64 random(8);
  QuantileValues first;
  QuantileValues second;
  std::vector<double> all;
  for (int piece = 0; piece < 300; ++piece) {
    QuantileValues& target = piece % 3 == 0 ? second : first;
    const size_t count = random() % 700;
    double* room = target.extend(count);
    for (size_t i = 0; i < count; ++i) {
      room[i] = random() % 41 == 0 ? std::nan("") : std::uniform_real_distribution<double>(-100, 100)(random);
      all.push_back(room[i]);
    }
  }
  first.absorb(second);
  EXPECT_EQ(second.size(), 0u);
  ASSERT_EQ(first.size(), all.size());
  const std::vector<double> quantiles = {0, 0.25, 0.5, 0.9, 0.95};  // below the 1/41 NaN share
  const std::vector<double> expected = sorted_reference(all, quantiles);
  const std::vector<double> actual = first.quantiles(quantiles);
  for (size_t i = 0; i < quantiles.size(); ++i) EXPECT_EQ(actual[i], expected[i]) << "q" << quantiles[i];
  EXPECT_TRUE(std::isnan(first.quantiles({1})[0]));
}

}  // namespace
}  // namespace heavylift
