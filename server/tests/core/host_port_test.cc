#include "core/host_port.h"

#include <gtest/gtest.h>

namespace heavylift {
namespace {

TEST(SplitHostPort, Ipv4AndName) {
  const auto ipv4 = split_host_port("127.0.0.1:50051");
  ASSERT_TRUE(ipv4);
  EXPECT_EQ(ipv4->host, "127.0.0.1");
  EXPECT_EQ(ipv4->port, "50051");
  const auto name = split_host_port("localhost:0");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, "0");
}

TEST(SplitHostPort, BracketedIpv6) {
  const auto ipv6 = split_host_port("[::1]:9464");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, "9464");
}

TEST(SplitHostPort, MissingPartsAreRejected) {
  EXPECT_FALSE(split_host_port("127.0.0.1"));
  EXPECT_FALSE(split_host_port(":50051"));
  EXPECT_FALSE(split_host_port("127.0.0.1:"));
  EXPECT_FALSE(split_host_port("[]:1"));
}

TEST(JoinHostPort, BracketsIpv6Only) {
  EXPECT_EQ(join_host_port("127.0.0.1", "1"), "127.0.0.1:1");
  EXPECT_EQ(join_host_port("::1", "2"), "[::1]:2");
}

}  // namespace
}  // namespace heavylift
