#include "realtime/redis_bridge.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "core/host_port.h"
#include "core/logging.h"

namespace heavylift::realtime {
namespace {

constexpr auto kReconnectDelay = std::chrono::milliseconds(500);
constexpr auto kHeartbeatInterval = std::chrono::seconds(5);
constexpr int kNodeKeyTtlMs = 15000;
constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kStopFlushTimeout = std::chrono::seconds(2);

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// Connects to `address`; returns nullptr and logs on failure.
ContextPtr connect(const std::string& address, const char* role) {
  const auto parts = split_host_port(address);
  if (!parts) return nullptr;
  const timeval timeout{std::chrono::duration_cast<std::chrono::seconds>(kConnectTimeout).count(), 0};
  ContextPtr context(redisConnectWithTimeout(parts->host.c_str(), std::stoi(parts->port), timeout));
  if (context == nullptr || context->err != 0) {
    spdlog::warn("event=realtime.redis_connect_failed role={} address={} error={}", role, log_value(address),
                 log_value(context ? context->errstr : "out of memory"));
    return nullptr;
  }
  return context;
}

// Sends `argv` as one command; with `pipelined`, only appends it to the
// output buffer and returns nullptr, so replies are read later.
ReplyPtr command(redisContext* context, const std::vector<std::string>& argv, bool pipelined = false) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (pipelined) {
    redisAppendCommandArgv(context, static_cast<int>(argv.size()), pointers.data(), lengths.data());
    return nullptr;
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), pointers.data(), lengths.data())));
}

// Returns the namespace in "<prefix><namespace>#..." or "" when absent.
std::string namespace_of(const std::string& channel, size_t prefix_length) {
  const size_t end = channel.find('#', prefix_length);
  if (end == std::string::npos) return "";
  return channel.substr(prefix_length, end - prefix_length);
}

}  // namespace

RedisBridge::RedisBridge(RedisBridgeOptions options, Hub& hub, Metrics& metrics)
    : options_(std::move(options)),
      hub_(hub),
      remote_in_(metrics.counter("heavylift_realtime_redis_messages_total",
                                 "Broadcasts and requests exchanged with other hubs and emitters through Redis.",
                                 {{"direction", "in"}})),
      published_(metrics.counter("heavylift_realtime_redis_messages_total",
                                 "Broadcasts and requests exchanged with other hubs and emitters through Redis.",
                                 {{"direction", "out"}})),
      dropped_(metrics.counter("heavylift_realtime_drops_total", "Messages the real-time hub dropped, by reason.",
                               {{"reason", "redis_queue_full"}})),
      errors_(metrics.counter("heavylift_realtime_redis_errors_total",
                              "Redis messages that could not be decoded or commands that failed.")) {}

RedisBridge::~RedisBridge() { stop(); }

Status RedisBridge::start() {
  {
    ContextPtr probe = connect(options_.address, "probe");
    if (!probe) return Error::unavailable("cannot connect to realtime.redis_address " + options_.address);
  }
  hub_.set_forwarder([this](const Broadcast& broadcast, uint64_t seq) {
    Result<std::string> encoded = encode_emitter_broadcast(options_.node_id, broadcast, seq);
    if (!encoded.ok()) {
      errors_.inc();
      return;
    }
    enqueue({"PUBLISH", emitter_channel(options_.key, broadcast), std::move(encoded).value()});
  });
  hub_.set_selector_forwarder([this](const SelectorChange& change) {
    enqueue({"PUBLISH", options_.key + "-request#" + change.selector.name_space + "#",
             encode_selector_change(options_.node_id, change)});
  });
  hub_.set_membership_observer([this](const SocketInfo& socket, const std::string& room, bool joined) {
    const std::string member = options_.node_id + '\n' + socket.socket_id + '\n' + socket.user_id;
    enqueue({joined ? "SADD" : "SREM", presence_key(socket.name_space, room), member});
  });
  publisher_ = std::thread([this] { publish_loop(); });
  subscriber_ = std::thread([this] { subscribe_loop(); });
  {
    std::unique_lock lock(subscribed_mutex_);
    if (!subscribed_changed_.wait_for(lock, kConnectTimeout, [this] { return subscribed_; })) {
      spdlog::warn("event=realtime.redis_subscribe_slow address={}", log_value(options_.address));
    }
  }
  spdlog::info("event=realtime.redis_started address={} key={} node_id={}", log_value(options_.address),
               log_value(options_.key), options_.node_id);
  return Status::Ok();
}

