#include "tasks/files/download.h"

#include <fmt/format.h>

namespace heavylift {
namespace {

// Bytes read from a blob-root file at a time.
constexpr size_t kFileReadBytes = 256 * 1024;
constexpr uint32_t kMinDownloadChunkBytes = 4096;

}  // namespace

Result<std::unique_ptr<DownloadPipeline>> DownloadPipeline::open(const v1::DownloadRequest& request,
                                                                 const FilesLimits& limits,
                                                                 const std::string& blob_root,
                                                                 const Result<std::shared_ptr<GridfsStore>>& gridfs) {
  if (request.path().empty() == request.gridfs_id().empty()) {
    const bool both = !request.path().empty();
    return Error::invalid(both ? "gridfs_id" : "path", both ? "INVALID_COMBINATION" : "MISSING",
                          both ? "set path or gridfs_id, not both" : "set path (under the blob root) or gridfs_id");
  }
  if (request.chunk_bytes() != 0 &&
      (request.chunk_bytes() < kMinDownloadChunkBytes || request.chunk_bytes() > limits.max_chunk_bytes)) {
    return Error::out_of_range("chunk_bytes",
                               fmt::format("in {}..{} bytes (files.max_chunk_bytes)", kMinDownloadChunkBytes,
                                           limits.max_chunk_bytes),
                               fmt::format("{} bytes", request.chunk_bytes()));
  }
  if (request.max_output_bytes() > limits.max_decompressed_bytes) {
    return Error::out_of_range("max_output_bytes",
                               fmt::format("<= {} bytes (files.max_decompressed_bytes)", limits.max_decompressed_bytes),
                               fmt::format("{} bytes", request.max_output_bytes()));
  }
  if (!request.decompress() && request.format() != v1::COMPRESSION_FORMAT_UNSPECIFIED) {
    return Error::invalid("format", "INVALID_COMBINATION", "format is set but decompress is not; set both");
  }
  std::unique_ptr<DownloadPipeline> pipeline(new DownloadPipeline());
  pipeline->request_ = request;
  if (request.chunk_bytes() != 0) pipeline->chunk_bytes_ = request.chunk_bytes();
  pipeline->bound_ = limits.max_decompressed_bytes;
  pipeline->bound_name_ = "files.max_decompressed_bytes";
  if (request.max_output_bytes() != 0) {
    pipeline->bound_ = request.max_output_bytes();
    pipeline->bound_name_ = "max_output_bytes";
  }
  if (!request.path().empty()) {
    Result<BlobFileReader> file = BlobFileReader::open(blob_root, request.path(), "path");
    if (!file.ok()) return file.error();
    pipeline->file_ = std::make_unique<BlobFileReader>(std::move(file).value());
    pipeline->stored_bytes_ = pipeline->file_->size();
    pipeline->read_buffer_.resize(kFileReadBytes);
  } else {
    if (!gridfs.ok()) return gridfs.error();
    Result<std::unique_ptr<GridfsReader>> reader = GridfsReader::open(gridfs.value(), request.gridfs_id(), "gridfs_id");
    if (!reader.ok()) return reader.error();
    pipeline->gridfs_ = std::move(reader).value();
    pipeline->stored_bytes_ = pipeline->gridfs_->length();
  }
  return pipeline;
}

Result<std::string_view> DownloadPipeline::read_source() {
  if (gridfs_) return gridfs_->next();
  Result<size_t> got = file_->read(read_buffer_.data(), read_buffer_.size());
  if (!got.ok()) return got.error();
  return std::string_view(read_buffer_.data(), got.value());
}

Status DownloadPipeline::start_decoder(std::string_view head) {
  format_ = request_.format();
  if (format_ == v1::COMPRESSION_FORMAT_UNSPECIFIED) format_ = sniff_compression_format(head);
  Result<std::unique_ptr<StreamCodec>> decoder = make_decoder(format_, bound_, bound_name_);
  if (!decoder.ok()) return decoder.error();
  decoder_ = std::move(decoder).value();
  return Status::Ok();
}

Status DownloadPipeline::next(v1::DownloadChunk* message, bool* last, TaskContext& context) {
  *last = false;
  std::string* data = message->mutable_data();
  const ByteSink append = [data](std::string_view bytes) {
    data->append(bytes);
    return Status::Ok();
  };
  if (first_) {
    first_ = false;
    message->set_stored_bytes(stored_bytes_);
    if (request_.decompress()) {
      Result<std::string_view> head = read_source();
      if (!head.ok()) return head.error();
      pending_ = head.value();
      source_done_ = pending_.empty();
      if (Status s = start_decoder(pending_); !s.ok()) return s;
      message->set_format(format_);
    }
  }
  while (data->size() < chunk_bytes_) {
    if (decoder_ && (!pending_.empty() || more_output_)) {
      // A bomb yields a full output chunk per step, so check the deadline here.
      if (Status s = context.check(); !s.ok()) return s;
      if (Status s = decoder_->step(&pending_, append, &more_output_); !s.ok()) return s;
      continue;
    }
    if (!decoder_ && !pending_.empty()) {
      const size_t take = std::min<size_t>(pending_.size(), chunk_bytes_ - data->size());
      data->append(pending_.substr(0, take));
      pending_.remove_prefix(take);
      continue;
    }
    if (source_done_) {
      if (decoder_) {
        if (Status s = decoder_->finish(append); !s.ok()) return s;
      }
      *last = true;
      break;
    }
    Result<std::string_view> piece = read_source();
    if (!piece.ok()) return piece.error();
    pending_ = piece.value();
    source_done_ = pending_.empty();
  }
  return Status::Ok();
}

}  // namespace heavylift
