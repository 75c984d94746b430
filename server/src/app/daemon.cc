#include "app/daemon.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <vips/vips8>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <thread>

#include "app/builtin_tasks.h"
#include "app/custom_tasks.h"
#include "app/tls_files.h"
#include "core/bearer_tokens.h"
#include "core/blob.h"
#include "core/executor.h"
#include "core/host_port.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/process_metrics.h"
#include "core/task_registry.h"
#include "core/task_runner.h"
#include "grpc/aggregate_service.h"
#include "grpc/file_service.h"
#include "grpc/realtime_service.h"
#include "grpc/services.h"
#include "grpc/task_service.h"
#include "http/admin_server.h"
#include "jobs/amqp/amqp_worker.h"
#include "jobs/redis_bullmq/worker.h"
#include "realtime/jwt_verifier.h"
#include "realtime/socketio_server.h"
#include "tasks/crypto/argon2.h"
#include "tasks/crypto/crypto_tasks.h"
#include "tasks/image/vips_support.h"

namespace heavylift {
namespace {

// How long calls cancelled at the end of the grace period may take to stop.
constexpr auto kCancelledCallsWait = std::chrono::seconds(1);

// How long the gRPC server then waits for calls still open before it cancels
// them itself. Such calls are slow cancelled calls and requests still arriving.
constexpr auto kOpenCallsWait = std::chrono::seconds(5);

// Headroom above the largest input for the rest of a request message.
constexpr int kMessageOverheadBytes = 1 << 20;

// Waits until `dispatcher` has no call in flight or `deadline` passes.
void wait_until_idle(const TaskCallDispatcher& dispatcher, const StreamCallTracker& streams,
                     std::chrono::steady_clock::time_point deadline) {
  while (dispatcher.in_flight() + streams.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Waits for SIGTERM or SIGINT, which the caller has blocked, and returns it.
int wait_for_termination_signal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  return received;
}

// Sends libvips' GLib warnings (one per corrupt tile, for example) to the
// structured log at debug level instead of raw lines on stderr.
void log_vips_message(const gchar* /*domain*/, GLogLevelFlags level, const gchar* message,
                      gpointer /*user_data*/) {
  const bool severe = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0;
  spdlog::log(severe ? spdlog::level::err : spdlog::level::debug, "event=vips.message message={}",
              log_value(message != nullptr ? message : ""));
}

// Returns TLS credentials that re-read the certificate files every
// tls.reload_interval_s seconds, with client certificates required and
// verified when tls.client_ca_file is set; or plaintext credentials.
std::shared_ptr<grpc::ServerCredentials> grpc_server_credentials(const Config& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.tls_key_file, config.tls_cert_file, config.tls_client_ca_file, config.tls_reload_interval_s);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (config.tls_client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

// Runs `reload_more` (the AEAD key file) and re-reads the token file on
// every SIGHUP, which the caller has blocked. Runs until the process exits.
// A failed reload keeps the previous tokens or keys.
void reload_on_sighup(BearerTokens& tokens, const std::function<void()>& reload_more) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    reload_more();
    if (!tokens.enabled()) {
      spdlog::info("event=config.reload_skipped reason=no_token_file");
      continue;
    }
    if (Status s = tokens.reload(); !s.ok()) {
      spdlog::error("event=auth.tokens_reload_failed file={} jwt_key_file={} message={}", log_value(tokens.file()),
                    log_value(tokens.jwt_key_file()), log_value(s.error().message));
    } else {
      spdlog::info("event=auth.tokens_reloaded file={} jwt_key_file={}", log_value(tokens.file()),
                   log_value(tokens.jwt_key_file()));
    }
  }
}

// Logs a warning for each listener that security.allow_insecure lets run
// on a remote address without TLS or a token, and for bearer tokens that a
// remote gRPC listener without TLS receives in plain text.
void warn_about_insecure_listeners(const Config& config) {
  const bool has_token = !config.auth_token_file.empty() || !config.auth_jwt_key_file.empty();
  if (!is_default_loopback(config.grpc_address) && config.tls_cert_file.empty() && has_token) {
    spdlog::warn("event=server.insecure_listener listener=grpc address={} message={}", log_value(config.grpc_address),
                 log_value("bearer tokens arrive in plain text without TLS; set --tls-cert-file and --tls-key-file"));
  }
  if (!is_default_loopback(config.http_address) && !config.http_tls && has_token) {
    spdlog::warn("event=server.insecure_listener listener=http address={} message={}", log_value(config.http_address),
                 log_value("bearer tokens for /metrics arrive in plain text without TLS; set --http-tls true"));
  }
  if (!config.allow_insecure) return;
  if (!is_default_loopback(config.grpc_address) && config.tls_cert_file.empty() && !has_token) {
    spdlog::warn("event=server.insecure_listener listener=grpc address={} message={}", log_value(config.grpc_address),
                 log_value("no TLS and no token: anyone who can reach this address can run tasks"));
  }
  if (!is_default_loopback(config.http_address) && !has_token) {
    spdlog::warn("event=server.insecure_listener listener=http address={} message={}", log_value(config.http_address),
                 log_value("no token: anyone who can reach this address can read /metrics"));
  }
  if (!config.realtime.address.empty() && !is_default_loopback(config.realtime.address) && !config.realtime_tls) {
    spdlog::warn("event=server.insecure_listener listener=realtime address={} message={}",
                 log_value(config.realtime.address),
                 log_value("no TLS: clients' JWTs and messages travel in plain text unless a TLS proxy is in front"));
  }
}

// Builds and starts the gRPC server for `services` and the standard health
// service on config.grpc_address, storing the bound port in `*port`.
// Returns nullptr, or a server with *port 0, when the address cannot be bound.
std::unique_ptr<grpc::Server> start_grpc_server(const Config& config, std::initializer_list<grpc::Service*> services,
                                                int* port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.grpc_address, grpc_server_credentials(config), port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  const uint64_t max_message =
      std::max({config.image.max_input_bytes, uint64_t{config.image.max_stream_chunk_bytes},
                config.files.max_input_bytes, uint64_t{config.files.max_chunk_bytes}}) +
      kMessageOverheadBytes;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(std::min<uint32_t>(config.grpc_max_concurrent_streams, INT32_MAX)));
  builder.SetMaxReceiveMessageSize(max_message > INT32_MAX ? INT32_MAX : static_cast<int>(max_message));
  return builder.BuildAndStart();
}

// Lets in-flight calls finish within the grace period, cancels the rest,
// then stops `server`. Readiness and health must already be off.
void drain(const Config& config, TaskCallDispatcher& dispatcher, StreamCallTracker& streams, Executor& executor,
           grpc::Server& server) {
  // While draining, the server keeps accepting calls, so requests still
  // arriving get UNAVAILABLE from the dispatcher and callers may retry them
  // elsewhere. In-flight calls run until none is left or the grace period
  // ends.
  const auto grace_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.shutdown_grace_ms);
  wait_until_idle(dispatcher, streams, grace_deadline);

