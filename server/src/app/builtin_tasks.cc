#include "app/builtin_tasks.h"

#include "tasks/crypto/argon2.h"
#include "tasks/files/file_tasks.h"
#include "tasks/image/thumbnail.h"

namespace heavylift {

Status register_builtin_tasks(TaskRegistry& registry, const Config& config, const BlobReader& blobs) {
  const ImageLimits image_limits = config.image;
  const Argon2Limits argon2_limits = config.argon2;

  Status status = registry.add<v1::ThumbnailRequest, v1::ThumbnailResponse>(
      "image.thumbnail",
      [image_limits, &blobs](const v1::ThumbnailRequest& request, v1::ThumbnailResponse* response,
                             TaskContext& context) {
        return thumbnail(request, response, context, image_limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::Argon2idHashRequest, v1::Argon2idHashResponse>(
      "crypto.argon2id.hash",
      [argon2_limits](const v1::Argon2idHashRequest& request, v1::Argon2idHashResponse* response,
                      TaskContext& context) {
        return argon2id_hash(request, response, context, argon2_limits);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::Argon2idVerifyRequest, v1::Argon2idVerifyResponse>(
      "crypto.argon2id.verify",
      [argon2_limits](const v1::Argon2idVerifyRequest& request, v1::Argon2idVerifyResponse* response,
                      TaskContext& context) {
        return argon2id_verify(request, response, context, argon2_limits);
      });
  if (!status.ok()) return status;

  return register_files_tasks(registry, config.files, blobs);
}

}  // namespace heavylift
