// heavylift: the daemon's entry point.
#include <signal.h>

#include <cstdio>
#include <string_view>

#include "app/config.h"
#include "app/daemon.h"
#include "core/logging.h"
#include "store/schema_check.h"

int main(int argc, char** argv) {
  // Block the termination and reload signals before any thread starts, so
  // that every thread inherits the mask and only the sigwait() calls in
  // run_daemon receive them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // `heavylift schema check ...` compares the schema with the Node models and exits.
  if (argc > 1 && std::string_view(argv[1]) == "schema") return heavylift::run_schema_command(argc, argv);

  const auto parsed = heavylift::parse_config(argc, argv, heavylift::process_environment());
  if (parsed.exit_code) {
    std::fputs(parsed.output.c_str(), *parsed.exit_code == 0 ? stdout : stderr);
    return *parsed.exit_code;
  }
  if (!heavylift::configure_logging(parsed.config.log_level)) {
    std::fprintf(stderr, "heavylift: invalid log level %s\n", parsed.config.log_level.c_str());
    return 2;
  }
  return heavylift::run_daemon(parsed.config);
}