  // At the grace deadline, the remaining calls are cancelled with reason
  // shutdown: queued ones are rejected at once, running ones stop at their
  // next safe point, and each caller gets UNAVAILABLE. They get up to
  // kCancelledCallsWait to do so before the listener closes.
  if (dispatcher.in_flight() + streams.in_flight() > 0) {
    spdlog::warn("event=server.grace_expired in_flight={} streams_in_flight={} queued={}", dispatcher.in_flight(),
                 streams.in_flight(), executor.queue_depth());
    dispatcher.cancel_all(TaskContext::CancelReason::kShutdown);
    streams.cancel_all(TaskContext::CancelReason::kShutdown);
    executor.reject_expired();
    wait_until_idle(dispatcher, streams, std::chrono::steady_clock::now() + kCancelledCallsWait);
  }

  // Shutdown rejects new calls at once. A cancelled call that has not
  // stopped yet gets up to kOpenCallsWait to finish. Shutdown returns as soon
  // as no call is open.
  // NOTE: gRPC cancels a call still open after kOpenCallsWait. It also drops
  // a unary call whose request was still arriving when Shutdown began (seen
  // with 15 concurrent 4K photos under load). Either caller sees CANCELLED
  // without an ErrorDetail, which the Node SDK reports as UnavailableError
  // with reason CALL_DROPPED.
  server.Shutdown(std::chrono::system_clock::now() + kOpenCallsWait);
}

}  // namespace

