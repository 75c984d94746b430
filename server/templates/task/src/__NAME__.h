// Task "__NAME__.run": the starting point of a custom heavylift task.
#pragma once

#include "__NAME__/v1/__NAME__.pb.h"
#include "app/config.h"
#include "core/task_context.h"
#include "core/task_registry.h"

namespace __NAME__ {

// Repeats request.text() request.repeat() times. Fails with INVALID_ARGUMENT
// naming the field and bound when text is over 4096 bytes or repeat is
// outside 1..1000, and with the context's error once the deadline passes.
heavylift::Status run(const v1::RunRequest& request, v1::RunResponse* response, heavylift::TaskContext& context);

// Adds "__NAME__.run" to `registry`. Called once at start-up, before serving.
heavylift::Status register_tasks(heavylift::TaskRegistry& registry, const heavylift::Config& config);

}  // namespace __NAME__
