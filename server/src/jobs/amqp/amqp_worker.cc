#include "jobs/amqp/amqp_worker.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include "core/logging.h"
#include "jobs/amqp/amqp_envelope.h"
#include "jobs/task_job.h"

namespace heavylift {
namespace {

using Clock = std::chrono::steady_clock;

constexpr amqp_channel_t kChannel = 1;
constexpr int kFrameMax = 131072;
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kIdlePoll = std::chrono::milliseconds(1000);
// How long runs cancelled at the drain deadline may take to stop.
constexpr auto kCancelledRunsWait = std::chrono::seconds(1);
// Frames read in one go before completions get a turn.
constexpr int kFramesPerTurn = 256;
constexpr uint32_t kInitialBackoffMs = 100;
constexpr uint32_t kMinDeferMs = 10;

// Returns " trace_id=<id>" for a message that carried a valid traceparent, else "".
std::string trace_field(const JobEnvelope& envelope) {
  if (envelope.trace_id.empty()) return "";
  return " trace_id=" + envelope.trace_id;
}

amqp_bytes_t bytes_of(std::string_view text) {
  return amqp_bytes_t{text.size(), const_cast<char*>(text.data())};
}

std::string text_of(const amqp_bytes_t& bytes) {
  if (bytes.len == 0 || bytes.bytes == nullptr) return {};
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

timeval to_timeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

// Describes a failed synchronous AMQP call.
std::string describe_reply(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return fmt::format("connection closed by the broker: {} {}", close->reply_code, text_of(close->reply_text));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return fmt::format("channel closed by the broker: {} {}", close->reply_code, text_of(close->reply_text));
      }
      return fmt::format("broker error in method {:#x}", reply.reply.id);
  }
  return "unknown reply";
}

// Copies `in` into `*out`, with every string and the header table allocated
// from `pool`. librabbitmq-c leaves the fields whose flag is unset
// uninitialized, so only flagged fields are read; the others become empty.
void clone_properties(const amqp_basic_properties_t& in, amqp_basic_properties_t* out, amqp_pool_t* pool) {
  *out = amqp_basic_properties_t{};
  out->_flags = in._flags;
  auto copy = [&in, pool](amqp_flags_t flag, const amqp_bytes_t& from, amqp_bytes_t* to) {
    *to = amqp_empty_bytes;
    if ((in._flags & flag) == 0 || from.len == 0) return;
    amqp_pool_alloc_bytes(pool, from.len, to);
    if (to->bytes != nullptr) std::memcpy(to->bytes, from.bytes, from.len);
  };
  copy(AMQP_BASIC_CONTENT_TYPE_FLAG, in.content_type, &out->content_type);
  copy(AMQP_BASIC_CONTENT_ENCODING_FLAG, in.content_encoding, &out->content_encoding);
  copy(AMQP_BASIC_CORRELATION_ID_FLAG, in.correlation_id, &out->correlation_id);
  copy(AMQP_BASIC_REPLY_TO_FLAG, in.reply_to, &out->reply_to);
  copy(AMQP_BASIC_EXPIRATION_FLAG, in.expiration, &out->expiration);
  copy(AMQP_BASIC_MESSAGE_ID_FLAG, in.message_id, &out->message_id);
  copy(AMQP_BASIC_TYPE_FLAG, in.type, &out->type);
  copy(AMQP_BASIC_USER_ID_FLAG, in.user_id, &out->user_id);
  copy(AMQP_BASIC_APP_ID_FLAG, in.app_id, &out->app_id);
  copy(AMQP_BASIC_CLUSTER_ID_FLAG, in.cluster_id, &out->cluster_id);
  if ((in._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0) out->delivery_mode = in.delivery_mode;
  if ((in._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) out->priority = in.priority;
  if ((in._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) out->timestamp = in.timestamp;
  out->headers = amqp_empty_table;
  if ((in._flags & AMQP_BASIC_HEADERS_FLAG) != 0 &&
      amqp_table_clone(&in.headers, &out->headers, pool) != AMQP_STATUS_OK) {
    out->headers = amqp_empty_table;
    out->_flags &= ~AMQP_BASIC_HEADERS_FLAG;
  }
}

// Builds a header table for a publish: a copy of another table's entries
// without the keys being set, then the new entries. Entries point into the
// builder and the source table, which must outlive the publish.
class HeaderBuilder {
 public:
  void copy_from(const amqp_table_t& table, std::initializer_list<const char*> replaced) {
    for (int i = 0; i < table.num_entries; ++i) {
      const std::string key = text_of(table.entries[i].key);
      if (std::none_of(replaced.begin(), replaced.end(), [&](const char* r) { return key == r; })) {
        entries_.push_back(table.entries[i]);
      }
    }
  }
  void add_string(const char* key, std::string value) {
    const std::string& stored = storage_.emplace_back(std::move(value));
    amqp_table_entry_t entry{};
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = bytes_of(stored);
    entries_.push_back(entry);
  }
  void add_integer(const char* key, int64_t value) {
    amqp_table_entry_t entry{};
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = value;
    entries_.push_back(entry);
  }
  void add_boolean(const char* key, bool value) {
    amqp_table_entry_t entry{};
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    entry.value.value.boolean = value ? 1 : 0;
    entries_.push_back(entry);
  }
  amqp_table_t table() { return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()}; }

 private:
  std::vector<amqp_table_entry_t> entries_;
  std::deque<std::string> storage_;
};

}  // namespace

// Metrics shared by every connection of the worker.
struct AmqpMetrics {
  explicit AmqpMetrics(Metrics& metrics)
      : registry(metrics),
        redeliveries(metrics.counter("heavylift_amqp_redeliveries_total",
                                     "Messages the broker delivered again (redelivered flag set).")),
        reconnects(metrics.counter("heavylift_amqp_reconnects_total",
                                   "Connection attempts after a lost or failed connection.")),
        publish_nacks(metrics.counter("heavylift_amqp_publish_nacks_total",
                                      "Publishes the broker rejected (basic.nack); their messages were requeued.")),
        returned(metrics.counter("heavylift_amqp_returned_total",
                                 "Results the broker returned as unroutable (no queue bound to the results "
                                 "exchange, or the reply_to queue is gone).")),
        stale_results(metrics.counter("heavylift_amqp_stale_results_total",
                                      "Runs that finished after their connection was lost; the broker "
                                      "redelivers their messages.")) {
    metrics.gauge_callback("heavylift_amqp_unconfirmed_publishes",
                           "Publishes waiting for the broker's confirm.",
                           [this] { return static_cast<double>(unconfirmed.load()); });
    metrics.gauge_callback("heavylift_amqp_connections_open", "AMQP connections open and consuming.",
                           [this] { return static_cast<double>(connected.load()); });
    metrics.gauge_callback("heavylift_amqp_messages_in_flight",
                           "Messages received and not yet acknowledged or returned.",
                           [this] { return static_cast<double>(in_flight.load()); });
  }

  Counter& messages(const std::string& task, const char* outcome) {
    return registry.counter("heavylift_amqp_messages_total",
                            "Messages settled, by task and outcome (completed, retried, dead_lettered, "
                            "rejected, requeued).",
                            {{"task", task}, {"outcome", outcome}});
  }
  Counter& retries(const std::string& task) {
    return registry.counter("heavylift_amqp_retries_total", "Failed attempts sent to the retry queue.",
                            {{"task", task}});
  }
  Counter& dead_lettered(const std::string& reason) {
    return registry.counter("heavylift_amqp_dead_lettered_total",
                            "Messages sent to the dead-letter queue, by reason.", {{"reason", reason}});
  }

  Metrics& registry;
  Counter& redeliveries;
  Counter& reconnects;
  Counter& publish_nacks;
  Counter& returned;
  Counter& stale_results;
  std::atomic<int64_t> unconfirmed{0};
  std::atomic<int64_t> connected{0};
  std::atomic<int64_t> in_flight{0};
};

namespace {

// One received message and the run it leads to. Owned by shared_ptr: the
// connection loop, its confirm table and the run's completion share it.
struct Delivery {
  Delivery() { init_amqp_pool(&pool, 4096); }
  ~Delivery() { empty_amqp_pool(&pool); }
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  uint64_t generation = 0;
  uint64_t delivery_tag = 0;
  bool redelivered = false;
  amqp_pool_t pool;
  amqp_basic_properties_t properties{};
  std::string body;
  uint64_t body_size = 0;
  bool oversized = false;

  JobEnvelope envelope;
  const Task* task = nullptr;
  std::unique_ptr<google::protobuf::Message> request;
  std::unique_ptr<google::protobuf::Message> response;
  std::shared_ptr<TaskContext> context;
  Status status;
  bool rejected_by_executor = false;

  // Publishes not yet confirmed, and whether the broker rejected any.
  int pending_confirms = 0;
  bool publish_rejected = false;
  const char* outcome = "completed";

  std::string task_label() const { return task != nullptr ? task->name : "(none)"; }
  std::string job_id() const {
    return envelope.message_id.empty() ? fmt::format("delivery-{}", delivery_tag) : envelope.message_id;
  }
};

// Runs that finished, handed from executor threads to the connection thread,
// which an eventfd wakes. Shared with the runs' callbacks, so it outlives a
// loop that stopped before a run ended.
struct Inbox {
  Inbox() : wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Inbox() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  void push(std::shared_ptr<Delivery> delivery) {
    {
      std::lock_guard lock(mutex);
      done.push_back(std::move(delivery));
    }
    wake();
  }
  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd, &one, sizeof(one));
  }
  std::deque<std::shared_ptr<Delivery>> take() {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t read_bytes = ::read(wake_fd, &count, sizeof(count));
    std::lock_guard lock(mutex);
    return std::exchange(done, {});
  }

  const int wake_fd;
  std::mutex mutex;
  std::deque<std::shared_ptr<Delivery>> done;
};

struct BrokerAddress {
  std::string host;
  int port = 5672;
  std::string vhost;
  std::string user;
  std::string password;
};

Result<BrokerAddress> parse_broker_url(const std::string& setting, const std::string& url) {
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info{};
  if (url.empty() || amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    // The URL may carry a password, so the error does not repeat it.
    return Error::invalid(setting, "INVALID_SETTING",
                          fmt::format("{} must be an amqp://user:password@host:port/vhost URL", setting),
                          "amqp://user:password@host:port/vhost");
  }
  if (info.ssl) {
    return Error::invalid(setting, "INVALID_SETTING",
                          fmt::format("{}: amqps:// (TLS) is not supported; use amqp://", setting), "amqp://");
  }
  BrokerAddress broker{info.host, info.port, info.vhost, info.user, info.password};
  // "amqp://host/" names the empty vhost by the URI spec, which no broker
  // has; like amqplib, read it as the default vhost "/".
  if (broker.vhost.empty()) broker.vhost.push_back('/');
  return broker;
}

}  // namespace