void RedisBridge::stop() {
  if (!publisher_.joinable()) return;
  enqueue({"DEL", options_.key + "-node#" + options_.node_id});
  const auto deadline = std::chrono::steady_clock::now() + kStopFlushTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopping_.store(true);
  queue_ready_.notify_all();
  const int fd = subscriber_fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  subscriber_.join();
  publisher_.join();
  std::lock_guard lock(query_mutex_);
  if (query_context_ != nullptr) redisFree(query_context_);
  query_context_ = nullptr;
}

void RedisBridge::enqueue(std::vector<std::string> command) {
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= options_.max_queued_commands) {
      dropped_.inc();
      return;
    }
    queue_.push_back(std::move(command));
  }
  queue_ready_.notify_one();
}

std::string RedisBridge::presence_key(const std::string& name_space, const std::string& room) const {
  return options_.key + "-presence#" + name_space + "#" + room;
}

void RedisBridge::publish_loop() {
  ContextPtr context;
  auto next_heartbeat = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (!context) {
      context = connect(options_.address, "publisher");
      if (!context) {
        std::this_thread::sleep_for(kReconnectDelay);
        continue;
      }
    }
    std::deque<std::vector<std::string>> batch;
    {
      std::unique_lock lock(queue_mutex_);
      queue_ready_.wait_until(lock, next_heartbeat, [this] { return !queue_.empty() || stopping_.load(); });
      batch.swap(queue_);
    }
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      batch.push_back({"SET", options_.key + "-node#" + options_.node_id, "1", "PX", std::to_string(kNodeKeyTtlMs)});
      next_heartbeat = std::chrono::steady_clock::now() + kHeartbeatInterval;
    }
    // Pipelined: append every command, then read every reply.
    for (const auto& argv : batch) command(context.get(), argv, true);
    bool failed = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(context.get(), &raw) != REDIS_OK) {
        failed = true;
        break;
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR) errors_.inc();
      if (batch[i][0] == "PUBLISH") published_.inc();
    }
    if (failed) {
      spdlog::warn("event=realtime.redis_lost role=publisher error={} dropped={}", log_value(context->errstr),
                   batch.size());
      errors_.inc();
      context.reset();
    }
  }
}

void RedisBridge::subscribe_loop() {
  while (!stopping_.load()) {
    ContextPtr context = connect(options_.address, "subscriber");
    if (!context) {
      std::this_thread::sleep_for(kReconnectDelay);
      continue;
    }
    // A subscriber waits for messages indefinitely, so no read timeout.
    redisSetTimeout(context.get(), timeval{0, 0});
    subscriber_fd_.store(context->fd);
    if (stopping_.load()) break;
    ReplyPtr subscribed = command(context.get(), {"PSUBSCRIBE", options_.key + "#*", options_.key + "-request#*"});
    if (!subscribed) {
      subscriber_fd_.store(-1);
      continue;
    }
    // The second PSUBSCRIBE confirmation.
    void* confirmation = nullptr;
    if (redisGetReply(context.get(), &confirmation) == REDIS_OK) freeReplyObject(confirmation);
    {
      std::lock_guard lock(subscribed_mutex_);
      subscribed_ = true;
    }
    subscribed_changed_.notify_all();

    while (!stopping_.load()) {
      void* raw = nullptr;
      if (redisGetReply(context.get(), &raw) != REDIS_OK) {
        if (!stopping_.load()) {
          spdlog::warn("event=realtime.redis_lost role=subscriber error={}", log_value(context->errstr));
          errors_.inc();
        }
        break;
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) continue;
      const redisReply* channel = reply->element[2];
      const redisReply* payload = reply->element[3];
      if (channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) continue;
      handle_message(std::string(channel->str, channel->len), std::string(payload->str, payload->len));
    }
    subscriber_fd_.store(-1);
    if (!stopping_.load()) std::this_thread::sleep_for(kReconnectDelay);
  }
}