int run_daemon(const Config& config) {
  if (VIPS_INIT("heavylift") != 0) {
    spdlog::critical("event=server.start_failed reason=libvips_init message={}", log_value(vips_error_buffer()));
    return 1;
  }
  configure_vips_for_untrusted_input(config.image.allow_untrusted_loaders);
  g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION),
                    log_vips_message, nullptr);
  if (!argon2_init()) {
    spdlog::critical("event=server.start_failed reason=libsodium_init");
    return 1;
  }

  Metrics metrics;
  register_process_metrics(metrics);
  metrics.gauge("heavylift_build_info", "Always 1; the labels name the running build.",
                {{"version", HEAVYLIFT_VERSION}})
      .set(1);
  Executor executor({config.executor_threads, config.executor_queue_capacity}, metrics);
  BlobReader blobs(config.blob_root);
  if (Status s = blobs.check_root(); !s.ok()) {
    spdlog::critical("event=server.start_failed reason=blob_root message={}", log_value(s.error().message));
    return 1;
  }
  if (!config.tls_cert_file.empty()) {
    if (Status s = check_tls_files(config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file); !s.ok()) {
      spdlog::critical("event=server.start_failed reason=tls message={}", log_value(s.error().message));
      return 1;
    }
  }
  BearerTokens tokens(config.auth_token_file,
                      JwtBearerSettings{config.auth_jwt_key_file, config.auth_jwt_audience, config.auth_jwt_issuer});
  if (Status s = tokens.reload(); !s.ok()) {
    spdlog::critical("event=server.start_failed reason=auth message={}", log_value(s.error().message));
    return 1;
  }
  warn_about_insecure_listeners(config);

  TaskRegistry registry;
  if (Status s = register_builtin_tasks(registry, config, blobs, &metrics); !s.ok()) {
    spdlog::critical("event=server.start_failed message={}", log_value(s.error().message));
    return 1;
  }
  auto crypto_keys = load_crypto_keys(config.crypto);
  if (!crypto_keys.ok()) {
    spdlog::critical("event=server.start_failed reason=crypto_keys message={}", log_value(crypto_keys.error().message));
    return 1;
  }
  if (Status s = register_crypto_tasks(registry, config.crypto, config.argon2, crypto_keys.value(), &metrics); !s.ok()) {
    spdlog::critical("event=server.start_failed message={}", log_value(s.error().message));
    return 1;
  }
  std::thread(reload_on_sighup, std::ref(tokens), [keys = crypto_keys.value(), crypto = config.crypto] {
    if (!crypto.aead_key_file.empty()) (void)reload_aead_keys(crypto, *keys);
  }).detach();
  if (Status s = register_aggregate_tasks(registry, config.aggregate, metrics); !s.ok()) {
    spdlog::critical("event=server.start_failed reason=schema message={}", log_value(s.error().message));
    return 1;
  }
  if (Status s = register_custom_tasks(registry, config); !s.ok()) {
    spdlog::critical("event=server.start_failed reason=custom_tasks message={}", log_value(s.error().message));
    return 1;
  }
  TaskRunner runner(executor, metrics);
  for (const std::string& name : registry.names()) runner.declare_metrics(*registry.find(name));

  std::atomic<bool> draining{false};
  std::atomic<bool> ready{false};
  TaskCallDispatcher dispatcher(registry, runner, draining);
  if (tokens.enabled()) dispatcher.set_bearer_tokens(&tokens);
  metrics.gauge_callback("heavylift_grpc_calls_in_flight", "gRPC calls dispatched and not yet done.",
                         [&dispatcher] { return static_cast<double>(dispatcher.in_flight()); });
  StreamCallTracker streams(executor, metrics, draining);
  streams.set_authenticator(
      [&dispatcher](const grpc::CallbackServerContext& context) { return dispatcher.authenticate(context); });
  ImageServiceImpl image_service(dispatcher, streams, config.image, blobs);
  CryptoServiceImpl crypto_service(dispatcher);
  TestingServiceImpl testing_service(dispatcher);
  TaskServiceImpl task_service(dispatcher);
  FileServiceImpl file_service(dispatcher, streams, config.files, config.blob_root);

  // The real-time hub, when realtime.address is set, listens before gRPC so
  // that RealtimeService always has a running hub behind it.
  std::unique_ptr<realtime::SocketIoServer> realtime_server;
  if (!config.realtime.address.empty()) {
    Result<realtime::TokenVerifier> verifier = realtime::load_jwt_verifier(config.realtime);
    if (!verifier.ok()) {
      spdlog::critical("event=server.start_failed reason=realtime_jwt_key message={}",
                       log_value(verifier.error().message));
      return 1;
    }
    realtime_server = std::make_unique<realtime::SocketIoServer>(config.realtime, verifier.value(), metrics);
    if (config.realtime_tls) {
      if (Status s = realtime_server->use_tls({config.tls_cert_file, config.tls_key_file}); !s.ok()) {
        spdlog::critical("event=server.start_failed reason=realtime_tls message={}", log_value(s.error().message));
        return 1;
      }
    }
    if (Status s = realtime_server->start(); !s.ok()) {
      spdlog::critical("event=server.start_failed reason=realtime_bind message={}", log_value(s.error().message));
      return 1;
    }
    spdlog::info("event=realtime.listening address={} namespaces={} max_connections={}",
                 realtime_server->bound_address(), log_value(config.realtime.namespaces),
                 config.realtime.max_connections);
  }
  RealtimeServiceImpl realtime_service(dispatcher, realtime_server ? &realtime_server->hub() : nullptr,
                                       realtime_server ? realtime_server->redis_bridge() : nullptr);
  AggregateServiceImpl aggregate_service(dispatcher, streams, realtime_server ? &realtime_server->hub() : nullptr);

  int grpc_port = 0;
  std::unique_ptr<grpc::Server> server =
      start_grpc_server(config,
                        {&image_service, &crypto_service, &testing_service, &realtime_service, &aggregate_service,
                         &file_service, &task_service},
                        &grpc_port);
  if (!server || grpc_port == 0) {
    spdlog::critical("event=server.start_failed reason=grpc_bind address={}", log_value(config.grpc_address));
    return 1;
  }
  auto* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const char* service : {"heavylift.v1.ImageService", "heavylift.v1.CryptoService",
                              "heavylift.v1.RealtimeService", "heavylift.v1.TestingService",
                              "heavylift.v1.AggregateService", "heavylift.v1.FileService",
                              "heavylift.v1.TaskService"}) {
    health->SetServingStatus(service, true);
  }

  AdminServer admin(metrics, ready);
  if (tokens.enabled()) admin.require_bearer_token(&tokens);
  if (config.http_tls) {
    if (Status s = admin.use_tls({config.tls_cert_file, config.tls_key_file}); !s.ok()) {
      spdlog::critical("event=server.start_failed reason=http_tls message={}", log_value(s.error().message));
      server->Shutdown();
      return 1;
    }
  }
  if (Status s = admin.start(config.http_address); !s.ok()) {
    spdlog::critical("event=server.start_failed reason=http_bind message={}", log_value(s.error().message));
    server->Shutdown();
    return 1;
  }

  // The BullMQ worker, when a Redis URL is configured.
  std::unique_ptr<BullmqWorker> bullmq;
  if (!config.bullmq.redis_url.empty()) {
    bullmq = std::make_unique<BullmqWorker>(config.bullmq, registry, runner, executor.threads(), metrics);
    if (Status s = bullmq->start(); !s.ok()) {
      spdlog::critical("event=server.start_failed reason=bullmq message={}", log_value(s.error().message));
      admin.stop();
      server->Shutdown();
      return 1;
    }
  }

  // The AMQP worker, when a broker is configured. It connects in the
  // background and keeps retrying, so a broker that is down does not stop
  // the daemon from serving gRPC.
  std::unique_ptr<AmqpWorker> amqp_worker;
  if (!config.amqp.url.empty()) {
    amqp_worker = std::make_unique<AmqpWorker>(config.amqp, registry, runner, metrics, executor.threads());
    if (Status s = amqp_worker->start(); !s.ok()) {
      spdlog::critical("event=server.start_failed reason=amqp message={}", log_value(s.error().message));
      admin.stop();
      server->Shutdown();
      return 1;
    }
  }

  // The configured host with the port gRPC bound, which differs when it was 0.
  const std::string grpc_address =
      join_host_port(split_host_port(config.grpc_address).value_or(HostPort{}).host, std::to_string(grpc_port));
  ready.store(true);
  spdlog::info("event=server.listening version={} grpc_address={} http_address={} executor_threads={} "
               "queue_capacity={} blob_root={} tls={} mtls={} token_auth={} pid={}",
               HEAVYLIFT_VERSION, grpc_address, admin.bound_address(), executor.threads(),
               config.executor_queue_capacity, log_value(config.blob_root), !config.tls_cert_file.empty(),
               !config.tls_client_ca_file.empty(), tokens.enabled(), ::getpid());

  const int signal_number = wait_for_termination_signal();
  spdlog::info("event=server.draining signal={} grace_ms={}", strsignal(signal_number), config.shutdown_grace_ms);
  ready.store(false);
  draining.store(true);
  health->SetServingStatus(false);

  // A second signal during the drain stops the process at once.
  std::thread([] {
    const int second = wait_for_termination_signal();
    spdlog::warn("event=server.forced_exit signal={}", strsignal(second));
    spdlog::default_logger()->flush();
    _exit(1);
  }).detach();

  const auto started = std::chrono::steady_clock::now();
  std::thread bullmq_drain;
  if (bullmq) {
    const auto grace_deadline = started + std::chrono::milliseconds(config.shutdown_grace_ms);
    bullmq_drain = std::thread([&bullmq, grace_deadline] { bullmq->drain(grace_deadline); });
  }
  std::thread amqp_drain;
  if (amqp_worker) {
    const auto grace_deadline = started + std::chrono::milliseconds(config.shutdown_grace_ms);
    amqp_drain = std::thread([&amqp_worker, grace_deadline] { amqp_worker->drain(grace_deadline); });
  }
  // Real-time clients are closed with "going away", so they reconnect to
  // another hub while this one finishes its gRPC calls and jobs.
  if (realtime_server) realtime_server->drain(std::chrono::milliseconds(config.shutdown_grace_ms));
  drain(config, dispatcher, streams, executor, *server);
  if (bullmq_drain.joinable()) bullmq_drain.join();
  if (amqp_drain.joinable()) amqp_drain.join();
  executor.shutdown();
  admin.stop();
  const auto drained_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  spdlog::info("event=server.stopped drain_ms={}", drained_ms);
  spdlog::default_logger()->flush();
  vips_shutdown();
  return 0;
}

}  // namespace heavylift
