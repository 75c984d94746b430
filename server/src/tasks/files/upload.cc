#include "tasks/files/upload.h"

#include <fmt/format.h>

#include "tasks/files/sniff.h"

namespace heavylift {

Result<std::unique_ptr<UploadPipeline>> UploadPipeline::create(const v1::UploadOptions& options,
                                                               const FilesLimits& limits,
                                                               const std::string& blob_root,
                                                               const Result<std::shared_ptr<GridfsStore>>& gridfs) {
  std::unique_ptr<UploadPipeline> pipeline(new UploadPipeline());
  pipeline->options_ = options;
  pipeline->limits_ = limits;
  if (options.expected_bytes() > limits.max_upload_bytes) {
    Error error = Error::out_of_range("options.expected_bytes", fmt::format("<= {} bytes", limits.max_upload_bytes),
                                      fmt::format("{} bytes", options.expected_bytes()));
    error.reason = "TOO_LARGE";
    return error;
  }
  Result<std::unique_ptr<StreamDigester>> digester = StreamDigester::create(options.digests());
  if (!digester.ok()) return digester.error();
  pipeline->digester_ = std::move(digester).value();

  if (options.compression() != v1::COMPRESSION_FORMAT_UNSPECIFIED) {
    Result<std::unique_ptr<StreamCodec>> encoder = make_encoder(
        options.compression(), options.compression_level(), "options.compression", "options.compression_level");
    if (!encoder.ok()) return encoder.error();
    pipeline->encoder_ = std::move(encoder).value();
  } else if (options.compression_level() != 0) {
    return Error::invalid("options.compression_level", "INVALID_COMBINATION",
                          "options.compression_level is set but options.compression is not; set both");
  }
  if (options.profile_csv()) {
    if (Result<char> delimiter = choose_csv_delimiter(options.csv(), "", false); !delimiter.ok()) {
      Error error = delimiter.error();
      error.field = "options." + error.field;
      return error;
    }
    pipeline->profiler_ = std::make_unique<CsvProfiler>(options.csv(), limits.profile);
  }
  if (options.store() || options.gridfs()) {
    const v1::DigestSelection& selection = options.digests();
    const bool some = selection.sha256() || selection.sha512() || selection.blake2b512() || selection.xxh3_64() ||
                      selection.xxh128();
    if (some && !selection.sha256()) {
      const char* option = options.store() ? "options.store" : "options.gridfs";
      return Error::invalid("options.digests.sha256", "MISSING",
                            fmt::format("{} keys stored files by SHA-256; request the sha256 digest too", option));
    }
  }
  if (options.gridfs()) {
    if (!gridfs.ok()) return gridfs.error();
    Result<std::unique_ptr<GridfsWriter>> writer = GridfsWriter::create(gridfs.value());
    if (!writer.ok()) return writer.error();
    pipeline->gridfs_writer_ = std::move(writer).value();
  }
  if (options.store()) {
    Result<BlobWriter> writer = BlobWriter::create_temporary(blob_root);
    if (!writer.ok()) return writer.error();
    pipeline->writer_.emplace(std::move(writer).value());
  }
  return pipeline;
}

Status UploadPipeline::write(std::string_view bytes) {
  const uint64_t limit = options_.expected_bytes() != 0 ? options_.expected_bytes() : limits_.max_upload_bytes;
  if (bytes_ + bytes.size() > limit) {
    const bool expected = options_.expected_bytes() != 0;
    Error error = Error::invalid(
        expected ? "options.expected_bytes" : "files.max_upload_bytes", "TOO_LARGE",
        fmt::format("the upload exceeds {} = {} bytes", expected ? "options.expected_bytes" : "files.max_upload_bytes",
                    limit),
        fmt::format("<= {} bytes", limit), fmt::format("> {} bytes", limit));
    return error;
  }
  bytes_ += bytes.size();
  digester_->update(bytes);
  if (head_.size() < kSniffBytes) head_.append(bytes.substr(0, kSniffBytes - head_.size()));

  if (encoder_) {
    const ByteSink sink = [this](std::string_view compressed) { return store(compressed); };
    if (Status s = encoder_->write(bytes, sink); !s.ok()) return s;
  } else if (Status s = store(bytes); !s.ok()) {
    return s;
  }
  if (profiler_) {
    if (Status s = profiler_->feed(bytes); !s.ok()) return s;
  }
  return Status::Ok();
}

Status UploadPipeline::finish(v1::UploadResult* out) {
  if (options_.expected_bytes() != 0 && bytes_ != options_.expected_bytes()) {
    return Error::invalid("options.expected_bytes", "SIZE_MISMATCH",
                          fmt::format("the upload ended after {} bytes, but options.expected_bytes is {}", bytes_,
                                      options_.expected_bytes()),
                          fmt::format("= {} bytes", options_.expected_bytes()), fmt::format("{} bytes", bytes_));
  }
  out->set_bytes(bytes_);
  digester_->finish(out->mutable_digests());
  out->set_content_type(sniff_content_type(head_, bytes_ == head_.size()));

  if (encoder_) {
    const ByteSink sink = [this](std::string_view compressed) { return store(compressed); };
    if (Status s = encoder_->finish(sink); !s.ok()) return s;
    out->set_compressed_bytes(encoder_->output_bytes());
  }
  if (profiler_) {
    if (Status s = profiler_->finish(out->mutable_profile()); !s.ok()) return s;
  }
  if (writer_) {
    const std::string& sha256 = out->digests().sha256();
    bool deduplicated = false;
    Result<std::string> path = writer_->commit_by_digest(sha256, compression_extension(options_.compression()),
                                                         &deduplicated);
    if (!path.ok()) return path.error();
    out->set_stored_path(path.value());
    out->set_deduplicated(deduplicated);
  }
  if (gridfs_writer_) {
    const std::string key = out->digests().sha256() + compression_extension(options_.compression());
    GridfsFileInfo info;
    info.sha256 = out->digests().sha256();
    info.content_type = out->content_type();
    if (encoder_) info.compression = compression_format_name(options_.compression());
    info.uncompressed_bytes = bytes_;
    bool deduplicated = false;
    if (Status s = gridfs_writer_->commit(key, info, &deduplicated); !s.ok()) return s;
    out->set_gridfs_id(key);
    out->set_gridfs_deduplicated(deduplicated);
    out->set_deduplicated(deduplicated && (!writer_ || out->deduplicated()));
  }
  return Status::Ok();
}

Status UploadPipeline::store(std::string_view bytes) {
  if (writer_) {
    if (Status s = writer_->write(bytes); !s.ok()) return s;
  }
  if (gridfs_writer_) return gridfs_writer_->write(bytes);
  return Status::Ok();
}

}  // namespace heavylift
