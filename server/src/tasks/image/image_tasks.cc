#include "tasks/image/image_tasks.h"

#include "tasks/image/thumbnail.h"
#include "tasks/image/transform.h"

namespace heavylift {

Status register_image_tasks(TaskRegistry& registry, const ImageLimits& limits, const BlobReader& blobs) {
  Status status = registry.add<v1::ThumbnailRequest, v1::ThumbnailResponse>(
      "image.thumbnail", [limits, &blobs](const v1::ThumbnailRequest& request, v1::ThumbnailResponse* response,
                                          TaskContext& context) {
        return thumbnail(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::TransformRequest, v1::TransformResponse>(
      "image.transform", [limits, &blobs](const v1::TransformRequest& request, v1::TransformResponse* response,
                                          TaskContext& context) {
        return transform(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::MetadataRequest, v1::MetadataResponse>(
      "image.metadata", [limits, &blobs](const v1::MetadataRequest& request, v1::MetadataResponse* response,
                                         TaskContext& context) {
        return image_metadata(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  return registry.add<v1::AnalyzeRequest, v1::AnalyzeResponse>(
      "image.analyze", [limits, &blobs](const v1::AnalyzeRequest& request, v1::AnalyzeResponse* response,
                                        TaskContext& context) {
        return analyze(request, response, context, limits, blobs);
      });
}

}  // namespace heavylift
