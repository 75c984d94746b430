#include "tasks/image/image_tasks.h"

#include <functional>

#include "tasks/image/thumbnail.h"
#include "tasks/image/transform.h"

namespace heavylift {
namespace {

constexpr char kRejectionsMetric[] = "heavylift_image_rejections_total";
constexpr char kRejectionsHelp[] = "Image calls rejected with INVALID_ARGUMENT, by task and reason (the bound or check that failed).";

// Registers `run` under `name`, counting its INVALID_ARGUMENT results by reason.
template <typename Request, typename Response>
Status add_counted(TaskRegistry& registry, const std::string& name, Metrics* metrics,
                   std::function<Status(const Request&, Response*, TaskContext&)> run) {
  return registry.add<Request, Response>(
      name, [name, metrics, run = std::move(run)](const Request& request, Response* response, TaskContext& context) {
        Status status = run(request, response, context);
        if (metrics != nullptr && !status.ok() && status.error().code == Code::kInvalidArgument) {
          metrics->counter(kRejectionsMetric, kRejectionsHelp, {{"task", name}, {"reason", status.error().reason}})
              .inc();
        }
        return status;
      });
}

}  // namespace

Status register_image_tasks(TaskRegistry& registry, const ImageLimits& limits, const BlobReader& blobs,
                            Metrics* metrics) {
  Status status = add_counted<v1::ThumbnailRequest, v1::ThumbnailResponse>(
      registry, "image.thumbnail", metrics,
      [limits, &blobs](const v1::ThumbnailRequest& request, v1::ThumbnailResponse* response, TaskContext& context) {
        return thumbnail(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = add_counted<v1::TransformRequest, v1::TransformResponse>(
      registry, "image.transform", metrics,
      [limits, &blobs](const v1::TransformRequest& request, v1::TransformResponse* response, TaskContext& context) {
        return transform(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = add_counted<v1::MetadataRequest, v1::MetadataResponse>(
      registry, "image.metadata", metrics,
      [limits, &blobs](const v1::MetadataRequest& request, v1::MetadataResponse* response, TaskContext& context) {
        return image_metadata(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  return add_counted<v1::AnalyzeRequest, v1::AnalyzeResponse>(
      registry, "image.analyze", metrics,
      [limits, &blobs](const v1::AnalyzeRequest& request, v1::AnalyzeResponse* response, TaskContext& context) {
        return analyze(request, response, context, limits, blobs);
      });
}

}  // namespace heavylift