// One connection, its channel and the thread that serves it.
class AmqpConnectionLoop {
 public:
  AmqpConnectionLoop(int index, const AmqpOptions& options, BrokerAddress broker, const TaskRegistry& registry,
                     TaskRunner& runner, AmqpMetrics& metrics, uint32_t prefetch)
      : index_(index),
        options_(options),
        broker_(std::move(broker)),
        registry_(registry),
        runner_(runner),
        metrics_(metrics),
        prefetch_(prefetch),
        inbox_(std::make_shared<Inbox>()),
        random_(static_cast<uint32_t>(index) * 7919u + static_cast<uint32_t>(::getpid())) {}

  // The thread body: connects, serves until the connection fails, and
  // reconnects with backoff, until a drain completes.
  void run();

  // Asks the loop to drain by `deadline`. Safe from any thread.
  void request_drain(Clock::time_point deadline) {
    {
      std::lock_guard lock(drain_mutex_);
      drain_deadline_ = deadline;
    }
    draining_.store(true);
    inbox_->wake();
  }

 private:
  enum class Incoming { kNone, kDelivery, kReturn };

  Status connect();
  Status declare_topology();
  // Serves the open connection. Returns OK after a finished drain, or the
  // error that ended the connection.
  Status serve();
  Status read_frames();
  Status dispatch(const amqp_frame_t& frame);
  Status on_content_complete();
  Status on_delivery(std::shared_ptr<Delivery> delivery);
  Status run_job(const std::shared_ptr<Delivery>& delivery);
  Status on_run_finished(const std::shared_ptr<Delivery>& delivery);
  Status on_confirm(uint64_t tag, bool multiple, bool acked);
  Status settle(const std::shared_ptr<Delivery>& delivery);
  Status reject_to_dead_letter(const std::shared_ptr<Delivery>& delivery, const Error& error);
  Status publish(const std::shared_ptr<Delivery>& delivery, const std::string& exchange,
                 const std::string& routing_key, bool mandatory, amqp_basic_properties_t& properties,
                 std::string_view body);
  Status publish_outcome(const std::shared_ptr<Delivery>& delivery);
  Status publish_retry(const std::shared_ptr<Delivery>& delivery, bool interrupted);
  Status on_interrupted(const std::shared_ptr<Delivery>& delivery);
  Status give_back(const std::shared_ptr<Delivery>& delivery, bool ran);
  Status publish_dead_letter(const std::shared_ptr<Delivery>& delivery, const std::string& reason);
  Status check_library(int status, const char* what);
  void close_connection(bool clean);
  void abandon_deliveries();
  void sleep_interruptibly(std::chrono::milliseconds duration);
  Clock::time_point drain_deadline() {
    std::lock_guard lock(drain_mutex_);
    return drain_deadline_;
  }

