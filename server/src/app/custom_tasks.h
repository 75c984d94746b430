// The hook through which a custom daemon build adds its own tasks.
#pragma once

#include "app/config.h"
#include "core/task_registry.h"

namespace heavylift {

// Registers the tasks of a custom daemon build, after the built-in ones, with
// the same registry.add<Request, Response>(name, fn) the built-in tasks use.
// The stock daemon links a weak definition that registers nothing. A custom
// build made with heavylift_add_daemon() links a generated strong definition
// that calls each task library's registration function in order. A failing
// status stops the daemon at start-up with its message.
Status register_custom_tasks(TaskRegistry& registry, const Config& config);

}  // namespace heavylift
