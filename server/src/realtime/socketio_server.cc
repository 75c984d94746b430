#include "realtime/socketio_server.h"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <array>
#include <map>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "core/host_port.h"
#include "core/logging.h"
#include "core/tls_server_context.h"
#include "realtime/engineio_packet.h"
#include "realtime/json_text.h"
#include "realtime/socketio_packet.h"

namespace heavylift::realtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
// Each I/O thread runs its own io_context, and a connection stays on one of
// them, so its handlers never run concurrently and need no strand. The
// concrete executor type avoids any_io_executor's type erasure on every
// operation.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;

// Events a client sends to join or leave a room; the first argument is the
// room name and the ack, when requested, is {"ok":true} or {"ok":false,...}.
constexpr char kJoinEvent[] = "heavylift:join";
constexpr char kLeaveEvent[] = "heavylift:leave";

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Bytes of each message read into the connection's own array. Pongs, joins
// and most client events fit, so an idle connection keeps no read buffer on
// the heap. A longer message continues into a buffer released after it.
constexpr size_t kInlineReadBytes = 128;
constexpr size_t kMaxRequestHeaderBytes = 8192;
// Entries an emptied send queue keeps allocated for the next messages.
constexpr size_t kKeptQueueEntries = 4;
// Accepts kept waiting on the listening socket. When many clients reconnect at
// once (after a hub went away), each readiness event of the socket then takes
// up to this many connections off the listen queue instead of one, so fewer
// overflow it. Their handlers run on the acceptor's strand, one at a time.
constexpr size_t kPendingAccepts = 16;
// Server-to-client acks a connection may wait for at once.
constexpr size_t kMaxPendingAcks = 1024;

// Socket.IO's handshake error codes, sent in the JSON body of a rejected
// handshake: {"code":N,"message":"..."}.
enum class HandshakeError { kTransportUnknown = 0, kSessionIdUnknown = 1, kBadRequest = 3, kForbidden = 4,
                            kUnsupportedProtocolVersion = 5 };

