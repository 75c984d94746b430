// Scale-out of the hub through Redis, compatible with @socket.io/redis-emitter:
//
//  - Broadcasts published by the emitter (or by another hub) on
//    "<key>#<namespace>#..." are delivered to this hub's sockets. This hub's
//    own emit() broadcasts are published there for the others.
//  - Emitter requests on "<key>-request#<namespace>#" (socketsJoin,
//    socketsLeave, disconnectSockets) are applied to this hub's sockets.
//  - Room membership is mirrored in Redis sets "<key>-presence#<ns>#<room>",
//    so members() lists the members on every hub. Each hub refreshes a
//    liveness key "<key>-node#<id>" (15 s expiry), and members of hubs whose
//    key expired are left out.
//  - With connection state recovery, the hub's log of events per room
//    ("<key>-recovery#<node id>#<ns>#<room>", lists) and the sessions of
//    disconnected sockets ("<key>-session#<session id>") expire after the
//    recovery window, so a restarted hub or another hub can recover them.
//
// Two threads: one reads the subscription, one writes (publishes, presence
// updates, the liveness key) from a bounded queue. A lost connection is
// retried every 500 ms and logged; broadcasts published meanwhile are lost.
//
// Thread-safety: members() may be called from any thread; start() and stop()
// from one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "realtime/hub.h"
#include "realtime/recovery.h"
#include "realtime/redis_wire.h"

struct redisContext;

namespace heavylift::realtime {

struct RedisBridgeOptions {
  std::string address;           // host:port of Redis
  std::string key = "socket.io";  // channel prefix, the emitter's `key` option
  std::string node_id;            // unique per hub process
  RedisWireLimits limits;
  size_t max_queued_commands = 65536;
  std::chrono::milliseconds recovery_window{120000};
};

class RedisBridge : public RecoveryMirror {
 public:
  RedisBridge(RedisBridgeOptions options, Hub& hub, Metrics& metrics);
  ~RedisBridge();
  RedisBridge(const RedisBridge&) = delete;
  RedisBridge& operator=(const RedisBridge&) = delete;

  // Connects, subscribes (waiting up to 2 s for the subscription) and
  // installs the hub's forwarder and membership observer. Returns
  // UNAVAILABLE when Redis cannot be reached.
  Status start();
  // Sends what is queued (up to 2 s), removes this hub's liveness key and
  // stops both threads.
  void stop();

  // Members of `room` on every live hub, sorted by socket id. UNAVAILABLE
  // when Redis cannot be reached.
  Result<std::vector<SocketInfo>> members(const std::string& name_space, const std::string& room);

  // RecoveryMirror. Writes are queued like publishes; reads block on Redis.
  void append_event(const std::string& name_space, const std::string& room, const std::string& entry,
                    size_t retained) override;
  void save_session(const Session& session) override;
  void delete_session(const std::string& session_id) override;
  Result<std::optional<Session>> take_session(const std::string& session_id) override;
  Result<std::vector<std::vector<LoggedEvent>>> read_events(const std::string& node, const std::string& name_space,
                                                            const std::vector<std::string>& rooms) override;
  Result<bool> node_alive(const std::string& node) override;

 private:
  void subscribe_loop();
  void publish_loop();
  void enqueue(std::vector<std::string> command);
  void handle_message(const std::string& channel, const std::string& payload);
  std::string presence_key(const std::string& name_space, const std::string& room) const;
  std::string node_key(const std::string& node) const;
  std::string log_key(const std::string& node, const std::string& name_space, const std::string& room) const;
  std::string session_key(const std::string& session_id) const;
  // Connects query_context_ when needed. Expects query_mutex_ held.
  Status ensure_query_context();

  const RedisBridgeOptions options_;
  Hub& hub_;
  Counter& remote_in_;
  Counter& published_;
  Counter& dropped_;
  Counter& errors_;

  std::atomic<bool> stopping_{false};
  std::atomic<int> subscriber_fd_{-1};
  std::mutex subscribed_mutex_;
  std::condition_variable subscribed_changed_;
  bool subscribed_ = false;
  std::thread subscriber_;
  std::thread publisher_;

  std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::deque<std::vector<std::string>> queue_;

  std::mutex query_mutex_;
  redisContext* query_context_ = nullptr;
};

}  // namespace heavylift::realtime
