// Registers the tasks that ship with heavylift.
#pragma once

#include "app/config.h"
#include "core/blob.h"
#include "core/task_registry.h"

namespace heavylift {

// Registers image.thumbnail, crypto.argon2id.hash and crypto.argon2id.verify
// with the limits in `config`. `blobs` must outlive the registry.
Status register_builtin_tasks(TaskRegistry& registry, const Config& config, const BlobReader& blobs);

}  // namespace heavylift
