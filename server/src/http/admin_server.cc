#include "http/admin_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <system_error>
#include <type_traits>
#include <variant>

#include "core/host_port.h"
#include "core/logging.h"

namespace heavylift {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr size_t kMaxHeaderBytes = 8 * 1024;

// Returns the TCP socket under `stream`, plain or TLS.
template <class Stream>
tcp::socket& socket_of(Stream& stream) {
  return beast::get_lowest_layer(stream).socket();
}

// One HTTP/1.1 connection. Reads requests one at a time and responds to each.
// `Stream` is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... StreamArgs>
  Session(Metrics& metrics, const std::atomic<bool>& ready, const BearerTokens* tokens, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...), metrics_(metrics), ready_(ready), tokens_(tokens) {}

  void start() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          // Scanners and clients with the wrong CA end here; neither is worth more than debug.
          spdlog::debug("event=http.tls_handshake_failed error={}", log_value(ec.message()));
          self->close();
          return;
        }
        self->read();
      });
    } else {
      read();
    }
  }

  void close() {
    beast::error_code ignored;
    socket_of(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    socket_of(stream_).close(ignored);
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(0);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == ssl::error::stream_truncated) {
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
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_write(stream_, *response,
                      [self = this->shared_from_this(), response, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  bool head_ = false;
  Metrics& metrics_;
  const std::atomic<bool>& ready_;
  const BearerTokens* tokens_;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

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
        // Forget sessions that have ended, so the list stays as long as the open ones.
        std::erase_if(sessions, [](const auto& session) {
          return std::visit([](const auto& weak) { return weak.expired(); }, session);
        });
        if (tls) {
          auto session = std::make_shared<TlsSession>(metrics, ready, tokens, std::move(socket), *tls->current());
          sessions.emplace_back(std::weak_ptr<TlsSession>(session));
          session->start();
        } else {
          auto session = std::make_shared<PlainSession>(metrics, ready, tokens, std::move(socket));
          sessions.emplace_back(std::weak_ptr<PlainSession>(session));
          session->start();
        }
      }
      accept();
    });
  }

  asio::io_context io;
  tcp::acceptor acceptor;
  // Open connections, touched only on the I/O thread.
  std::vector<std::variant<std::weak_ptr<PlainSession>, std::weak_ptr<TlsSession>>> sessions;
  Metrics& metrics;
  const std::atomic<bool>& ready;
  const BearerTokens* tokens = nullptr;
  // Set when the listener serves HTTPS.
  std::shared_ptr<TlsServerContext> tls;
};

AdminServer::AdminServer(Metrics& metrics, const std::atomic<bool>& ready)
    : state_(std::make_unique<State>(metrics, ready)) {}

void AdminServer::require_bearer_token(const BearerTokens* tokens) { state_->tokens = tokens; }

Status AdminServer::use_tls(const TlsServerFiles& files) {
  auto loaded = TlsServerContext::load(files, "http");
  if (!loaded.ok()) return loaded.error();
  state_->tls = std::move(loaded).value();
  return Status::Ok();
}

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
    for (const auto& entry : state_->sessions) {
      std::visit(
          [](const auto& weak) {
            if (auto session = weak.lock()) session->close();
          },
          entry);
    }
    state_->io.stop();
  });
  thread_.join();
}

}  // namespace heavylift