  const int index_;
  const AmqpOptions& options_;
  const BrokerAddress broker_;
  const TaskRegistry& registry_;
  TaskRunner& runner_;
  AmqpMetrics& metrics_;
  const uint32_t prefetch_;
  std::shared_ptr<Inbox> inbox_;
  std::minstd_rand random_;
  std::thread::id thread_id_;

  std::atomic<bool> draining_{false};
  std::mutex drain_mutex_;
  Clock::time_point drain_deadline_ = Clock::time_point::max();

  // State of the current connection; reset by abandon_deliveries().
  amqp_connection_state_t connection_ = nullptr;
  uint64_t generation_ = 0;
  std::string consumer_tag_;
  bool consuming_ = false;
  bool cancel_sent_ = false;
  bool runs_cancelled_ = false;
  uint64_t next_publish_seq_ = 1;
  std::map<uint64_t, std::shared_ptr<Delivery>> running_;      // by delivery tag
  std::map<uint64_t, std::shared_ptr<Delivery>> unconfirmed_;  // by publish sequence number
  std::vector<std::pair<Clock::time_point, std::shared_ptr<Delivery>>> deferred_;
  Incoming incoming_kind_ = Incoming::kNone;
  std::shared_ptr<Delivery> incoming_;
  std::string returned_reply_text_;
};

void AmqpConnectionLoop::run() {
  thread_id_ = std::this_thread::get_id();
  uint32_t backoff_ms = kInitialBackoffMs;
  bool first = true;
  while (!draining_.load()) {
    if (!first) metrics_.reconnects.inc();
    first = false;
    Status status = connect();
    if (status.ok()) {
      backoff_ms = kInitialBackoffMs;
      metrics_.connected.fetch_add(1);
      spdlog::info("event=amqp.connected connection={} host={} port={} vhost={} queue={} prefetch={}", index_,
                   log_value(broker_.host), broker_.port, log_value(broker_.vhost), log_value(options_.queue),
                   prefetch_);
      status = serve();
      metrics_.connected.fetch_sub(1);
    }
    const bool drained = status.ok();
    close_connection(drained);
    abandon_deliveries();
    if (drained) break;
    if (draining_.load()) break;

    // Full jitter keeps many workers from reconnecting in step.
    const uint32_t wait_ms = kInitialBackoffMs / 2 + random_() % std::max<uint32_t>(1, backoff_ms);
    spdlog::warn("event=amqp.connection_lost connection={} host={} port={} message={} retry_in_ms={}", index_,
                 log_value(broker_.host), broker_.port, log_value(status.error().message), wait_ms);
    sleep_interruptibly(std::chrono::milliseconds(wait_ms));
    backoff_ms = std::min(options_.reconnect_max_ms, backoff_ms * 2);
  }
  spdlog::info("event=amqp.stopped connection={}", index_);
}

void AmqpConnectionLoop::sleep_interruptibly(std::chrono::milliseconds duration) {
  // Runs of the lost connection keep finishing and waking the eventfd; only
  // a drain ends the wait early. Their results stay in the inbox, where the
  // next connection drops them as stale.
  const auto deadline = Clock::now() + duration;
  while (!draining_.load()) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) return;
    pollfd wake{inbox_->wake_fd, POLLIN, 0};
    if (::poll(&wake, 1, static_cast<int>(remaining.count())) > 0) {
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t read_bytes = ::read(inbox_->wake_fd, &count, sizeof(count));
    }
  }
}

Status AmqpConnectionLoop::check_library(int status, const char* what) {
  if (status == AMQP_STATUS_OK) return Status::Ok();
  return Error::unavailable(fmt::format("{} failed: {}", what, amqp_error_string2(status)));
}

