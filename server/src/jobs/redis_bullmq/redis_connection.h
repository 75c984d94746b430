// One synchronous hiredis connection that reconnects with backoff. The
// BullMQ worker holds one per role (fetching, blocking wait, lock renewal,
// finishing), each used by a single thread.
//
// Thread-safety: a RedisConnection is used by one thread at a time, except
// stop(), which may be called from any thread.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace heavylift {

// The parts of a redis:// URL.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;
  std::string password;
  int database = 0;
};

// Parses redis://[[user]:password@]host[:port][/db]. Fails with
// INVALID_ARGUMENT naming `setting` for other schemes, a bad port or db.
Result<RedisEndpoint> parse_redis_url(std::string_view url, std::string_view setting);

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisConnection {
 public:
  // `role` names the connection in logs; `client_name` is sent with CLIENT
  // SETNAME after every connect (empty: none). `on_reconnect` runs after a
  // connect that followed a lost connection.
  RedisConnection(RedisEndpoint endpoint, std::string role, std::string client_name);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and returns its reply. An error reply is returned as a
  // reply of type REDIS_REPLY_ERROR, not as a failure. Fails with UNAVAILABLE
  // when the connection is down or breaks; the next call reconnects first.
  // `timeout` bounds the socket read (a blocking command needs a timeout
  // longer than its own).
  Result<RedisReply> command(const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Sends `commands` in one write and reads their replies in order, as
  // command() does for one. Fails with UNAVAILABLE when the connection is
  // down or breaks before every reply arrived. Then the commands whose
  // replies are missing may or may not have run.
  Result<std::vector<RedisReply>> pipeline(const std::vector<std::vector<std::string>>& commands,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs a Lua script by SHA-1 with EVALSHA, loading it with SCRIPT LOAD on
  // NOSCRIPT (a restarted or flushed Redis), as a command().
  Result<RedisReply> eval_script(std::string_view source, std::string_view sha1,
                                 const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args);

  // Connects if not connected; on failure waits the current backoff (100 ms
  // doubling to 5 s, cut short by stop()) and returns UNAVAILABLE.
  Status ensure_connected();

  // Makes every later backoff wait return at once and, with
  // `break_socket`, breaks a command blocked in another thread (shutdown(2)
  // of the socket). For shutdown.
  void stop(bool break_socket);

  // Number of reconnects after a lost connection.
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  const std::string& role() const { return role_; }

  // Called after each reconnect (not the first connect), on the caller's thread.
  void set_reconnect_callback(std::function<void()> callback) { on_reconnect_ = std::move(callback); }

 private:
  Status connect();
  void disconnect(const std::string& reason);

  RedisEndpoint endpoint_;
  std::string role_;
  std::string client_name_;
  redisContext* context_ = nullptr;
  std::mutex fd_mutex_;
  int fd_ = -1;
  bool ever_connected_ = false;
  bool lost_ = false;
  std::chrono::milliseconds backoff_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::function<void()> on_reconnect_;
};

}  // namespace heavylift
