// Settings of the real-time hub. The daemon fills them from the settings
// table in app/config.cc (keys "realtime.*").
#pragma once

#include <cstdint>
#include <string>

namespace heavylift::realtime {

struct RealtimeLimits {
  // host:port of the WebSocket listener; empty leaves the hub off.
  std::string address;
  // Threads that run the hub's network I/O and timers; 0 means one per core.
  uint32_t threads = 0;
  // Lets several hub processes bind the same port (SO_REUSEPORT).
  uint32_t reuse_port = 0;
  uint32_t ping_interval_ms = 25000;
  uint32_t ping_timeout_ms = 20000;
  // How long a new connection may take to send its first CONNECT.
  uint32_t connect_timeout_ms = 45000;
  uint32_t max_connections = 10000;
  // Largest WebSocket message a client may send, and the sum of a binary
  // packet's attachments.
  uint64_t max_message_bytes = 1000000;
  uint32_t max_attachments = 10;
  // Token bucket per connection: sustained messages per second, with a burst
  // of the same size.
  uint32_t max_messages_per_second = 100;
  // Bytes queued to one client before it counts as slow and is disconnected.
  uint64_t max_send_queue_bytes = 1 << 20;
  uint32_t max_rooms_per_socket = 100;
  // Comma-separated Origin values accepted from browsers; empty accepts any.
  std::string allowed_origins;
  // Comma-separated namespaces clients may connect to.
  std::string namespaces = "/";
  // File with the JWT key: an HS256 secret, or an Ed25519 public key in PEM.
  std::string jwt_key_file;
  // Disconnects a socket when its token's exp passes (1) or keeps it (0).
  uint32_t close_on_token_expiry = 1;
  // Sends heavylift:presence events to rooms on join and leave (1) or not (0).
  uint32_t presence_events = 0;
  // host:port of Redis for scale-out and @socket.io/redis-emitter; empty
  // keeps the hub on its own.
  std::string redis_address;
  // Channel prefix shared with @socket.io/redis-emitter (its `key` option).
  std::string redis_key = "socket.io";
  // Events each client-event subscriber may have queued before drops.
  uint32_t subscriber_queue_capacity = 4096;
  // Socket.IO connection state recovery (1) or not (0). When on, logged
  // events carry an offset as their last argument.
  uint32_t recovery = 0;
  // How long a disconnected socket can be recovered, and events kept.
  uint32_t recovery_window_ms = 120000;
  // Bounds of each room's log of events kept for recovery.
  uint32_t recovery_max_events_per_room = 1000;
  uint64_t recovery_max_bytes_per_room = 1 << 20;
};

}  // namespace heavylift::realtime
