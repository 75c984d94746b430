// Start-up checks of the TLS files named in the configuration, so a wrong
// path or a key that does not match its certificate fails the start with a
// clear message instead of failing every handshake later.
#pragma once

#include <string>

#include "core/error.h"

namespace heavylift {

// Checks that `cert_file` contains at least one PEM certificate, `key_file` a
// PEM private key matching the first certificate, and `client_ca_file`
// (when not empty) at least one PEM certificate. Errors name the setting
// and the file.
Status check_tls_files(const std::string& cert_file, const std::string& key_file,
                       const std::string& client_ca_file);

}  // namespace heavylift
