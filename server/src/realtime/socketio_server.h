// The WebSocket listener that speaks Engine.IO 4 and Socket.IO 5 to
// socket.io-client (transport "websocket" only) and maps its packets onto
// the protocol-free Hub.
//
// Each connection runs on its own strand of the server's I/O threads, which
// are separate from the CPU executor, so pings go out on time while tasks
// run. Every bound in RealtimeLimits has a drop reason in the
// heavylift_realtime_drops_total counter.
//
// Thread-safety: start() and drain() are called by the daemon's main thread;
// hub() may be used from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/metrics.h"
#include "core/tls_server_context.h"
#include "realtime/hub.h"
#include "realtime/realtime_config.h"
#include "realtime/redis_bridge.h"
#include "realtime/token_claims.h"

namespace heavylift::realtime {

// Encodes a hub message as Engine.IO message frames: the Socket.IO packet as
// a text frame, then one binary frame per attachment.
EncodedMessage encode_socketio_message(const Message& message);

class SocketIoServer {
 public:
  SocketIoServer(RealtimeLimits limits, TokenVerifier verifier, Metrics& metrics);
  ~SocketIoServer();
  SocketIoServer(const SocketIoServer&) = delete;
  SocketIoServer& operator=(const SocketIoServer&) = delete;

  // Serves wss:// with the certificate chain and key in `files`; a changed
  // file is used from the next connection on. Returns INVALID_ARGUMENT naming
  // the file when it cannot be loaded. Call before start().
  Status use_tls(const TlsServerFiles& files);

  // Binds limits.address, connects to Redis when limits.redis_address is set,
  // and starts the I/O threads. Returns UNAVAILABLE when the address cannot
  // be bound or Redis cannot be reached.
  Status start();
  // The bound address as host:port (the real port when 0 was configured).
  std::string bound_address() const;
  // Stops accepting, closes every connection with WebSocket close code 1001
  // (going away, so clients reconnect elsewhere), waits up to `grace` for
  // them to finish, then stops the I/O threads.
  void drain(std::chrono::milliseconds grace);

  Hub& hub();
  // The Redis bridge when limits.redis_address is set, else nullptr.
  RedisBridge* redis_bridge();
  size_t connection_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace heavylift::realtime