void RedisBridge::handle_message(const std::string& channel, const std::string& payload) {
  const std::string request_prefix = options_.key + "-request#";
  if (channel.rfind(request_prefix, 0) == 0) {
    const std::string request_namespace = namespace_of(channel, request_prefix.size());
    Result<std::optional<RemoteSelectorChange>> selected = decode_selector_change(payload, request_namespace);
    if (!selected.ok()) {
      errors_.inc();
      return;
    }
    if (selected.value()) {
      if (selected.value()->uid == options_.node_id) return;
      remote_in_.inc();
      hub_.apply_selector_change(selected.value()->change);
      return;
    }
    Result<RemoteRequest> request = decode_emitter_request(payload);
    if (!request.ok()) {
      if (request.error().code != Code::kUnimplemented) errors_.inc();
      return;
    }
    remote_in_.inc();
    const std::string name_space = namespace_of(channel, request_prefix.size());
    const RemoteRequest& r = request.value();
    switch (r.type) {
      case RemoteRequest::Type::kJoin: hub_.join_matching(name_space, r.rooms, r.except_rooms, r.target_rooms); break;
      case RemoteRequest::Type::kLeave: hub_.leave_matching(name_space, r.rooms, r.except_rooms, r.target_rooms); break;
      case RemoteRequest::Type::kDisconnect: hub_.disconnect_matching(name_space, r.rooms, r.except_rooms, r.close); break;
    }
    return;
  }
  Result<RemoteBroadcast> broadcast = decode_emitter_broadcast(payload, options_.limits);
  if (!broadcast.ok()) {
    errors_.inc();
    spdlog::debug("event=realtime.redis_message_rejected channel={} message={}", log_value(channel),
                  log_value(broadcast.error().message));
    return;
  }
  RemoteBroadcast& remote = broadcast.value();
  if (remote.uid == options_.node_id) return;
  remote_in_.inc();
  if (remote.seq == 0) {
    hub_.deliver(remote.broadcast);
  } else {
    hub_.deliver(remote.broadcast, Offset{std::move(remote.uid), remote.seq});
  }
}

Status RedisBridge::ensure_query_context() {
  if (query_context_ == nullptr || query_context_->err != 0) {
    if (query_context_ != nullptr) redisFree(query_context_);
    query_context_ = connect(options_.address, "query").release();
    if (query_context_ == nullptr) return Error::unavailable("cannot reach Redis at " + options_.address);
  }
  return Status::Ok();
}

std::string RedisBridge::node_key(const std::string& node) const { return options_.key + "-node#" + node; }

std::string RedisBridge::log_key(const std::string& node, const std::string& name_space,
                                 const std::string& room) const {
  return options_.key + "-recovery#" + node + "#" + name_space + "#" + room;
}

std::string RedisBridge::session_key(const std::string& session_id) const {
  return options_.key + "-session#" + session_id;
}

void RedisBridge::append_event(const std::string& name_space, const std::string& room, const std::string& entry,
                               size_t retained) {
  const std::string key = log_key(options_.node_id, name_space, room);
  enqueue({"RPUSH", key, entry});
  enqueue({"LTRIM", key, "-" + std::to_string(retained), "-1"});
  enqueue({"PEXPIRE", key, std::to_string(options_.recovery_window.count())});
}

void RedisBridge::save_session(const Session& session) {
  enqueue({"SET", session_key(session.session_id), encode_session(session), "PX",
           std::to_string(options_.recovery_window.count())});
}

void RedisBridge::delete_session(const std::string& session_id) { enqueue({"DEL", session_key(session_id)}); }

Result<std::optional<Session>> RedisBridge::take_session(const std::string& session_id) {
  std::lock_guard lock(query_mutex_);
  if (Status s = ensure_query_context(); !s.ok()) return s.error();
  ReplyPtr reply = command(query_context_, {"GETDEL", session_key(session_id)});
  if (!reply || reply->type == REDIS_REPLY_ERROR) return Error::unavailable("Redis GETDEL failed");
  if (reply->type != REDIS_REPLY_STRING) return std::optional<Session>();
  Result<Session> session = decode_session(std::string_view(reply->str, reply->len));
  if (!session.ok()) {
    errors_.inc();
    return std::optional<Session>();
  }
  // The key expires with the window; this check covers a clock step.
  if (session.value().disconnected_ms + options_.recovery_window.count() < RecoveryLog::now_ms()) {
    return std::optional<Session>();
  }
  return std::optional<Session>(std::move(session).value());
}