Status AmqpConnectionLoop::connect() {
  ++generation_;
  next_publish_seq_ = 1;
  consuming_ = false;
  cancel_sent_ = false;
  runs_cancelled_ = false;
  connection_ = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(connection_);
  if (socket == nullptr) return Error::internal("cannot create an AMQP socket");
  timeval connect_timeout = to_timeval(std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout));
  amqp_set_handshake_timeout(connection_, &connect_timeout);
  amqp_set_rpc_timeout(connection_, &connect_timeout);
  if (Status s = check_library(amqp_socket_open_noblock(socket, broker_.host.c_str(), broker_.port, &connect_timeout),
                               "connecting");
      !s.ok()) {
    return s;
  }

  amqp_table_entry_t property{};
  property.key = amqp_cstring_bytes("connection_name");
  property.value.kind = AMQP_FIELD_KIND_UTF8;
  const std::string name = fmt::format("heavylift worker {} pid {}", index_, ::getpid());
  property.value.value.bytes = bytes_of(name);
  amqp_table_t client_properties{1, &property};
  const amqp_rpc_reply_t login = amqp_login_with_properties(
      connection_, broker_.vhost.c_str(), 0, kFrameMax, static_cast<int>(options_.heartbeat_s), &client_properties,
      AMQP_SASL_METHOD_PLAIN, broker_.user.c_str(), broker_.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(fmt::format("login failed: {}", describe_reply(login)));
  }
  amqp_channel_open(connection_, kChannel);
  if (auto reply = amqp_get_rpc_reply(connection_); reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(fmt::format("channel.open failed: {}", describe_reply(reply)));
  }
  amqp_confirm_select(connection_, kChannel);
  if (auto reply = amqp_get_rpc_reply(connection_); reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(fmt::format("confirm.select failed: {}", describe_reply(reply)));
  }
  if (Status s = declare_topology(); !s.ok()) return s;

  amqp_basic_qos(connection_, kChannel, 0, static_cast<uint16_t>(std::min<uint32_t>(prefetch_, 65535)), 0);
  if (auto reply = amqp_get_rpc_reply(connection_); reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(fmt::format("basic.qos failed: {}", describe_reply(reply)));
  }
  const amqp_basic_consume_ok_t* consume = amqp_basic_consume(
      connection_, kChannel, bytes_of(options_.queue), amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
  if (auto reply = amqp_get_rpc_reply(connection_); consume == nullptr || reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(fmt::format("basic.consume on {} failed: {}", options_.queue, describe_reply(reply)));
  }
  consumer_tag_ = text_of(consume->consumer_tag);
  spdlog::debug("event=amqp.consuming connection={} queue={} consumer_tag={}", index_, log_value(options_.queue),
                log_value(consumer_tag_));
  consuming_ = true;
  return Status::Ok();
}

Status AmqpConnectionLoop::declare_topology() {
  const std::string retry_queue = options_.queue + ".retry";
  const std::string dead_queue = options_.queue + ".dead";

  amqp_exchange_declare(connection_, kChannel, bytes_of(options_.results_exchange), amqp_cstring_bytes("topic"), 0,
                        /*durable=*/1, 0, 0, amqp_empty_table);
  if (auto reply = amqp_get_rpc_reply(connection_); reply.reply_type != AMQP_RESPONSE_NORMAL) {
    return Error::unavailable(
        fmt::format("declaring exchange {} failed: {}", options_.results_exchange, describe_reply(reply)));
  }

  auto declare = [this](const std::string& queue, amqp_table_t arguments) -> Status {
    amqp_queue_declare(connection_, kChannel, bytes_of(queue), 0, /*durable=*/1, 0, 0, arguments);
    if (auto reply = amqp_get_rpc_reply(connection_); reply.reply_type != AMQP_RESPONSE_NORMAL) {
      return Error::unavailable(fmt::format(
          "declaring queue {} failed: {} (a queue declared earlier with other arguments must be deleted first)",
          queue, describe_reply(reply)));
    }
    return Status::Ok();
  };
  if (Status s = declare(dead_queue, amqp_empty_table); !s.ok()) return s;

  HeaderBuilder task_arguments;
  task_arguments.add_string("x-dead-letter-exchange", "");
  task_arguments.add_string("x-dead-letter-routing-key", dead_queue);
  if (Status s = declare(options_.queue, task_arguments.table()); !s.ok()) return s;

  HeaderBuilder retry_arguments;
  retry_arguments.add_integer("x-message-ttl", options_.retry_delay_ms);
  retry_arguments.add_string("x-dead-letter-exchange", "");
  retry_arguments.add_string("x-dead-letter-routing-key", options_.queue);
  return declare(retry_queue, retry_arguments.table());
}

Status AmqpConnectionLoop::serve() {
  for (;;) {
    // Finished runs first: their results free prefetch slots.
    for (auto& delivery : inbox_->take()) {
      if (Status s = on_run_finished(delivery); !s.ok()) return s;
    }

    const auto now = Clock::now();
    for (size_t i = 0; i < deferred_.size();) {
      if (deferred_[i].first <= now) {
        auto delivery = std::move(deferred_[i].second);
        deferred_.erase(deferred_.begin() + static_cast<std::ptrdiff_t>(i));
        if (Status s = run_job(delivery); !s.ok()) return s;
      } else {
        ++i;
      }
    }

    if (draining_.load()) {
      if (consuming_ && !cancel_sent_) {
        amqp_basic_cancel_t cancel{bytes_of(consumer_tag_), 0};
        if (Status s = check_library(amqp_send_method(connection_, kChannel, AMQP_BASIC_CANCEL_METHOD, &cancel),
                                     "basic.cancel");
            !s.ok()) {
          return s;
        }
        cancel_sent_ = true;
      }
      if (running_.empty() && unconfirmed_.empty()) return Status::Ok();
      const auto deadline = drain_deadline();
      if (now >= deadline && !runs_cancelled_) {
        spdlog::warn("event=amqp.grace_expired connection={} in_flight={}", index_, running_.size());
        for (auto& [tag, delivery] : running_) {
          if (delivery->context) delivery->context->cancel(TaskContext::CancelReason::kShutdown);
        }
        runs_cancelled_ = true;
      }
      if (runs_cancelled_ && now >= deadline + kCancelledRunsWait) {
        // Closing the connection returns the messages still unacknowledged.
        return Status::Ok();
      }
    }

    if (Status s = read_frames(); !s.ok()) return s;
    if (amqp_frames_enqueued(connection_) || amqp_data_in_buffer(connection_)) continue;

    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kIdlePoll);
    for (const auto& [due, delivery] : deferred_) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()));
    }
    if (draining_.load()) wait = std::min(wait, std::chrono::milliseconds(50));
    pollfd fds[2] = {{amqp_get_sockfd(connection_), POLLIN, 0}, {inbox_->wake_fd, POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
  }
}

