// Registers the image tasks: image.thumbnail, image.transform,
// image.metadata and image.analyze.
#pragma once

#include "core/blob.h"
#include "core/task_registry.h"
#include "tasks/image/limits.h"

namespace heavylift {

// Registers every image task with `limits`. `blobs` must outlive the registry.
Status register_image_tasks(TaskRegistry& registry, const ImageLimits& limits, const BlobReader& blobs);

}  // namespace heavylift