std::string random_id() {
  unsigned char bytes[15];
  randombytes_buf(bytes, sizeof bytes);
  char text[sodium_base64_ENCODED_LEN(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

EncodedMessage text_frame(std::string text) {
  return std::make_shared<const std::vector<Frame>>(std::vector<Frame>{Frame{std::move(text), false}});
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// Returns the value of `key` in the query string of `target`, or nullopt.
std::optional<std::string> query_value(std::string_view target, std::string_view key) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t equals = pair.find('=');
    if (pair.substr(0, equals) == key) {
      return std::string(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

// Counters of the hub's listener, made once so the hot paths do not look
// series up by name.
struct ServerMetrics {
  explicit ServerMetrics(Metrics& metrics)
      : registry(metrics),
        messages_in(metrics.counter("heavylift_realtime_messages_total",
                                    "Socket.IO packets received from clients (in) or queued to them (out).",
                                    {{"direction", "in"}})),
        connections_accepted(metrics.counter("heavylift_realtime_connections_accepted_total",
                                             "WebSocket connections that completed the Engine.IO handshake.")),
        recovered(metrics.counter("heavylift_realtime_recovered_sockets_total",
                                  "Sockets restored by connection state recovery.")),
        ping_delay(metrics.histogram("heavylift_realtime_ping_delay_seconds",
                                     "How late the hub's ping timer fired, a measure of I/O thread starvation.",
                                     {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5})) {}

  Counter& drop(const std::string& reason) {
    std::lock_guard lock(mutex);
    auto found = drops.find(reason);
    if (found != drops.end()) return *found->second;
    Counter& counter = registry.counter("heavylift_realtime_drops_total",
                                        "Messages the real-time hub dropped, by reason.", {{"reason", reason}});
    drops[reason] = &counter;
    return counter;
  }

  Metrics& registry;
  Counter& messages_in;
  Counter& connections_accepted;
  Counter& recovered;
  Histogram& ping_delay;
  std::mutex mutex;
  std::map<std::string, Counter*> drops;
};

}  // namespace

EncodedMessage encode_socketio_message(const Message& message) {
  SocketPacket packet;
  packet.name_space = message.name_space;
  const bool binary = !message.attachments.empty();
  if (message.kind == Message::Kind::kAck) {
    packet.type = binary ? SocketPacketType::kBinaryAck : SocketPacketType::kAck;
    packet.ack_id = message.ack_id;
    packet.payload = message.args_json;
  } else {
    packet.type = binary ? SocketPacketType::kBinaryEvent : SocketPacketType::kEvent;
    packet.ack_id = message.ack_id;
    // ["event", ...args]: the arguments array without its brackets follows the name.
    packet.payload = "[" + json_quote(message.event);
    if (message.args_json.size() > 2) {
      packet.payload += ",";
      packet.payload.append(message.args_json, 1, message.args_json.size() - 2);
    }
    // Socket.IO's connection state recovery: the offset is the last argument,
    // and socket.io-client (4.8.4 read) keeps the last string argument of
    // each event it receives as the offset to send back on reconnect.
    if (message.offset) packet.payload += "," + json_quote(*message.offset);
    packet.payload += "]";
  }
  packet.attachments = static_cast<uint32_t>(message.attachments.size());
  std::vector<Frame> frames;
  frames.reserve(1 + message.attachments.size());
  frames.push_back(Frame{"4" + encode_socket_packet(packet), false});
  for (const std::string& attachment : message.attachments) frames.push_back(Frame{attachment, true});
  return std::make_shared<const std::vector<Frame>>(std::move(frames));
}

class SocketIoServer::Impl {
 public:
  Impl(RealtimeLimits limits, TokenVerifier verifier, Metrics& metrics)
      : limits_(std::move(limits)),
        verifier_(std::move(verifier)),
        metrics_(metrics),
        node_id_(random_id()),
        hub_(encode_socketio_message, metrics, hub_options(limits_, node_id_)),
        namespaces_(split_list(limits_.namespaces)),
        allowed_origins_(split_list(limits_.allowed_origins)),
        contexts_(make_contexts(limits_)),
        acceptor_(contexts_.front()->get_executor()) {
    hub_.set_fan_out([this](std::vector<std::shared_ptr<realtime::Connection>> targets, const EncodedMessage& frames) {
      fan_out(std::move(targets), frames);
    });
    metrics.gauge_callback("heavylift_realtime_connections", "WebSocket connections open on the real-time hub.",
                           [this] { return static_cast<double>(connections_.load()); });
  }

  // The interface the server uses for a connection of either kind.
  class Connection : public realtime::Connection {
   public:
    virtual void shutdown_for_drain() = 0;
    // Queues `frames` as send() does. Call only on the connection's thread.
    virtual void enqueue(const EncodedMessage& frames) = 0;
    // Index in contexts_ of the io_context the connection runs on.
    virtual size_t context_index() const = 0;
  };
  template <class Stream>
  class ConnectionOf;
  using PlainConnection = ConnectionOf<Socket>;
  using TlsConnection = ConnectionOf<beast::ssl_stream<Socket>>;

  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(const RealtimeLimits& limits) {
    const unsigned count = limits.threads != 0 ? limits.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
    return contexts;
  }

  Status start();
  void accept();
  // The hub's FanOut: one posted handler per I/O thread queues the message
  // to that thread's connections, instead of one post per connection.
  void fan_out(std::vector<std::shared_ptr<realtime::Connection>> targets, const EncodedMessage& frames);
  void drain(std::chrono::milliseconds grace);
  void track(const std::shared_ptr<Connection>& connection);
  void untrack(Connection* connection);

  static HubOptions hub_options(const RealtimeLimits& limits, const std::string& node_id) {
    HubOptions options;
    options.presence_events = limits.presence_events != 0;
    options.subscriber_queue_capacity = limits.subscriber_queue_capacity;
    options.node_id = node_id;
    options.recovery.enabled = limits.recovery != 0;
    options.recovery.window = std::chrono::milliseconds(limits.recovery_window_ms);
    options.recovery.max_events_per_room = limits.recovery_max_events_per_room;
    options.recovery.max_bytes_per_room = limits.recovery_max_bytes_per_room;
    return options;
  }

  RealtimeLimits limits_;
  TokenVerifier verifier_;
  ServerMetrics metrics_;
  // Names this hub in Redis and in recovery offsets.
  const std::string node_id_;
  Hub hub_;
  const std::vector<std::string> namespaces_;
  const std::vector<std::string> allowed_origins_;
  // One per I/O thread; the acceptor runs on the first.
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<Executor>> work_guards_;
  tcp::acceptor acceptor_;
  // The context the next accepted connection runs on, round robin.
  size_t next_context_ = 0;
  std::vector<std::thread> threads_;
  std::string bound_address_;
  std::atomic<size_t> connections_{0};
  std::atomic<bool> draining_{false};
  std::mutex registry_mutex_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> registry_;
  std::unique_ptr<RedisBridge> bridge_;
  // Set when the hub serves wss://.
  std::shared_ptr<TlsServerContext> tls_;
};

// One client connection: the HTTP upgrade, then Engine.IO and Socket.IO.
// Everything except send() and the close requests runs on the thread of the
// connection's io_context; those post to it unless called there.
// `Stream` is a TCP socket (ws://) or beast::ssl_stream over it (wss://).
template <class Stream>
class SocketIoServer::Impl::ConnectionOf : public SocketIoServer::Impl::Connection,
                                           public std::enable_shared_from_this<ConnectionOf<Stream>> {
 public:
  // `stream_args` construct the stream: the socket, plus the TLS context for wss://.
  template <class... StreamArgs>
  explicit ConnectionOf(Impl& server, size_t context_index, StreamArgs&&... stream_args)
      : server_(server),
        limits_(server.limits_),
        context_(*server.contexts_[context_index]),
        context_index_(context_index),
        ws_(std::forward<StreamArgs>(stream_args)...),
        ping_timer_(ws_.get_executor()),
        connect_timer_(ws_.get_executor()),
        tokens_(limits_.max_messages_per_second),
        refilled_(std::chrono::steady_clock::now()) {
    beast::error_code ignored;
    const auto endpoint = beast::get_lowest_layer(ws_).remote_endpoint(ignored);
    peer_ = fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
  }

  void start() {
    // Covers the TLS handshake, the upgrade request and a rejection's
    // response; on_accept reuses the timer for the CONNECT timeout.
    connect_timer_.expires_after(kHandshakeTimeout);
    connect_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->accepted_) return;
      self->finish_quietly();
    });
    if constexpr (kTls) {
      ws_.next_layer().async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          // Scanners and clients that do not trust the certificate end here.
          spdlog::debug("event=realtime.tls_handshake_failed peer={} error={}", self->peer_, log_value(ec.message()));
          self->server_.metrics_.drop("tls_handshake_failed").inc();
          self->finish_quietly();
          return;
        }
        self->read_request();
      });
    } else {
      read_request();
    }
  }

  // realtime::Connection, called from any thread.
  void send(EncodedMessage frames) override {
    if (context_.get_executor().running_in_this_thread()) {
      enqueue(frames);
      return;
    }
    asio::post(context_, [self = this->shared_from_this(), frames = std::move(frames)] { self->enqueue(frames); });
  }

  void enqueue(const EncodedMessage& frames) override {
    if (queue_closed_) return;
    size_t bytes = 0;
    for (const Frame& frame : *frames) bytes += frame.data.size();
    if (queued_bytes_ + bytes > limits_.max_send_queue_bytes && queue_head_ != queue_.size()) {
      // The client does not read fast enough: drop it so others are not held
      // up. The drop is posted because the caller may hold hub locks.
      queue_closed_ = true;
      asio::post(context_, [self = this->shared_from_this()] { self->abort("send_queue_full"); });
      return;
    }
    queue_.push_back(Outgoing{frames, 0});
    queued_bytes_ += bytes;
    if (writing_) return;
    writing_ = true;
    write_next();
  }

  size_t context_index() const override { return context_index_; }

  void send_with_ack(const std::string& socket_id, Message message, std::chrono::milliseconds timeout,
                     AckCallback done) override {
    asio::post(context_, [self = this->shared_from_this(), socket_id, timeout, message = std::move(message),
                                    done = std::move(done)]() mutable {
      if (self->closed_ || self->pending_acks_.size() >= kMaxPendingAcks) {
        done(Error::unavailable(self->closed_ ? "socket closed before it acknowledged"
                                              : "socket has too many acknowledgements pending"));
        return;
      }
      const uint64_t id = self->next_ack_id_++;
      message.ack_id = id;
      auto timer = std::make_shared<asio::steady_timer>(self->ws_.get_executor(), timeout);
      timer->async_wait([self, id](beast::error_code ec) {
        if (ec) return;
        auto found = self->pending_acks_.find(id);
        if (found == self->pending_acks_.end()) return;
        AckCallback expired = std::move(found->second.done);
        self->pending_acks_.erase(found);
        self->server_.metrics_.drop("ack_timeout").inc();
        expired(Error::deadline_exceeded("the client did not acknowledge within timeout_ms"));
      });
      self->pending_acks_[id] = PendingAck{socket_id, std::move(done), std::move(timer)};
      self->send(encode_socketio_message(message));
    });
  }

  void close_socket(const std::string& socket_id, const std::string& reason) override {
    asio::post(context_, [self = this->shared_from_this(), socket_id, reason] {
      for (auto it = self->sockets_.begin(); it != self->sockets_.end(); ++it) {
        if (it->second.socket_id != socket_id) continue;
        SocketPacket packet;
        packet.type = SocketPacketType::kDisconnect;
        packet.name_space = it->first;
        self->send(text_frame("4" + encode_socket_packet(packet)));
        self->end_socket(it->first, reason);
        return;
      }
    });
  }

  void close(const std::string& reason) override {
    asio::post(context_, [self = this->shared_from_this(), reason] { self->finish(reason, true); });
  }

  const std::string& peer() const { return peer_; }

 private:
  struct Outgoing {
    EncodedMessage frames;
    size_t next_frame;
  };
  struct NamespaceSocket {
    std::string socket_id;
    Claims claims;
    std::unique_ptr<Timer> expiry_timer;
  };
  struct PendingAck {
    std::string socket_id;
    AckCallback done;
    std::shared_ptr<asio::steady_timer> timer;
  };

  // --- HTTP upgrade ------------------------------------------------------------

  static constexpr bool kTls = !std::is_same_v<Stream, Socket>;

  void read_request() {
    handshake_ = std::make_unique<HandshakeState>();
    handshake_->parser.header_limit(kMaxRequestHeaderBytes);
    http::async_read(ws_.next_layer(), handshake_->buffer, handshake_->parser,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_request(ec); });
  }

  void on_request(beast::error_code ec) {
    if (ec) {
      finish_quietly();
      return;
    }
    const auto& request = handshake_->parser.get();
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/socket.io/" && path != "/socket.io") {
      reject_handshake(http::status::not_found, HandshakeError::kBadRequest,
                       "not found: the Socket.IO endpoint is /socket.io/", "not_found");
      return;
    }
    if (query_value(target, "EIO") != "4") {
      reject_handshake(http::status::bad_request, HandshakeError::kUnsupportedProtocolVersion,
                       "unsupported protocol version: only Engine.IO 4 (EIO=4, socket.io-client 3 and later) "
                       "is accepted",
                       "bad_handshake");
      return;
    }
    if (query_value(target, "transport") != "websocket") {
      reject_handshake(http::status::bad_request, HandshakeError::kTransportUnknown,
                       "transport unknown: heavylift accepts only transport=websocket; set transports: "
                       "['websocket'] in socket.io-client",
                       "polling_rejected");
      return;
    }
    if (query_value(target, "sid")) {
      reject_handshake(http::status::bad_request, HandshakeError::kSessionIdUnknown,
                       "session id unknown: upgrades from long-polling are not supported", "bad_handshake");
      return;
    }
    if (!websocket::is_upgrade(request)) {
      reject_handshake(http::status::bad_request, HandshakeError::kBadRequest,
                       "bad request: expected a WebSocket upgrade", "bad_handshake");
      return;
    }
    const auto origin = request.find(http::field::origin);
    if (!server_.allowed_origins_.empty() && origin != request.end()) {
      const std::string value(origin->value());
      if (std::find(server_.allowed_origins_.begin(), server_.allowed_origins_.end(), value) ==
          server_.allowed_origins_.end()) {
        spdlog::warn("event=realtime.origin_rejected peer={} origin={}", peer_, log_value(value));
        reject_handshake(http::status::forbidden, HandshakeError::kForbidden,
                         "forbidden: origin " + quote_value(value) + " is not in realtime.allowed_origins",
                         "origin_rejected");
        return;
      }
    }
    if (server_.draining_.load()) {
      reject_handshake(http::status::service_unavailable, HandshakeError::kBadRequest,
                       "the hub is shutting down; reconnect to another instance", "draining");
      return;
    }
    if (server_.connections_.fetch_add(1) >= limits_.max_connections) {
      server_.connections_.fetch_sub(1);
      reject_handshake(http::status::service_unavailable, HandshakeError::kBadRequest,
                       fmt::format("too many connections: the hub holds its limit of {} "
                                   "(realtime.max_connections); retry later",
                                   limits_.max_connections),
                       "max_connections");
      return;
    }
    counted_ = true;

    websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = kHandshakeTimeout;
    // Engine.IO pings detect dead peers, so Beast's own idle pings stay off.
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(limits_.max_message_bytes + 64);
    ws_.auto_fragment(false);
    ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code accept_error) {
      self->on_accept(accept_error);
    });
  }

  void reject_handshake(http::status status, HandshakeError code, const std::string& message,
                        const std::string& reason) {
    server_.metrics_.drop(reason).inc();
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, "application/json");
    if (status == http::status::service_unavailable) response->set(http::field::retry_after, "1");
    response->keep_alive(false);
    response->body() = fmt::format(R"({{"code":{},"message":{}}})", static_cast<int>(code), json_quote(message));
    response->prepare_payload();
    http::async_write(ws_.next_layer(), *response,
                      [self = this->shared_from_this(), response](beast::error_code, size_t) { self->finish_quietly(); });
  }

  void on_accept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("event=realtime.handshake_failed peer={} error={}", peer_, log_value(ec.message()));
      finish_quietly();
      return;
    }
    // Idle connections dominate memory, so buffers used once are released.
    accepted_ = true;
    handshake_.reset();
    server_.metrics_.connections_accepted.inc();
    engine_id_ = random_id();
    OpenSettings settings{engine_id_, limits_.ping_interval_ms, limits_.ping_timeout_ms, limits_.max_message_bytes};
    send(text_frame(encode_open_packet(settings)));
    schedule_ping();
    connect_timer_.expires_after(std::chrono::milliseconds(limits_.connect_timeout_ms));
    connect_timer_.async_wait([self = this->shared_from_this()](beast::error_code timer_error) {
      if (timer_error || self->closed_ || !self->sockets_.empty()) return;
      self->drop("connect_timeout", "no CONNECT packet within realtime.connect_timeout_ms");
    });
    read_next();
  }

  // --- Reading -------------------------------------------------------------------

  // Reads the next message into inline_read_ and, when it is longer,
  // continues it in read_buffer_.
  void read_next() {
    ws_.async_read_some(asio::buffer(inline_read_), [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
      self->on_read_start(ec, bytes);
    });
  }

  void on_read_start(beast::error_code ec, size_t bytes) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    if (ws_.is_message_done()) {
      handle_frame(std::string_view(inline_read_.data(), bytes), ws_.got_binary());
      if (!closed_) read_next();
      return;
    }
    read_buffer_.commit(asio::buffer_copy(read_buffer_.prepare(bytes), asio::buffer(inline_read_.data(), bytes)));
    ws_.async_read(read_buffer_, [self = this->shared_from_this()](beast::error_code read_error, size_t) {
      self->on_read_rest(read_error);
    });
  }

  void on_read_rest(beast::error_code ec) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    const auto data = read_buffer_.data();
    handle_frame(std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_binary());
    // Released after every long message, so that idle connections hold no
    // read buffer.
    read_buffer_.clear();
    read_buffer_.shrink_to_fit();
    if (!closed_) read_next();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == websocket::error::message_too_big) {
      drop("message_too_big", fmt::format("message larger than realtime.max_message_bytes ({})",
                                          limits_.max_message_bytes),
           websocket::close_code::too_big);
    } else {
      finish(ec == websocket::error::closed ? "client closed the connection" : ec.message(), false, true);
    }
  }

  void handle_frame(std::string_view frame, bool binary) {
    Result<EnginePacket> parsed = parse_engine_frame(frame, binary);
    if (!parsed.ok()) {
      drop("malformed_packet", parsed.error().message);
      return;
    }
    const EnginePacket& packet = parsed.value();
    switch (packet.type) {
      case EnginePacketType::kPong:
        on_pong();
        return;
      case EnginePacketType::kPing:
        send(text_frame("3" + std::string(packet.data)));
        return;
      case EnginePacketType::kClose:
        finish("client sent an Engine.IO close packet", false, true);
        return;
      case EnginePacketType::kNoop:
      case EnginePacketType::kUpgrade:
        return;
      case EnginePacketType::kOpen:
        drop("malformed_packet", "clients may not send an Engine.IO open packet");
        return;
      case EnginePacketType::kMessage:
        break;
    }
    if (!take_token()) {
      drop("rate_limited", fmt::format("more than realtime.max_messages_per_second ({}) messages per second",
                                       limits_.max_messages_per_second),
           websocket::close_code::policy_error);
      return;
    }
    server_.metrics_.messages_in.inc();
    if (packet.binary) {
      on_attachment(packet.data);
    } else if (pending_binary_) {
      drop("malformed_packet", "text packet arrived while binary attachments were expected");
    } else {
      on_socket_packet(packet.data);
    }
  }

  bool take_token() {
    const auto now = std::chrono::steady_clock::now();
    const double rate = limits_.max_messages_per_second;
    tokens_ = std::min(rate, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  void on_attachment(std::string_view data) {
    if (!pending_binary_) {
      drop("malformed_packet", "binary frame without a BINARY_EVENT or BINARY_ACK packet before it");
      return;
    }
    pending_bytes_ += data.size();
    if (pending_bytes_ > limits_.max_message_bytes) {
      drop("message_too_big", fmt::format("attachments larger than realtime.max_message_bytes ({}) in total",
                                          limits_.max_message_bytes),
           websocket::close_code::too_big);
      return;
    }
    pending_attachments_.emplace_back(data);
    if (pending_attachments_.size() < pending_binary_->attachments) return;
    SocketPacket packet = std::move(*pending_binary_);
    pending_binary_.reset();
    pending_bytes_ = 0;
    dispatch(packet, std::move(pending_attachments_));
    pending_attachments_.clear();
  }

  void on_socket_packet(std::string_view text) {
    SocketPacketLimits packet_limits{limits_.max_attachments, 128};
    Result<SocketPacket> parsed = parse_socket_packet(text, packet_limits);
    if (!parsed.ok()) {
      const std::string reason = parsed.error().reason == "TOO_MANY_ATTACHMENTS" ? "too_many_attachments"
                                                                                  : "malformed_packet";
      drop(reason, parsed.error().message);
      return;
    }
    SocketPacket packet = std::move(parsed).value();
    if (packet.attachments > 0) {
      pending_binary_ = std::make_unique<SocketPacket>(std::move(packet));
      return;
    }
    dispatch(packet, {});
  }

  // --- Socket.IO -------------------------------------------------------------------

  void dispatch(const SocketPacket& packet, std::vector<std::string> attachments) {
    switch (packet.type) {
      case SocketPacketType::kConnect:
        on_connect(packet);
        return;
      case SocketPacketType::kDisconnect:
        end_socket(packet.name_space, "client namespace disconnect");
        return;
      case SocketPacketType::kEvent:
      case SocketPacketType::kBinaryEvent:
        on_event(packet, std::move(attachments));
        return;
      case SocketPacketType::kAck:
      case SocketPacketType::kBinaryAck:
        on_ack(packet, std::move(attachments));
        return;
      case SocketPacketType::kConnectError:
        return;
    }
  }

  void send_packet(SocketPacketType type, const std::string& name_space, std::string payload,
                   std::optional<uint64_t> ack_id = std::nullopt) {
    SocketPacket packet;
    packet.type = type;
    packet.name_space = name_space;
    packet.payload = std::move(payload);
    packet.ack_id = ack_id;
    send(text_frame("4" + encode_socket_packet(packet)));
  }

  void connect_error(const std::string& name_space, const std::string& message, const std::string& reason) {
    send_packet(SocketPacketType::kConnectError, name_space,
                fmt::format(R"({{"message":{},"data":{{"reason":{}}}}})", json_quote(message), json_quote(reason)));
  }

  void on_connect(const SocketPacket& packet) {
    const std::string& name_space = packet.name_space;
    if (std::find(server_.namespaces_.begin(), server_.namespaces_.end(), name_space) == server_.namespaces_.end()) {
      server_.metrics_.drop("invalid_namespace").inc();
      connect_error(name_space, "Invalid namespace", "INVALID_NAMESPACE");
      return;
    }
    if (sockets_.count(name_space) != 0) {
      connect_error(name_space, "already connected to namespace " + name_space, "ALREADY_CONNECTED");
      return;
    }
    std::string token;
    RecoveryRequest recovery;
    if (!packet.payload.empty()) {
      Result<std::string> found = json_object_string(packet.payload, "token", "auth");
      if (found.ok()) token = std::move(found).value();
      // socket.io-client adds the session id ("pid") it got at CONNECT and
      // the last offset it received to the auth payload when it reconnects.
      Result<std::string> pid = json_object_string(packet.payload, "pid", "auth");
      Result<std::string> offset = json_object_string(packet.payload, "offset", "auth");
      if (pid.ok()) recovery.session_id = std::move(pid).value();
      if (offset.ok()) recovery.offset = std::move(offset).value();
    }
    Result<Claims> claims = token.empty()
                                ? Result<Claims>(Error{Code::kUnauthenticated,
                                                       "missing token: pass auth: { token } to io()", "auth.token",
                                                       "", "", "TOKEN_MISSING"})
                                : server_.verifier_(token);
    if (!claims.ok()) {
      server_.metrics_.drop("auth_failed").inc();
      spdlog::info("event=realtime.auth_failed peer={} namespace={} reason={} message={}", peer_,
                   log_value(name_space), log_value(claims.error().reason), log_value(claims.error().message));
      connect_error(name_space, claims.error().message, claims.error().reason);
      return;
    }

    // The token is checked above first, so an expired token does not
    // recover a session.
    std::optional<RecoveredSocket> recovered;
    if (server_.hub_.recovery() != nullptr && !recovery.session_id.empty()) {
      recovery.name_space = name_space;
      recovery.user_id = claims.value().user_id;
      recovered = server_.hub_.recover_socket(recovery, this->shared_from_this());
    }
    NamespaceSocket socket;
    socket.socket_id = recovered ? recovered->socket_id : random_id();
    socket.claims = std::move(claims).value();
    const std::string socket_id = socket.socket_id;
    const std::string user_id = socket.claims.user_id;
    if (limits_.close_on_token_expiry != 0 && socket.claims.expires_at) {
      socket.expiry_timer = std::make_unique<Timer>(ws_.get_executor());
      const auto remaining = *socket.claims.expires_at - std::chrono::system_clock::now();
      socket.expiry_timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining));
      socket.expiry_timer->async_wait([self = this->shared_from_this(), name_space, socket_id](beast::error_code ec) {
        if (ec) return;
        self->expire_socket(name_space, socket_id);
      });
    }
    sockets_[name_space] = std::move(socket);
    connect_timer_.cancel();
    std::string connect_payload = "{\"sid\":" + json_quote(socket_id);
    if (server_.hub_.recovery() != nullptr) {
      // A recovered socket keeps its session id; socket.io-client sets
      // socket.recovered when the "pid" matches the one it sent.
      const std::string session_id = recovered ? recovery.session_id : random_id();
      if (!recovered) server_.hub_.add_socket(SocketInfo{socket_id, name_space, user_id}, this->shared_from_this(), session_id);
      connect_payload += ",\"pid\":" + json_quote(session_id);
    } else {
      server_.hub_.add_socket(SocketInfo{socket_id, name_space, user_id}, this->shared_from_this());
    }
    connect_payload += "}";
    send_packet(SocketPacketType::kConnect, name_space, std::move(connect_payload));
    if (recovered) {
      server_.metrics_.recovered.inc();
      spdlog::info("event=realtime.socket_recovered peer={} namespace={} socket_id={} user_id={} replayed={}", peer_,
                   log_value(name_space), socket_id, log_value(user_id), recovered->replayed);
    }
    spdlog::debug("event=realtime.socket_connected peer={} namespace={} socket_id={} user_id={}", peer_,
                  log_value(name_space), socket_id, log_value(user_id));
  }

  void expire_socket(const std::string& name_space, const std::string& socket_id) {
    auto found = sockets_.find(name_space);
    if (found == sockets_.end() || found->second.socket_id != socket_id) return;
    server_.metrics_.drop("token_expired").inc();
    spdlog::info("event=realtime.token_expired peer={} namespace={} socket_id={}", peer_, log_value(name_space),
                 socket_id);
    send_packet(SocketPacketType::kDisconnect, name_space, "");
    end_socket(name_space, "token expired");
  }

  // Ends the socket of `name_space`. With `keep_session`, the hub keeps its
  // state for recovery.
  void end_socket(const std::string& name_space, const std::string& reason, bool keep_session = false) {
    auto found = sockets_.find(name_space);
    if (found == sockets_.end()) return;
    const std::string socket_id = found->second.socket_id;
    if (found->second.expiry_timer) found->second.expiry_timer->cancel();
    sockets_.erase(found);
    server_.hub_.remove_socket(socket_id, reason, keep_session);
    for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
      if (it->second.socket_id == socket_id) {
        it->second.timer->cancel();
        it->second.done(Error::unavailable("socket disconnected before it acknowledged"));
        it = pending_acks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void on_event(const SocketPacket& packet, std::vector<std::string> attachments) {
    auto found = sockets_.find(packet.name_space);
    if (found == sockets_.end()) {
      server_.metrics_.drop("not_connected").inc();
      return;
    }
    Result<EventPayload> payload = split_event_payload(packet.payload);
    if (!payload.ok()) {
      drop("malformed_packet", payload.error().message);
      return;
    }
    const NamespaceSocket& socket = found->second;
    if (payload.value().name == kJoinEvent || payload.value().name == kLeaveEvent) {
      on_membership(packet, socket, payload.value());
      return;
    }
    ClientEvent event;
    event.type = ClientEvent::Type::kEvent;
    event.name_space = packet.name_space;
    event.socket_id = socket.socket_id;
    event.user_id = socket.claims.user_id;
    event.event = std::move(payload.value().name);
    event.args_json = std::move(payload.value().args_json);
    event.attachments = std::move(attachments);
    event.ack_id = packet.ack_id;
    server_.hub_.client_events().publish(event);
  }

  void on_membership(const SocketPacket& packet, const NamespaceSocket& socket, const EventPayload& payload) {
    const bool join = payload.name == kJoinEvent;
    auto answer = [&](bool ok, const std::string& room, const std::string& error, const std::string& reason) {
      if (!packet.ack_id) return;
      std::string body = ok ? fmt::format(R"([{{"ok":true,"room":{}}}])", json_quote(room))
                            : fmt::format(R"([{{"ok":false,"room":{},"error":{},"reason":{}}}])", json_quote(room),
                                          json_quote(error), json_quote(reason));
      send_packet(SocketPacketType::kAck, packet.name_space, std::move(body), packet.ack_id);
    };

    Result<JsonArray> args = split_json_array(payload.args_json, "args");
    Result<std::string> room = args.ok() && !args.value().elements.empty()
                                   ? json_string_value(args.value().elements[0], "room")
                                   : Result<std::string>(Error::invalid("room", "MISSING", "missing room"));
    if (!room.ok() || room.value().empty()) {
      answer(false, "", "the first argument of " + payload.name + " must be a non-empty room name", "INVALID_ROOM");
      return;
    }
    const std::string& name = room.value();
    if (!join) {
      if (name == socket.socket_id) {
        answer(false, name, "a socket cannot leave its own room", "INVALID_ROOM");
        return;
      }
      (void)server_.hub_.leave(socket.socket_id, name);
      answer(true, name, "", "");
      return;
    }
    if (!room_allowed(socket.claims, name)) {
      server_.metrics_.drop("forbidden_room").inc();
      spdlog::info("event=realtime.join_rejected socket_id={} user_id={} room={} reason=forbidden_room",
                   socket.socket_id, log_value(socket.claims.user_id), log_value(name));
      answer(false, name, "forbidden room: the token's rooms claim does not allow " + quote_value(name),
             "FORBIDDEN_ROOM");
      return;
    }
    if (server_.hub_.rooms_of(socket.socket_id).size() > limits_.max_rooms_per_socket) {
      server_.metrics_.drop("too_many_rooms").inc();
      answer(false, name, fmt::format("a socket may be in at most {} rooms (realtime.max_rooms_per_socket)",
                                      limits_.max_rooms_per_socket),
             "TOO_MANY_ROOMS");
      return;
    }
    (void)server_.hub_.join(socket.socket_id, name);
    answer(true, name, "", "");
  }

  void on_ack(const SocketPacket& packet, std::vector<std::string> attachments) {
    auto found = pending_acks_.find(*packet.ack_id);
    if (found == pending_acks_.end()) {
      server_.metrics_.drop("unknown_ack").inc();
      return;
    }
    AckCallback done = std::move(found->second.done);
    found->second.timer->cancel();
    pending_acks_.erase(found);
    // NOTE: binary attachments of a client's ack are not passed on; the
    // arguments keep their placeholders.
    (void)attachments;
    done(packet.payload);
  }

  // --- Pings -----------------------------------------------------------------------

  void schedule_ping() {
    const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits_.ping_interval_ms);
    ping_timer_.expires_at(due);
    ping_timer_.async_wait([self = this->shared_from_this(), due](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->server_.metrics_.ping_delay.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - due).count());
      self->awaiting_pong_ = true;
      static const EncodedMessage kPing = text_frame("2");
      self->send(kPing);
      self->ping_timer_.expires_after(std::chrono::milliseconds(self->limits_.ping_timeout_ms));
      self->ping_timer_.async_wait([self](beast::error_code timeout_error) {
        if (timeout_error || self->closed_ || !self->awaiting_pong_) return;
        self->drop("ping_timeout", "no pong within realtime.ping_timeout_ms");
      });
    });
  }

  void on_pong() {
    if (!awaiting_pong_) return;
    awaiting_pong_ = false;
    schedule_ping();
  }

  // --- Writing ---------------------------------------------------------------------

  void write_next() {
    if (closed_ && !closing_gracefully_) return;
    if (queue_head_ == queue_.size()) {
      writing_ = false;
      if (closing_gracefully_) start_close_handshake();
      return;
    }
    const Outgoing& front = queue_[queue_head_];
    const Frame* frame = &(*front.frames)[front.next_frame];
    ws_.text(!frame->binary);
    ws_.async_write(asio::buffer(frame->data), [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
      self->on_write(ec, bytes);
    });
  }

  void on_write(beast::error_code ec, size_t bytes) {
    if (ec) {
      finish(ec.message(), false, true);
      return;
    }
    Outgoing& front = queue_[queue_head_];
    queued_bytes_ -= bytes;
    if (++front.next_frame == front.frames->size()) pop_sent();
    write_next();
  }

  // Drops the fully sent front of the queue. An emptied queue gives its
  // memory back unless it is small, since idle connections dominate memory.
  void pop_sent() {
    queue_[queue_head_].frames.reset();
    if (++queue_head_ < queue_.size()) {
      // A queue that never empties moves its live entries to the front now
      // and then, so the sent ones do not pile up.
      if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
        queue_head_ = 0;
      }
      return;
    }
    queue_.clear();
    queue_head_ = 0;
    if (queue_.capacity() > kKeptQueueEntries) queue_.shrink_to_fit();
  }

  // --- Closing -------------------------------------------------------------------

  // Drops the connection for breaking a bound: counts `reason`, logs it and
  // closes with `code`.
  void drop(const std::string& reason, const std::string& message,
            websocket::close_code code = websocket::close_code::protocol_error) {
    server_.metrics_.drop(reason).inc();
    spdlog::info("event=realtime.connection_dropped peer={} engine_id={} reason={} message={}", peer_, engine_id_,
                 reason, log_value(message));
    close_code_ = code;
    const bool lost = reason == "send_queue_full" || reason == "ping_timeout";
    finish(message, !lost, lost);
  }

  void abort(const std::string& reason) { drop(reason, "send queue over realtime.max_send_queue_bytes"); }

  // Ends every socket and the connection. With `graceful`, queued frames are
  // sent first and a WebSocket close handshake follows; otherwise the TCP
  // connection is closed at once. With `keep_sessions` (a lost connection,
  // not a deliberate disconnect), the sockets may be recovered.
  void finish(const std::string& reason, bool graceful, bool keep_sessions = false) {
    if (closed_) return;
    closed_ = true;
    ping_timer_.cancel();
    connect_timer_.cancel();
    std::vector<std::string> names;
    for (const auto& [name_space, socket] : sockets_) names.push_back(name_space);
    for (const std::string& name_space : names) end_socket(name_space, reason, keep_sessions);
    for (auto& [id, pending] : pending_acks_) {
      pending.timer->cancel();
      pending.done(Error::unavailable("connection closed"));
    }
    pending_acks_.clear();
    queue_closed_ = true;
    const bool idle = !writing_;
    if (graceful && ws_.is_open()) {
      // Queued frames go out first; a client that does not take them within
      // kHandshakeTimeout is cut off.
      closing_gracefully_ = true;
      if (idle) start_close_handshake();
      ping_timer_.expires_after(kHandshakeTimeout);
      ping_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->force_close();
      });
    } else {
      force_close();
    }
  }

  void force_close() {
    ping_timer_.cancel();
    connect_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
    release();
  }

  void start_close_handshake() {
    if (close_started_) return;
    close_started_ = true;
    ws_.async_close(websocket::close_reason(close_code_), [self = this->shared_from_this()](beast::error_code) {
      self->ping_timer_.cancel();
      self->force_close();
    });
  }

  // Closes a connection that never completed the WebSocket handshake.
  void finish_quietly() {
    closed_ = true;
    force_close();
  }

  void release() {
    if (released_) return;
    released_ = true;
    if (counted_) server_.connections_.fetch_sub(1);
    server_.untrack(this);
  }

 public:
  void shutdown_for_drain() override {
    asio::post(context_, [self = this->shared_from_this()] {
      self->close_code_ = websocket::close_code::going_away;
      if (!self->accepted_) {
        self->finish_quietly();
      } else {
        self->finish("server shutting down", true, true);
      }
    });
  }

 private:
  // State of the HTTP upgrade, released once the WebSocket is accepted.
  struct HandshakeState {
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
  };

  Impl& server_;
  const RealtimeLimits& limits_;
  asio::io_context& context_;
  const size_t context_index_;
  websocket::stream<Stream> ws_;
  std::string peer_;
  std::string engine_id_;
  std::unique_ptr<HandshakeState> handshake_;
  std::array<char, kInlineReadBytes> inline_read_;
  // The rest of a message longer than inline_read_; empty between messages.
  beast::flat_buffer read_buffer_;

  Timer ping_timer_;
  // The handshake timeout until the WebSocket is accepted, then the CONNECT
  // timeout.
  Timer connect_timer_;
  bool awaiting_pong_ = false;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;

  std::map<std::string, NamespaceSocket> sockets_;
  std::unique_ptr<SocketPacket> pending_binary_;
  std::vector<std::string> pending_attachments_;
  size_t pending_bytes_ = 0;
  uint64_t next_ack_id_ = 0;
  std::unordered_map<uint64_t, PendingAck> pending_acks_;

  // Frames waiting to be sent, from queue_head_ on. A vector rather than a
  // std::deque, which allocates about 600 bytes even when empty.
  std::vector<Outgoing> queue_;
  size_t queue_head_ = 0;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool queue_closed_ = false;

  bool accepted_ = false;
  bool closed_ = false;
  bool closing_gracefully_ = false;
  bool close_started_ = false;
  bool counted_ = false;
  bool released_ = false;
  websocket::close_code close_code_ = websocket::close_code::normal;
};

