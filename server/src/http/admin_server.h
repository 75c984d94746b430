// The HTTP admin listener: GET /healthz (the process is up), GET /readyz
// (it takes new work; 503 while draining) and GET /metrics (Prometheus text,
// behind a bearer token when tokens are configured), over plain HTTP or
// HTTPS.
//
// Thread-safety: start() and stop() are called from one thread; the server
// runs its own I/O thread in between.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/bearer_tokens.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/tls_server_context.h"

namespace heavylift {

class AdminServer {
 public:
  // `metrics` and `ready` must outlive the server.
  AdminServer(Metrics& metrics, const std::atomic<bool>& ready);
  ~AdminServer();

  // Makes GET /metrics require one of `tokens` as `authorization: Bearer`
  // (401 otherwise). /healthz and /readyz stay open for probes. Call before
  // start(); `tokens` must outlive the server.
  void require_bearer_token(const BearerTokens* tokens);

  // Serves HTTPS with the certificate chain and key in `files`. Either file
  // changing on disk is picked up by the next connection, without a restart.
  // Returns INVALID_ARGUMENT naming the file when it cannot be loaded. Call
  // before start().
  Status use_tls(const TlsServerFiles& files);

  // Binds `address` ("host:port"; port 0 picks one) and starts serving.
  // Returns an error when the address cannot be bound.
  Status start(const std::string& address);

  // The address actually bound, for example "127.0.0.1:9464".
  const std::string& bound_address() const { return bound_address_; }

  // Closes the listener and every connection, then joins the I/O thread.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string bound_address_;
  std::thread thread_;
};

}  // namespace heavylift
