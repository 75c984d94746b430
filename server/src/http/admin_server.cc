#include "http/admin_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "core/host_port.h"
#include "core/logging.h"

namespace heavylift {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr size_t kMaxHeaderBytes = 8 * 1024;

// One HTTP/1.1 connection. Reads requests one at a time and responds to each.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Metrics& metrics, const std::atomic<bool>& ready, const BearerTokens* tokens)
      : stream_(std::move(socket)), metrics_(metrics), ready_(ready), tokens_(tokens) {}

  void start() { read(); }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(0);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      close();
      return;
    }
    if (ec) {
      respond(http::status::bad_request, "text/plain", fmt::format("bad request: {}\n", ec.message()), false);
      return;
    }
    const auto& request = parser_->get();
    const bool keep_alive = request.keep_alive();
    head_ = request.method() == http::verb::head;
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));

    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      respond(http::status::method_not_allowed, "text/plain", "only GET and HEAD are allowed\n", keep_alive);
    } else if (path == "/healthz") {
      respond(http::status::ok, "text/plain", "ok\n", keep_alive);
    } else if (path == "/readyz") {
      if (ready_.load()) respond(http::status::ok, "text/plain", "ready\n", keep_alive);
      else respond(http::status::service_unavailable, "text/plain", "draining\n", keep_alive);
    } else if (path == "/metrics") {
      if (tokens_ != nullptr) {
        const auto authorization = request.find(http::field::authorization);
        const bool present = authorization != request.end();
        const std::string_view value =
            present ? std::string_view(authorization->value().data(), authorization->value().size()) : "";
        if (Status allowed = tokens_->check(present, value); !allowed.ok()) {
          respond(http::status::unauthorized, "text/plain", allowed.error().message + "\n", keep_alive,
                  "Bearer");
          return;
        }
      }
      respond(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(), keep_alive);
    } else {
      respond(http::status::not_found, "text/plain",
              "not found: the admin endpoints are /healthz, /readyz and /metrics\n", keep_alive);
    }
  }

  void respond(http::status status, const char* content_type, std::string body, bool keep_alive,
               const char* authenticate_scheme = nullptr) {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, content_type);
    if (authenticate_scheme != nullptr) response->set(http::field::www_authenticate, authenticate_scheme);
    response->set(http::field::server, "heavylift");
    response->keep_alive(keep_alive);
    // A response to HEAD states the length of the body it leaves out.
    if (head_) {
      response->content_length(body.size());
    } else {
      response->body() = std::move(body);
      response->prepare_payload();
    }
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  bool head_ = false;
  Metrics& metrics_;
  const std::atomic<bool>& ready_;
  const BearerTokens* tokens_;
};

}  // namespace

struct AdminServer::State {
  State(Metrics& metrics, const std::atomic<bool>& ready)
      : acceptor(io), metrics(metrics), ready(ready) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        spdlog::warn("event=http.accept_failed error={}", log_value(ec.message()));
      } else {
        auto session = std::make_shared<Session>(std::move(socket), metrics, ready, tokens);
        // Forget sessions that have ended, so the list stays as long as the open ones.
        std::erase_if(sessions, [](const std::weak_ptr<Session>& weak) { return weak.expired(); });
        sessions.push_back(session);
        session->start();
      }
      accept();
    });
  }

  asio::io_context io;
  tcp::acceptor acceptor;
  // Open connections, touched only on the I/O thread.
  std::vector<std::weak_ptr<Session>> sessions;
  Metrics& metrics;
  const std::atomic<bool>& ready;
  const BearerTokens* tokens = nullptr;
};

AdminServer::AdminServer(Metrics& metrics, const std::atomic<bool>& ready)
    : state_(std::make_unique<State>(metrics, ready)) {}

void AdminServer::require_bearer_token(const BearerTokens* tokens) { state_->tokens = tokens; }

AdminServer::~AdminServer() { stop(); }

Status AdminServer::start(const std::string& address) {
  const auto parts = split_host_port(address);
  if (!parts) {
    return Error::invalid("http.address", "INVALID_SETTING",
                          fmt::format("http.address {} is not host:port", quote_value(address)));
  }

  beast::error_code ec;
  tcp::resolver resolver(state_->io);
  const auto endpoints = resolver.resolve(parts->host, parts->port, tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Error::invalid("http.address", "UNRESOLVED",
                          fmt::format("cannot resolve http.address {}: {}", address, ec.message()));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::unavailable(fmt::format("cannot listen on http.address {}: {}", address, ec.message()));
  }

  const auto local = acceptor.local_endpoint();
  bound_address_ = join_host_port(local.address().to_string(), std::to_string(local.port()));
  state_->accept();
  thread_ = std::thread([this] { state_->io.run(); });
  return Status::Ok();
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  asio::post(state_->io, [this] {
    beast::error_code ignored;
    state_->acceptor.close(ignored);
    for (const auto& weak : state_->sessions) {
      if (auto session = weak.lock()) session->close();
    }
    state_->io.stop();
  });
  thread_.join();
}

}  // namespace heavylift
