// A TLS server context loaded from a PEM certificate chain and key, loaded
// again when either file changes on disk. The HTTP admin listener and the
// real-time hub hand current() to each new connection, so a renewed
// certificate takes effect without a restart and without touching open
// connections.
//
// Thread-safety: current() may be called from any thread.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/error.h"

namespace heavylift {

struct TlsServerFiles {
  std::string cert_file;
  std::string key_file;
};

class TlsServerContext {
 public:
  // Loads `files`. Returns INVALID_ARGUMENT naming tls.cert_file or
  // tls.key_file when a file cannot be loaded or the key does not match.
  static Result<std::shared_ptr<TlsServerContext>> load(TlsServerFiles files, std::string log_name);

  // Returns the context for a new connection, first loading the files again
  // when either changed since the last load. A load that fails keeps the
  // previous context and logs `<log_name>.tls_reload_failed`.
  std::shared_ptr<boost::asio::ssl::context> current();

 private:
  TlsServerContext(TlsServerFiles files, std::string log_name) : files_(std::move(files)), log_name_(std::move(log_name)) {}

  const TlsServerFiles files_;
  const std::string log_name_;
  std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::optional<std::filesystem::file_time_type> cert_time_;
  std::optional<std::filesystem::file_time_type> key_time_;
};

}  // namespace heavylift