Status SocketIoServer::Impl::start() {
  const auto host_port = split_host_port(limits_.address);
  if (!host_port) return Error::invalid("realtime.address", "INVALID_SETTING", "realtime.address must be host:port");
  beast::error_code ec;
  const std::string host = host_port->host == "localhost" ? "127.0.0.1" : host_port->host;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Error::unavailable("cannot parse realtime.address host " + quote_value(host));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(host_port->port)));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && limits_.reuse_port != 0) {
    acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::unavailable(fmt::format("cannot listen on realtime.address {}: {}", limits_.address, ec.message()));
  }
  const tcp::endpoint bound = acceptor_.local_endpoint();
  bound_address_ = join_host_port(host_port->host, std::to_string(bound.port()));

  if (!limits_.redis_address.empty()) {
    RedisBridgeOptions options;
    options.address = limits_.redis_address;
    options.key = limits_.redis_key;
    options.node_id = node_id_;
    options.limits.max_attachments = limits_.max_attachments;
    options.recovery_window = std::chrono::milliseconds(limits_.recovery_window_ms);
    bridge_ = std::make_unique<RedisBridge>(std::move(options), hub_, metrics_.registry);
    if (Status s = bridge_->start(); !s.ok()) return s;
    if (hub_.recovery() != nullptr) hub_.recovery()->set_mirror(bridge_.get());
  }

  for (size_t i = 0; i < kPendingAccepts; ++i) accept();
  for (auto& context : contexts_) {
    work_guards_.push_back(asio::make_work_guard(context->get_executor()));
    threads_.emplace_back([&context = *context] { context.run(); });
  }
  return Status::Ok();
}