Result<std::vector<std::vector<LoggedEvent>>> RedisBridge::read_events(const std::string& node,
                                                                       const std::string& name_space,
                                                                       const std::vector<std::string>& rooms) {
  std::lock_guard lock(query_mutex_);
  if (Status s = ensure_query_context(); !s.ok()) return s.error();

  // MULTI, one LRANGE per room, EXEC: Redis runs the reads with no other
  // command between them.
  command(query_context_, {"MULTI"}, true);
  for (const std::string& room : rooms) {
    command(query_context_, {"LRANGE", log_key(node, name_space, room), "0", "-1"}, true);
  }
  command(query_context_, {"EXEC"}, true);
  ReplyPtr exec;
  for (size_t i = 0; i < rooms.size() + 2; ++i) {
    void* raw = nullptr;
    if (redisGetReply(query_context_, &raw) != REDIS_OK) {
      return Error::unavailable("reading the recovery log from Redis failed: " + std::string(query_context_->errstr));
    }
    exec.reset(static_cast<redisReply*>(raw));
  }
  if (!exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != rooms.size()) {
    return Error::unavailable("Redis MULTI/EXEC of LRANGE failed");
  }

  std::vector<std::vector<LoggedEvent>> logs(rooms.size());
  for (size_t r = 0; r < rooms.size(); ++r) {
    const redisReply* list = exec->element[r];
    if (list->type != REDIS_REPLY_ARRAY) return Error::unavailable("Redis LRANGE failed");
    for (size_t i = 0; i < list->elements; ++i) {
      const redisReply* element = list->element[i];
      if (element->type != REDIS_REPLY_STRING) continue;
      Result<LoggedEvent> event =
          decode_logged_event(std::string_view(element->str, element->len), options_.limits.max_attachments);
      if (!event.ok()) {
        errors_.inc();
        continue;
      }
      logs[r].push_back(std::move(event).value());
    }
  }
  return logs;
}

Result<bool> RedisBridge::node_alive(const std::string& node) {
  std::lock_guard lock(query_mutex_);
  if (Status s = ensure_query_context(); !s.ok()) return s.error();
  ReplyPtr reply = command(query_context_, {"EXISTS", node_key(node)});
  if (!reply || reply->type != REDIS_REPLY_INTEGER) return Error::unavailable("Redis EXISTS failed");
  return reply->integer == 1;
}

Result<std::vector<SocketInfo>> RedisBridge::members(const std::string& name_space, const std::string& room) {
  std::lock_guard lock(query_mutex_);
  if (Status s = ensure_query_context(); !s.ok()) return s.error();
  ReplyPtr reply = command(query_context_, {"SMEMBERS", presence_key(name_space, room)});
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return Error::unavailable("Redis SMEMBERS failed");

  std::vector<std::array<std::string, 3>> entries;
  std::vector<std::string> nodes;
  for (size_t i = 0; i < reply->elements; ++i) {
    const std::string text(reply->element[i]->str, reply->element[i]->len);
    const size_t first = text.find('\n');
    const size_t second = first == std::string::npos ? std::string::npos : text.find('\n', first + 1);
    if (second == std::string::npos) continue;
    entries.push_back({text.substr(0, first), text.substr(first + 1, second - first - 1), text.substr(second + 1)});
    nodes.push_back(entries.back()[0]);
  }
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());

  // Leaves out members of hubs whose liveness key expired (a crashed hub).
  std::vector<std::string> live;
  for (const std::string& node : nodes) {
    ReplyPtr exists = command(query_context_, {"EXISTS", options_.key + "-node#" + node});
    if (exists && exists->type == REDIS_REPLY_INTEGER && exists->integer == 1) live.push_back(node);
  }
  std::vector<SocketInfo> out;
  for (const auto& [node, socket_id, user_id] : entries) {
    if (std::find(live.begin(), live.end(), node) == live.end()) continue;
    out.push_back(SocketInfo{socket_id, name_space, user_id});
  }
  std::sort(out.begin(), out.end(), [](const SocketInfo& a, const SocketInfo& b) { return a.socket_id < b.socket_id; });
  return out;
}

}  // namespace heavylift::realtime
