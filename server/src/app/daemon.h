// The daemon's lifecycle: start every listener, wait for SIGTERM or SIGINT,
// then drain and stop.
#pragma once

#include "app/config.h"

namespace heavylift {

// Runs the daemon until a termination signal, and returns the process exit
// code: 0 after a clean drain, 1 when start-up failed. SIGTERM and SIGINT
// must be blocked in every thread before this is called (see main).
int run_daemon(const Config& config);

}  // namespace heavylift