void SocketIoServer::Impl::accept() {
  const size_t index = next_context_;
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_.async_accept(contexts_[index]->get_executor(), [this, index](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE and the like: log once per failure and keep accepting after a pause.
      spdlog::warn("event=realtime.accept_failed error={}", log_value(ec.message()));
      auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
      timer->async_wait([this, timer](beast::error_code) { accept(); });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (tls_) {
      auto connection = std::make_shared<TlsConnection>(*this, index, std::move(socket), *tls_->current());
      track(connection);
      asio::post(*contexts_[index], [connection] { connection->start(); });
    } else {
      auto connection = std::make_shared<PlainConnection>(*this, index, std::move(socket));
      track(connection);
      asio::post(*contexts_[index], [connection] { connection->start(); });
    }
    accept();
  });
}

void SocketIoServer::Impl::fan_out(std::vector<std::shared_ptr<realtime::Connection>> targets,
                                   const EncodedMessage& frames) {
  // Every connection in hub_ is one of this server's.
  std::vector<std::vector<std::shared_ptr<Connection>>> groups(contexts_.size());
  for (auto& target : targets) {
    auto connection = std::static_pointer_cast<Connection>(std::move(target));
    groups[connection->context_index()].push_back(std::move(connection));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].empty()) continue;
    // On an I/O thread its own connections are queued at once, so that they
    // keep the order of this thread's other sends.
    if (contexts_[i]->get_executor().running_in_this_thread()) {
      for (const auto& connection : groups[i]) connection->enqueue(frames);
      continue;
    }
    asio::post(*contexts_[i], [group = std::move(groups[i]), frames] {
      for (const auto& connection : group) connection->enqueue(frames);
    });
  }
}