Status AmqpConnectionLoop::read_frames() {
  for (int i = 0; i < kFramesPerTurn; ++i) {
    amqp_frame_t frame;
    timeval immediately{0, 0};
    const int status = amqp_simple_wait_frame_noblock(connection_, &frame, &immediately);
    if (status == AMQP_STATUS_TIMEOUT) return Status::Ok();
    if (status != AMQP_STATUS_OK) return check_library(status, "reading from the broker");
    Status handled = dispatch(frame);
    amqp_maybe_release_buffers(connection_);
    if (!handled.ok()) return handled;
  }
  return Status::Ok();
}

// librabbitmq-c 0.11 has no call that waits for publisher confirms, and a
// channel that consumes receives deliveries between them anyway, so every
// frame is read here: basic.deliver / basic.return open a content (a header
// frame, then body frames up to the header's body size), basic.ack /
// basic.nack from the broker confirm publishes by sequence number (with
// `multiple`, every sequence number up to the tag).
Status AmqpConnectionLoop::dispatch(const amqp_frame_t& frame) {
  if (frame.channel != 0 && frame.channel != kChannel) return Status::Ok();
  switch (frame.frame_type) {
    case AMQP_FRAME_METHOD: {
      const amqp_method_t& method = frame.payload.method;
      spdlog::trace("event=amqp.frame connection={} channel={} method={:#x}", index_, frame.channel, method.id);
      switch (method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
          const auto* deliver = static_cast<const amqp_basic_deliver_t*>(method.decoded);
          incoming_ = std::make_shared<Delivery>();
          incoming_->generation = generation_;
          incoming_->delivery_tag = deliver->delivery_tag;
          incoming_->redelivered = deliver->redelivered != 0;
          incoming_kind_ = Incoming::kDelivery;
          return Status::Ok();
        }
        case AMQP_BASIC_RETURN_METHOD: {
          const auto* returned = static_cast<const amqp_basic_return_t*>(method.decoded);
          incoming_ = std::make_shared<Delivery>();
          incoming_kind_ = Incoming::kReturn;
          returned_reply_text_ = fmt::format("{} {} (exchange {}, routing key {})", returned->reply_code,
                                             text_of(returned->reply_text), text_of(returned->exchange),
                                             text_of(returned->routing_key));
          return Status::Ok();
        }
        case AMQP_BASIC_ACK_METHOD: {
          const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
          return on_confirm(ack->delivery_tag, ack->multiple != 0, true);
        }
        case AMQP_BASIC_NACK_METHOD: {
          const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
          return on_confirm(nack->delivery_tag, nack->multiple != 0, false);
        }
        case AMQP_BASIC_CANCEL_OK_METHOD:
          consuming_ = false;
          return Status::Ok();
        case AMQP_BASIC_CANCEL_METHOD:
          return Error::unavailable(fmt::format("the broker cancelled the consumer on {} (queue deleted?)",
                                                options_.queue));
        case AMQP_CHANNEL_CLOSE_METHOD: {
          const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
          return Error::unavailable(
              fmt::format("channel closed by the broker: {} {}", close->reply_code, text_of(close->reply_text)));
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
          Error error = Error::unavailable(
              fmt::format("connection closed by the broker: {} {}", close->reply_code, text_of(close->reply_text)));
          amqp_connection_close_ok_t close_ok{};
          amqp_send_method(connection_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
          return error;
        }
        default:
          return Status::Ok();
      }
    }
    case AMQP_FRAME_HEADER: {
      if (!incoming_) return Status::Ok();
      incoming_->body_size = frame.payload.properties.body_size;
      const auto* properties = static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
      if (properties != nullptr) clone_properties(*properties, &incoming_->properties, &incoming_->pool);
      if (incoming_->body_size > options_.max_message_bytes) {
        incoming_->oversized = true;
      } else {
        incoming_->body.reserve(incoming_->body_size);
      }
      if (incoming_->body_size == 0) return on_content_complete();
      return Status::Ok();
    }
    case AMQP_FRAME_BODY: {
      if (!incoming_) return Status::Ok();
      const amqp_bytes_t& fragment = frame.payload.body_fragment;
      if (!incoming_->oversized) incoming_->body.append(static_cast<const char*>(fragment.bytes), fragment.len);
      incoming_->body_size -= std::min<uint64_t>(incoming_->body_size, fragment.len);
      if (incoming_->body_size == 0) return on_content_complete();
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

Status AmqpConnectionLoop::on_content_complete() {
  std::shared_ptr<Delivery> delivery = std::move(incoming_);
  const Incoming kind = std::exchange(incoming_kind_, Incoming::kNone);
  if (kind == Incoming::kReturn) {
    metrics_.returned.inc();
    spdlog::warn("event=amqp.result_returned connection={} correlation_id={} message_id={} reason={}", index_,
                 log_value(property_text(delivery->properties, AMQP_BASIC_CORRELATION_ID_FLAG,
                                         delivery->properties.correlation_id)),
                 log_value(property_text(delivery->properties, AMQP_BASIC_MESSAGE_ID_FLAG,
                                         delivery->properties.message_id)),
                 log_value(returned_reply_text_));
    return Status::Ok();
  }
  return on_delivery(std::move(delivery));
}

Status AmqpConnectionLoop::on_delivery(std::shared_ptr<Delivery> delivery) {
  if (delivery->redelivered) metrics_.redeliveries.inc();
  const uint64_t tag = delivery->delivery_tag;

  // A body over the bound was not kept, so it cannot be copied to the
  // dead-letter queue by a publish; rejecting it lets the broker dead-letter
  // it there (the queue's x-dead-letter-routing-key).
  if (delivery->oversized) {
    spdlog::warn("event=amqp.message_rejected connection={} delivery_tag={} reason=too_large bound_bytes={}", index_,
                 tag, options_.max_message_bytes);
    metrics_.messages("(none)", "rejected").inc();
    metrics_.dead_lettered("MESSAGE_TOO_LARGE").inc();
    return check_library(amqp_basic_reject(connection_, kChannel, tag, /*requeue=*/0), "basic.reject");
  }

  metrics_.in_flight.fetch_add(1);
  running_[tag] = delivery;
  // Messages that arrive while the consumer is being cancelled go back at once.
  if (draining_.load()) return give_back(delivery, /*ran=*/false);

  auto envelope = parse_job_envelope(delivery->properties);
  if (!envelope.ok()) return reject_to_dead_letter(delivery, envelope.error());
  delivery->envelope = std::move(envelope.value());

  delivery->task = registry_.find(delivery->envelope.task);
  if (delivery->task == nullptr) return reject_to_dead_letter(delivery, unknown_task_error(delivery->envelope.task));

  auto request = decode_job_request(*delivery->task, delivery->body, delivery->envelope.format);
  if (!request.ok()) return reject_to_dead_letter(delivery, request.error());
  delivery->request = std::move(request.value());
  delivery->response.reset(delivery->task->response_prototype->New());
  if (delivery->redelivered) return on_interrupted(delivery);
  return run_job(delivery);
}

// The broker sets `redelivered` on a message it delivered before without
// getting an ack: the daemon that held it crashed or was killed, or lost its
// connection, while the message waited, ran or waited for confirms. That
// counts as an attempt, so a message that crashes the daemon every time it
// runs ends in the dead-letter queue instead of crashing it forever. The
// flag is only a boolean, so the count travels in the attempt header of a
// copy. With attempts left, a copy with attempt + 1 and
// x-heavylift-redelivered goes to the retry queue. With none left, a failure
// outcome goes out and a copy goes to the dead-letter queue. The original is
// acked only once the broker confirmed the copies, and the message does not
// run in this delivery.
Status AmqpConnectionLoop::on_interrupted(const std::shared_ptr<Delivery>& delivery) {
  const JobEnvelope& envelope = delivery->envelope;
  const bool attempts_left = envelope.attempt < options_.max_attempts;
  Error error = Error::internal(fmt::format(
      "attempt {} of {} was interrupted: the daemon stopped or lost its broker connection before the "
      "message was settled",
      envelope.attempt, options_.max_attempts));
  error.reason = "ATTEMPT_INTERRUPTED";
  delivery->status = error;
  spdlog::warn("event=amqp.attempt_interrupted job_id={} task={} attempt={} max_attempts={} action={}{}",
               log_value(delivery->job_id()), log_value(delivery->task_label()), envelope.attempt,
               options_.max_attempts, attempts_left ? "retry" : "dead_letter", trace_field(envelope));
  if (attempts_left) {
    delivery->outcome = "retried";
    metrics_.retries(delivery->task_label()).inc();
    return publish_retry(delivery, /*interrupted=*/true);
  }
  delivery->outcome = "dead_lettered";
  if (Status s = publish_outcome(delivery); !s.ok()) return s;
  return publish_dead_letter(delivery, "MAX_ATTEMPTS");
}

// Returns a message the worker will not run (it is shutting down) to the
// task queue without using up an attempt. A basic.reject with requeue would
// bring it back with the redelivered flag, which counts as an interrupted
// attempt, so the worker publishes a copy instead and acks the original once
// the broker confirmed the copy. A message that already carries the flag is
// rejected with requeue: the next worker counts that interruption once.
// `ran`: the task started, so the copy carries x-heavylift-redelivered (the
// task may run twice).
Status AmqpConnectionLoop::give_back(const std::shared_ptr<Delivery>& delivery, bool ran) {
  delivery->outcome = "requeued";
  if (delivery->redelivered) {
    running_.erase(delivery->delivery_tag);
    metrics_.in_flight.fetch_sub(1);
    metrics_.messages(delivery->task_label(), "requeued").inc();
    return check_library(amqp_basic_reject(connection_, kChannel, delivery->delivery_tag, /*requeue=*/1),
                         "basic.reject");
  }
  if (!ran) return publish(delivery, "", options_.queue, false, delivery->properties, delivery->body);
  HeaderBuilder headers;
  headers.copy_from(delivery->properties.headers, {kRedeliveredHeader});
  headers.add_boolean(kRedeliveredHeader, true);
  amqp_basic_properties_t properties = delivery->properties;
  properties._flags |= AMQP_BASIC_HEADERS_FLAG;
  properties.headers = headers.table();
  return publish(delivery, "", options_.queue, false, properties, delivery->body);
}

Status AmqpConnectionLoop::run_job(const std::shared_ptr<Delivery>& delivery) {
  delivery->context = std::make_shared<TaskContext>(
      delivery->job_id(), Clock::now() + std::chrono::milliseconds(options_.job_timeout_ms));
  delivery->context->set_attempt(delivery->envelope.attempt);
  delivery->context->set_trace_id(delivery->envelope.trace_id);
  delivery->rejected_by_executor = false;
  std::shared_ptr<Inbox> inbox = inbox_;
  const std::thread::id loop_thread = thread_id_;
  runner_.run(*delivery->task, *delivery->request, delivery->response.get(), delivery->context,
              [delivery, inbox, loop_thread](const Status& status) {
                delivery->status = status;
                // The runner calls back on this thread only when the executor
                // rejected the job before it ran.
                delivery->rejected_by_executor = std::this_thread::get_id() == loop_thread;
                inbox->push(delivery);
              });
  return Status::Ok();
}

Status AmqpConnectionLoop::on_run_finished(const std::shared_ptr<Delivery>& delivery) {
  if (delivery->generation != generation_ || running_.count(delivery->delivery_tag) == 0) {
    metrics_.stale_results.inc();
    return Status::Ok();
  }
  const Status& status = delivery->status;

  // A full executor queue is not the message's fault: run it again after the
  // retry hint, without using up an attempt.
  if (delivery->rejected_by_executor && !status.ok() && status.error().code == Code::kResourceExhausted &&
      !draining_.load()) {
    const uint32_t wait_ms = std::max(kMinDeferMs, status.error().retry_after_ms);
    deferred_.emplace_back(Clock::now() + std::chrono::milliseconds(wait_ms), delivery);
    return Status::Ok();
  }

  // A run stopped by the shutdown goes back to the broker for another worker.
  if (!status.ok() && draining_.load() &&
      (status.error().code == Code::kUnavailable || delivery->rejected_by_executor)) {
    return give_back(delivery, /*ran=*/!delivery->rejected_by_executor);
  }

  if (status.ok()) {
    delivery->outcome = "completed";
    return publish_outcome(delivery);
  }

  const Error& error = status.error();
  const bool attempts_left = delivery->envelope.attempt < options_.max_attempts;
  if (!is_permanent_failure(error.code) && attempts_left) {
    spdlog::info("event=amqp.retry_scheduled job_id={} task={} attempt={} max_attempts={} delay_ms={} code={}{}",
                 log_value(delivery->job_id()), log_value(delivery->task_label()), delivery->envelope.attempt,
                 options_.max_attempts, options_.retry_delay_ms, code_name(error.code),
                 trace_field(delivery->envelope));
    delivery->outcome = "retried";
    metrics_.retries(delivery->task_label()).inc();
    return publish_retry(delivery, /*interrupted=*/false);
  }

  const std::string reason = is_permanent_failure(error.code) ? "PERMANENT_FAILURE" : "MAX_ATTEMPTS";
  spdlog::warn("event=amqp.job_failed job_id={} task={} attempt={} code={} dead_reason={}{} message={}",
               log_value(delivery->job_id()), log_value(delivery->task_label()), delivery->envelope.attempt,
               code_name(error.code), reason, trace_field(delivery->envelope), log_value(error.message));
  delivery->outcome = "dead_lettered";
  if (Status s = publish_outcome(delivery); !s.ok()) return s;
  return publish_dead_letter(delivery, reason);
}

Status AmqpConnectionLoop::reject_to_dead_letter(const std::shared_ptr<Delivery>& delivery, const Error& error) {
  delivery->status = error;
  delivery->outcome = "dead_lettered";
  const std::string reason = error.reason.empty() ? "UNDECODABLE_MESSAGE" : error.reason;
  spdlog::warn("event=amqp.message_undecodable job_id={} task={} delivery_tag={} reason={} message={}",
               log_value(delivery->job_id()), log_value(delivery->envelope.task), delivery->delivery_tag, reason,
               log_value(error.message));
  // A caller waiting on reply_to hears about it at once instead of timing out.
  if (const std::string reply_to =
          property_text(delivery->properties, AMQP_BASIC_REPLY_TO_FLAG, delivery->properties.reply_to);
      !reply_to.empty()) {
    delivery->envelope.reply_to = reply_to;
    delivery->envelope.correlation_id =
        property_text(delivery->properties, AMQP_BASIC_CORRELATION_ID_FLAG, delivery->properties.correlation_id);
    if (Status s = publish_outcome(delivery); !s.ok()) return s;
  }
  return publish_dead_letter(delivery, reason);
}

Status AmqpConnectionLoop::publish(const std::shared_ptr<Delivery>& delivery, const std::string& exchange,
                                   const std::string& routing_key, bool mandatory,
                                   amqp_basic_properties_t& properties, std::string_view body) {
  const int status = amqp_basic_publish(connection_, kChannel, bytes_of(exchange), bytes_of(routing_key),
                                        mandatory ? 1 : 0, 0, &properties, bytes_of(body));
  if (Status s = check_library(status, "basic.publish"); !s.ok()) return s;
  unconfirmed_[next_publish_seq_++] = delivery;
  ++delivery->pending_confirms;
  metrics_.unconfirmed.fetch_add(1);
  return Status::Ok();
}

Status AmqpConnectionLoop::publish_outcome(const std::shared_ptr<Delivery>& delivery) {
  const JobEnvelope& envelope = delivery->envelope;
  const Status& status = delivery->status;
  HeaderBuilder headers;
  headers.add_string(kTaskHeader, envelope.task);
  headers.add_integer(kAttemptHeader, envelope.attempt);
  headers.add_string(kStatusHeader, status.ok() ? "completed" : "failed");
  // Tells a consumer that this message may have run before (an earlier run
  // was interrupted by a lost or stopped worker), so it may see this result twice.
  headers.add_boolean(kRedeliveredHeader, delivery->redelivered || envelope.redelivered_before);
  std::string body;
  const char* content_type = "application/json";
  if (status.ok() && envelope.format == PayloadFormat::kProtobuf) {
    // A publisher that sent binary protobuf decodes the result with the same
    // generated types.
    body = delivery->response->SerializeAsString();
    content_type = "application/x-protobuf";
  } else if (status.ok()) {
    body = encode_job_result(*delivery->response);
  } else {
    headers.add_string(kErrorHeader, job_failure_reason(status.error()));
    headers.add_string(kErrorCodeHeader, code_name(status.error().code));
    body = error_detail_json(status.error());
  }

  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  properties.content_type = amqp_cstring_bytes(content_type);
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties.headers = headers.table();
  const std::string& correlation_id = envelope.correlation_id.empty() ? envelope.message_id : envelope.correlation_id;
  if (!correlation_id.empty()) {
    properties._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    properties.correlation_id = bytes_of(correlation_id);
  }
  if (!envelope.message_id.empty()) {
    properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    properties.message_id = bytes_of(envelope.message_id);
  }
  // mandatory: an unroutable result comes back as basic.return, counted and
  // logged, instead of vanishing without a trace.
  if (!envelope.reply_to.empty()) return publish(delivery, "", envelope.reply_to, true, properties, body);
  const std::string routing_key = envelope.task.empty() ? "(none)" : envelope.task;
  return publish(delivery, options_.results_exchange, routing_key, true, properties, body);
}

// `interrupted`: the attempt did not end (see on_interrupted); the copy then
// carries x-heavylift-redelivered, which later attempts keep, so the outcome
// marks that the task may have run twice.
Status AmqpConnectionLoop::publish_retry(const std::shared_ptr<Delivery>& delivery, bool interrupted) {
  const Error& error = delivery->status.error();
  HeaderBuilder headers;
  headers.copy_from(delivery->properties.headers,
                    {kAttemptHeader, kErrorHeader, kErrorCodeHeader, interrupted ? kRedeliveredHeader : ""});
  headers.add_integer(kAttemptHeader, delivery->envelope.attempt + 1);
  if (interrupted) headers.add_boolean(kRedeliveredHeader, true);
  headers.add_string(kErrorHeader, job_failure_reason(error));
  headers.add_string(kErrorCodeHeader, code_name(error.code));
  amqp_basic_properties_t properties = delivery->properties;
  properties._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties.headers = headers.table();
  return publish(delivery, "", options_.queue + ".retry", false, properties, delivery->body);
}

Status AmqpConnectionLoop::publish_dead_letter(const std::shared_ptr<Delivery>& delivery, const std::string& reason) {
  const Error& error = delivery->status.error();
  metrics_.dead_lettered(reason).inc();
  HeaderBuilder headers;
  headers.copy_from(delivery->properties.headers,
                    {kDeadReasonHeader, kErrorHeader, kErrorCodeHeader, kErrorDetailHeader});
  headers.add_string(kDeadReasonHeader, reason);
  headers.add_string(kErrorHeader, job_failure_reason(error));
  headers.add_string(kErrorCodeHeader, code_name(error.code));
  headers.add_string(kErrorDetailHeader, error_detail_json(error));
  amqp_basic_properties_t properties = delivery->properties;
  properties._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties.headers = headers.table();
  return publish(delivery, "", options_.queue + ".dead", false, properties, delivery->body);
}

Status AmqpConnectionLoop::on_confirm(uint64_t tag, bool multiple, bool acked) {
  std::vector<std::shared_ptr<Delivery>> confirmed;
  auto take = [&](std::map<uint64_t, std::shared_ptr<Delivery>>::iterator it) {
    confirmed.push_back(std::move(it->second));
    metrics_.unconfirmed.fetch_sub(1);
    return unconfirmed_.erase(it);
  };
  if (multiple) {
    for (auto it = unconfirmed_.begin(); it != unconfirmed_.end() && it->first <= tag;) it = take(it);
  } else if (auto it = unconfirmed_.find(tag); it != unconfirmed_.end()) {
    take(it);
  }
  for (auto& delivery : confirmed) {
    if (!acked) {
      delivery->publish_rejected = true;
      metrics_.publish_nacks.inc();
    }
    if (--delivery->pending_confirms == 0) {
      if (Status s = settle(delivery); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status AmqpConnectionLoop::settle(const std::shared_ptr<Delivery>& delivery) {
  if (running_.erase(delivery->delivery_tag) == 0) return Status::Ok();
  metrics_.in_flight.fetch_sub(1);
  if (delivery->publish_rejected) {
    spdlog::warn("event=amqp.publish_nacked job_id={} task={} action=requeue", log_value(delivery->job_id()),
                 log_value(delivery->task_label()));
    metrics_.messages(delivery->task_label(), "requeued").inc();
    return check_library(amqp_basic_nack(connection_, kChannel, delivery->delivery_tag, 0, /*requeue=*/1),
                         "basic.nack");
  }
  metrics_.messages(delivery->task_label(), delivery->outcome).inc();
  return check_library(amqp_basic_ack(connection_, kChannel, delivery->delivery_tag, 0), "basic.ack");
}

void AmqpConnectionLoop::close_connection(bool clean) {
  if (connection_ == nullptr) return;
  if (clean) {
    const amqp_rpc_reply_t reply = amqp_connection_close(connection_, AMQP_REPLY_SUCCESS);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      spdlog::debug("event=amqp.close_failed connection={} message={}", index_, log_value(describe_reply(reply)));
    }
  }
  amqp_destroy_connection(connection_);
  connection_ = nullptr;
}

void AmqpConnectionLoop::abandon_deliveries() {
  // The broker returns every unacknowledged message of the closed
  // connection to the queue; runs still going are cancelled and their
  // results dropped when they finish (their generation is stale).
  for (auto& [tag, delivery] : running_) {
    if (delivery->context) delivery->context->cancel();
  }
  metrics_.in_flight.fetch_sub(static_cast<int64_t>(running_.size()));
  metrics_.unconfirmed.fetch_sub(static_cast<int64_t>(unconfirmed_.size()));
  running_.clear();
  unconfirmed_.clear();
  deferred_.clear();
  incoming_.reset();
  incoming_kind_ = Incoming::kNone;
}

Status check_amqp_url(const std::string& setting, const std::string& url) {
  if (url.empty()) return Status::Ok();
  auto parsed = parse_broker_url(setting, url);
  if (!parsed.ok()) return parsed.error();
  return Status::Ok();
}

AmqpWorker::AmqpWorker(AmqpOptions options, const TaskRegistry& registry, TaskRunner& runner, Metrics& metrics,
                       uint32_t executor_threads)
    : options_(std::move(options)), registry_(registry), runner_(runner), metrics_(metrics) {
  if (options_.concurrency == 0) options_.concurrency = std::max<uint32_t>(1, executor_threads);
}

AmqpWorker::~AmqpWorker() {
  if (!threads_.empty()) drain(Clock::now());
}

Status AmqpWorker::start() {
  auto broker = parse_broker_url("amqp.url", options_.url);
  if (!broker.ok()) return broker.error();
  worker_metrics_ = std::make_unique<AmqpMetrics>(metrics_);
  for (uint32_t i = 0; i < options_.connections; ++i) {
    loops_.push_back(std::make_unique<AmqpConnectionLoop>(static_cast<int>(i), options_, broker.value(), registry_,
                                                          runner_, *worker_metrics_, options_.concurrency));
  }
  for (auto& loop : loops_) threads_.emplace_back([loop = loop.get()] { loop->run(); });
  spdlog::info("event=amqp.started host={} port={} vhost={} queue={} connections={} concurrency={} max_attempts={} "
               "retry_delay_ms={}",
               log_value(broker.value().host), broker.value().port, log_value(broker.value().vhost),
               log_value(options_.queue), options_.connections, options_.concurrency, options_.max_attempts,
               options_.retry_delay_ms);
  return Status::Ok();
}

void AmqpWorker::drain(Clock::time_point deadline) {
  for (auto& loop : loops_) loop->request_drain(deadline);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace heavylift
