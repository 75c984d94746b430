#include "app/builtin_tasks.h"

#include "tasks/crypto/argon2.h"
#include "tasks/files/file_tasks.h"
#include "tasks/image/image_tasks.h"
#include "tasks/testing/testing_tasks.h"

namespace heavylift {

Status register_builtin_tasks(TaskRegistry& registry, const Config& config, const BlobReader& blobs,
                              Metrics* metrics) {
  const ImageLimits image_limits = config.image;
  const Argon2Limits argon2_limits = config.argon2;

  if (config.testing_tasks) {
    if (Status s = register_testing_tasks(registry); !s.ok()) return s;
  }

  Status status = register_image_tasks(registry, image_limits, blobs, metrics);
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