void SocketIoServer::Impl::track(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(registry_mutex_);
  registry_[connection.get()] = connection;
}

void SocketIoServer::Impl::untrack(Connection* connection) {
  std::lock_guard lock(registry_mutex_);
  registry_.erase(connection);
}

void SocketIoServer::Impl::drain(std::chrono::milliseconds grace) {
  if (threads_.empty()) return;
  draining_.store(true);
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(registry_mutex_);
    for (auto& [raw, weak] : registry_) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  spdlog::info("event=realtime.draining connections={} grace_ms={}", open.size(), grace.count());
  for (const auto& connection : open) connection->shutdown_for_drain();
  open.clear();

  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(registry_mutex_);
      if (registry_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  hub_.client_events().close_all();
  if (bridge_) bridge_->stop();
  // NOTE: a send_with_ack still queued on a strand when the threads stop
  // never calls its callback, so the hub does not finish that EmitWithAck
  // call. This takes a race between an EmitWithAck and the drain.
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  work_guards_.clear();
  spdlog::info("event=realtime.stopped");
}

SocketIoServer::SocketIoServer(RealtimeLimits limits, TokenVerifier verifier, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(limits), std::move(verifier), metrics)) {}

SocketIoServer::~SocketIoServer() { impl_->drain(std::chrono::milliseconds(0)); }

Status SocketIoServer::use_tls(const TlsServerFiles& files) {
  auto loaded = TlsServerContext::load(files, "realtime");
  if (!loaded.ok()) return loaded.error();
  impl_->tls_ = std::move(loaded).value();
  return Status::Ok();
}

Status SocketIoServer::start() { return impl_->start(); }
std::string SocketIoServer::bound_address() const { return impl_->bound_address_; }
void SocketIoServer::drain(std::chrono::milliseconds grace) { impl_->drain(grace); }
Hub& SocketIoServer::hub() { return impl_->hub_; }
RedisBridge* SocketIoServer::redis_bridge() { return impl_->bridge_.get(); }
size_t SocketIoServer::connection_count() const { return impl_->connections_.load(); }

}  // namespace heavylift::realtime
