#include "app/tls_files.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>

namespace heavylift {
namespace {

struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<FILE, FileCloser>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Error tls_error(const std::string& setting, const std::string& file, const std::string& problem) {
  ERR_clear_error();
  return Error::invalid(setting, "INVALID_TLS_FILE", fmt::format("{} {}: {}", setting, file, problem));
}

Result<Certificate> read_first_certificate(const std::string& setting, const std::string& path) {
  File file(std::fopen(path.c_str(), "r"));
  if (!file) return tls_error(setting, path, "cannot open the file");
  Certificate certificate(PEM_read_X509(file.get(), nullptr, nullptr, nullptr), X509_free);
  if (!certificate) return tls_error(setting, path, "no PEM certificate found");
  return certificate;
}

}  // namespace

Status check_tls_files(const std::string& cert_file, const std::string& key_file,
                       const std::string& client_ca_file) {
  auto certificate = read_first_certificate("tls.cert_file", cert_file);
  if (!certificate.ok()) return certificate.error();

  File key_stream(std::fopen(key_file.c_str(), "r"));
  if (!key_stream) return tls_error("tls.key_file", key_file, "cannot open the file");
  PrivateKey key(PEM_read_PrivateKey(key_stream.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return tls_error("tls.key_file", key_file, "no unencrypted PEM private key found");
  if (X509_check_private_key(certificate.value().get(), key.get()) != 1) {
    return tls_error("tls.key_file", key_file, fmt::format("the key does not match the certificate in {}", cert_file));
  }

  if (!client_ca_file.empty()) {
    auto ca = read_first_certificate("tls.client_ca_file", client_ca_file);
    if (!ca.ok()) return ca.error();
  }
  return Status::Ok();
}

}  // namespace heavylift
