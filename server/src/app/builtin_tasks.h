// Registers the tasks that ship with heavylift.
#pragma once

#include "app/config.h"
#include "core/blob.h"
#include "core/metrics.h"
#include "core/task_registry.h"

namespace heavylift {

// Registers the image tasks, crypto.argon2id.hash and crypto.argon2id.verify
// with the limits in `config`. `blobs` and `metrics` (when not null) must
// outlive the registry.
Status register_builtin_tasks(TaskRegistry& registry, const Config& config, const BlobReader& blobs,
                              Metrics* metrics = nullptr);

}  // namespace heavylift
