// Registers the image tasks: image.thumbnail, image.transform,
// image.metadata and image.analyze.
#pragma once

#include "core/blob.h"
#include "core/metrics.h"
#include "core/task_registry.h"
#include "tasks/image/limits.h"

namespace heavylift {

// Registers every image task with `limits`. When `metrics` is not null, each
// INVALID_ARGUMENT a task returns is counted in
// heavylift_image_rejections_total{task, reason}, so every bound (reasons
// TOO_MANY_PIXELS, TOO_MANY_FRAMES, OUTPUT_TOO_LARGE, TOO_LARGE, ...) has a
// series. `blobs` and `metrics` must outlive the registry.
Status register_image_tasks(TaskRegistry& registry, const ImageLimits& limits, const BlobReader& blobs,
                            Metrics* metrics = nullptr);

}  // namespace heavylift
