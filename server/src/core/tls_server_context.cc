#include "core/tls_server_context.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <system_error>

#include "core/logging.h"

namespace heavylift {
namespace {

namespace ssl = boost::asio::ssl;

// The modification time of `path`, or nullopt when it cannot be read.
std::optional<std::filesystem::file_time_type> modified_at(const std::string& path) {
  std::error_code ec;
  const auto time = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return time;
}

// Builds a TLS 1.2+ server context from PEM files. Errors name the file.
Result<std::shared_ptr<ssl::context>> build_context(const TlsServerFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    return Error::invalid("tls.cert_file", "TLS_FILE_UNREADABLE",
                          fmt::format("cannot load the certificate chain {}: {}", files.cert_file, ec.message()));
  }
  context->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) {
    return Error::invalid("tls.key_file", "TLS_FILE_UNREADABLE",
                          fmt::format("cannot load the private key {}: {}", files.key_file, ec.message()));
  }
  return context;
}

}  // namespace

Result<std::shared_ptr<TlsServerContext>> TlsServerContext::load(TlsServerFiles files, std::string log_name) {
  auto context = build_context(files);
  if (!context.ok()) return context.error();
  std::shared_ptr<TlsServerContext> loaded(new TlsServerContext(std::move(files), std::move(log_name)));
  loaded->context_ = std::move(context).value();
  loaded->cert_time_ = modified_at(loaded->files_.cert_file);
  loaded->key_time_ = modified_at(loaded->files_.key_file);
  return loaded;
}

std::shared_ptr<ssl::context> TlsServerContext::current() {
  const auto cert_time = modified_at(files_.cert_file);
  const auto key_time = modified_at(files_.key_file);
  std::lock_guard lock(mutex_);
  if (cert_time == cert_time_ && key_time == key_time_) return context_;
  auto loaded = build_context(files_);
  if (!loaded.ok()) {
    spdlog::error("event={}.tls_reload_failed message={}", log_name_, log_value(loaded.error().message));
  } else {
    context_ = std::move(loaded).value();
    spdlog::info("event={}.tls_reloaded cert_file={}", log_name_, log_value(files_.cert_file));
  }
  // The times are kept either way, so a broken file is not loaded again for every connection.
  cert_time_ = cert_time;
  key_time_ = key_time;
  return context_;
}

}  // namespace heavylift
