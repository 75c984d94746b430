// Predictable tasks for testing and benchmarking the transports: a sleep
// (or CPU spin) that honours deadlines, cancellation and progress, a task
// that fails until a given attempt, an echo, and a task that kills the
// daemon. Registered only when the `testing.tasks` setting is on.
#pragma once

#include "core/error.h"
#include "core/task_context.h"
#include "core/task_registry.h"
#include "heavylift/v1/testing.pb.h"

namespace heavylift {

// Maximum duration testing.sleep accepts, in milliseconds.
inline constexpr uint32_t kMaxSleepMs = 3'600'000;

// Runs for request.duration_ms (sleeping, or spinning when request.busy),
// checking the context every 10 ms and reporting progress every 10%.
// Fails with INVALID_ARGUMENT for a duration over kMaxSleepMs, and with the
// context's error when the deadline passes or the call is cancelled.
Status testing_sleep(const v1::SleepRequest& request, v1::SleepResponse* response, TaskContext& context);

// Fails with request.code and request.message while context.attempt() is
// below request.succeed_on_attempt (always when it is 0), then succeeds.
// Fails with INVALID_ARGUMENT when the code is not a gRPC code name or is OK.
Status testing_fail(const v1::FailRequest& request, v1::FailResponse* response, TaskContext& context);

// Copies the payload into the response.
Status testing_echo(const v1::EchoRequest& request, v1::EchoResponse* response, TaskContext& context);

// Kills the daemon with SIGKILL, as a crash inside a task would, so tests can
// check what happens to a message whose task never returns. Takes an echo
// request and never returns.
Status testing_crash(const v1::EchoRequest& request, v1::EchoResponse* response, TaskContext& context);

// Registers testing.sleep, testing.fail, testing.echo and testing.crash.
Status register_testing_tasks(TaskRegistry& registry);

}  // namespace heavylift
