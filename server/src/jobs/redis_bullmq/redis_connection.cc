#include "jobs/redis_bullmq/redis_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <charconv>
#include <csignal>
#include <mutex>
#include <thread>

#include "core/logging.h"

namespace heavylift {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kConnectTimeout = std::chrono::seconds(2);

Error invalid_url(std::string_view setting, std::string_view url, std::string_view what) {
  return Error::invalid(std::string(setting), "INVALID_SETTING",
                        fmt::format("invalid value for {}: {}, got {}", setting, what, quote_value(url)),
                        "redis://[[user]:password@]host[:port][/db]", std::string(url));
}

bool parse_int(std::string_view text, int lower, int upper, int* out) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < lower || value > upper) return false;
  *out = value;
  return true;
}

timeval to_timeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(std::string_view url, std::string_view setting) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return invalid_url(setting, url, "expected a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());
  RedisEndpoint endpoint;

  // Credentials before the last '@'.
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const size_t colon = credentials.find(':'); colon != std::string_view::npos) {
      endpoint.username = std::string(credentials.substr(0, colon));
      endpoint.password = std::string(credentials.substr(colon + 1));
    } else {
      endpoint.password = std::string(credentials);
    }
  }

  // Database after the first '/'.
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view database = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!database.empty() && !parse_int(database, 0, 1 << 20, &endpoint.database)) {
      return invalid_url(setting, url, "the database must be a number");
    }
  }

  // host[:port], with an IPv6 host in brackets.
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return invalid_url(setting, url, "unclosed '[' in the host");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return invalid_url(setting, url, "expected ':' after the host");
      port = rest.substr(close + 2);
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!host.empty()) endpoint.host = std::string(host);
  if (!port.empty() && !parse_int(port, 1, 65535, &endpoint.port)) {
    return invalid_url(setting, url, "the port must be in 1..65535");
  }
  return endpoint;
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, std::string role, std::string client_name)
    : endpoint_(std::move(endpoint)), role_(std::move(role)), client_name_(std::move(client_name)) {
  // hiredis writes with write(2). A write to a socket that Redis closed, or
  // that stop() shut down during a drain, raises SIGPIPE, which would end
  // the daemon; ignored, the write fails with EPIPE and the connection is
  // handled as lost.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) redisFree(context_);
}

void RedisConnection::stop(bool break_socket) {
  stopped_.store(true);
  if (!break_socket) return;
  std::lock_guard<std::mutex> lock(fd_mutex_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void RedisConnection::disconnect(const std::string& reason) {
  if (context_ == nullptr) return;
  if (!stopped_.load()) {
    spdlog::warn("event=bullmq.redis_disconnected connection={} host={} port={} error={}", role_,
                 endpoint_.host, endpoint_.port, log_value(reason));
  }
  {
    std::lock_guard<std::mutex> lock(fd_mutex_);
    fd_ = -1;
  }
  redisFree(context_);
  context_ = nullptr;
  lost_ = true;
}

Status RedisConnection::connect() {
  const timeval connect_timeout = to_timeval(std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout));
  redisContext* context = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_timeout);
  if (context == nullptr) return Error::unavailable("cannot allocate a Redis connection");
  if (context->err != 0) {
    std::string message = context->errstr;
    redisFree(context);
    return Error::unavailable(fmt::format("cannot connect to Redis at {}:{}: {}", endpoint_.host, endpoint_.port, message));
  }
  context_ = context;
  {
    std::lock_guard<std::mutex> lock(fd_mutex_);
    fd_ = context->fd;
  }

  // Authentication, database and client name, each checked.
  std::vector<std::vector<std::string>> setup;
  if (!endpoint_.password.empty()) {
    if (endpoint_.username.empty()) setup.push_back({"AUTH", endpoint_.password});
    else setup.push_back({"AUTH", endpoint_.username, endpoint_.password});
  }
  if (endpoint_.database != 0) setup.push_back({"SELECT", std::to_string(endpoint_.database)});
  if (!client_name_.empty()) setup.push_back({"CLIENT", "SETNAME", client_name_});
  for (const auto& argv : setup) {
    std::vector<const char*> pointers;
    std::vector<size_t> lengths;
    for (const auto& arg : argv) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    RedisReply reply(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(), lengths.data())));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      // The error text of AUTH never contains the password.
      const std::string message = reply ? std::string(reply->str, reply->len) : std::string(context_->errstr);
      disconnect(message);
      return Error::unavailable(fmt::format("Redis rejected {} on connect: {}", argv[0], message));
    }
  }

  if (lost_) {
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("event=bullmq.redis_reconnected connection={} host={} port={}", role_, endpoint_.host, endpoint_.port);
    lost_ = false;
    if (on_reconnect_) on_reconnect_();
  }
  ever_connected_ = true;
  backoff_ = std::chrono::milliseconds(0);
  return Status::Ok();
}

Status RedisConnection::ensure_connected() {
  if (context_ != nullptr) return Status::Ok();
  if (stopped_.load()) return Error::unavailable("the Redis connection is stopped");
  Status status = connect();
  if (status.ok()) return status;

  // Back off before the caller's next attempt, in slices so stop() is seen.
  if (!lost_ && ever_connected_) lost_ = true;
  if (!ever_connected_) lost_ = false;
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
  spdlog::warn("event=bullmq.redis_connect_failed connection={} retry_in_ms={} error={}", role_, backoff_.count(),
               log_value(status.error().message));
  const auto until = std::chrono::steady_clock::now() + backoff_;
  while (!stopped_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (Status s = ensure_connected(); !s.ok()) return s.error();
  const timeval tv = to_timeval(timeout);
  redisSetTimeout(context_, tv);

  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const auto& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  RedisReply reply(static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(), lengths.data())));
  if (!reply) {
    const std::string message = context_->errstr;
    disconnect(message);
    return Error::unavailable(fmt::format("Redis connection lost: {}", message));
  }
  return reply;
}

Result<std::vector<RedisReply>> RedisConnection::pipeline(const std::vector<std::vector<std::string>>& commands,
                                                         std::chrono::milliseconds timeout) {
  if (Status s = ensure_connected(); !s.ok()) return s.error();
  const timeval tv = to_timeval(timeout);
  redisSetTimeout(context_, tv);
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  for (const auto& argv : commands) {
    pointers.clear();
    lengths.clear();
    for (const auto& arg : argv) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), pointers.data(), lengths.data()) != REDIS_OK) {
      const std::string message = context_->errstr;
      disconnect(message);
      return Error::unavailable(fmt::format("Redis connection lost: {}", message));
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) {
      const std::string message = context_->errstr;
      disconnect(message);
      return Error::unavailable(fmt::format("Redis connection lost: {}", message));
    }
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

Result<RedisReply> RedisConnection::eval_script(std::string_view source, std::string_view sha1,
                                                const std::vector<std::string>& keys,
                                                const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(sha1);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());

  auto reply = command(argv);
  if (!reply.ok()) return reply;
  const redisReply* r = reply.value().get();
  if (r->type != REDIS_REPLY_ERROR || std::string_view(r->str, r->len).substr(0, 8) != "NOSCRIPT") return reply;

  // The script cache is empty after a Redis restart or SCRIPT FLUSH.
  auto loaded = command({"SCRIPT", "LOAD", std::string(source)});
  if (!loaded.ok()) return loaded;
  if (loaded.value()->type == REDIS_REPLY_ERROR) return loaded;
  return command(argv);
}

}  // namespace heavylift
