// Registers the file tasks on the task registry, for gRPC and the job
// queues alike:
//   files.digest         DigestRequest -> DigestResponse
//   files.compress       CompressRequest -> CompressResponse
//   files.decompress     DecompressRequest -> DecompressResponse
//   files.profile_csv    ProfileCsvRequest -> ProfileResponse
//   files.profile_ndjson ProfileNdjsonRequest -> ProfileResponse
//   files.csv_to_ndjson  CsvToNdjsonRequest -> CsvToNdjsonResponse
// Inputs are BlobRefs of at most files.max_input_bytes; outputs go inline
// (at most files.max_inline_output_bytes) or to an output_path under the
// blob root. Each task checks its deadline and cancellation between 1 MiB
// slices of input.
#pragma once

#include "core/blob.h"
#include "core/task_registry.h"
#include "tasks/files/limits.h"

namespace heavylift {

// `blobs` must outlive the registry.
Status register_files_tasks(TaskRegistry& registry, const FilesLimits& limits, const BlobReader& blobs);

}  // namespace heavylift
