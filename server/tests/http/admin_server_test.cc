#include "http/admin_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "core/host_port.h"

namespace heavylift {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Connects `stream` to `address` ("host:port").
void connect(beast::tcp_stream& stream, const std::string& address) {
  tcp::resolver resolver(stream.get_executor());
  const auto parts = split_host_port(address);
  stream.connect(resolver.resolve(parts->host, parts->port));
}

// Sends a request without a body on the open connection `stream` and reads
// the whole reply. `buffer` keeps bytes read past it for the next reply.
Reply exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, const std::string& address,
               http::verb method, const std::string& target) {
  http::request<http::empty_body> req{method, target, 11};
  req.set(http::field::host, address);
  http::write(stream, req);
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), res.body()};
}

// Sends one HTTP/1.1 request to `address` on a new connection and reads the reply.
Reply request(const std::string& address, http::verb method, const std::string& target) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  connect(stream, address);
  beast::flat_buffer buffer;
  const Reply reply = exchange(stream, buffer, address, method, target);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return reply;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_.counter("heavylift_test_total", "A test counter.").inc(5);
    ASSERT_TRUE(server_.start("127.0.0.1:0").ok());
    address_ = server_.bound_address();
  }
  void TearDown() override { server_.stop(); }

  Metrics metrics_;
  std::atomic<bool> ready_{true};
  AdminServer server_{metrics_, ready_};
  std::string address_;
};

TEST_F(AdminServerTest, BindsAFreePort) {
  EXPECT_EQ(address_.rfind("127.0.0.1:", 0), 0u);
  EXPECT_NE(address_, "127.0.0.1:0");
}

TEST_F(AdminServerTest, HealthzIsOk) {
  const Reply reply = request(address_, http::verb::get, "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(AdminServerTest, ReadyzFollowsReadiness) {
  EXPECT_EQ(request(address_, http::verb::get, "/readyz").status, 200);
  ready_.store(false);
  const Reply reply = request(address_, http::verb::get, "/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "draining\n");
}

TEST_F(AdminServerTest, MetricsServePrometheusText) {
  const Reply reply = request(address_, http::verb::get, "/metrics?name=ignored");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(reply.body.find("heavylift_test_total 5\n"), std::string::npos) << reply.body;
}

TEST_F(AdminServerTest, UnknownPathIsNotFound) {
  EXPECT_EQ(request(address_, http::verb::get, "/admin").status, 404);
}

TEST_F(AdminServerTest, HeadSendsLengthWithoutBody) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  connect(stream, address_);

  // Two requests on one connection: the HEAD reply must not leak body bytes
  // into the GET reply that follows.
  http::request<http::empty_body> head{http::verb::head, "/healthz", 11};
  head.set(http::field::host, address_);
  http::write(stream, head);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> head_parser;
  head_parser.skip(true);
  http::read(stream, buffer, head_parser);
  EXPECT_EQ(head_parser.get().result_int(), 200u);
  EXPECT_EQ(head_parser.get()[http::field::content_length], "3");

  const Reply reply = exchange(stream, buffer, address_, http::verb::get, "/readyz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ready\n");
}

TEST_F(AdminServerTest, StopClosesOpenConnections) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  connect(stream, address_);
  beast::flat_buffer buffer;
  ASSERT_EQ(exchange(stream, buffer, address_, http::verb::get, "/healthz").status, 200);

  server_.stop();
  stream.expires_after(std::chrono::seconds(5));
  char byte;
  beast::error_code ec;
  stream.socket().read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
}

TEST_F(AdminServerTest, PostIsNotAllowed) {
  EXPECT_EQ(request(address_, http::verb::post, "/metrics").status, 405);
}

TEST_F(AdminServerTest, BusyPortIsAnError) {
  Metrics other_metrics;
  std::atomic<bool> other_ready{true};
  AdminServer other(other_metrics, other_ready);
  const Status status = other.start(address_);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find(address_), std::string::npos) << status.error().message;
}

}  // namespace
}  // namespace heavylift
