#include "tasks/files/file_tasks.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "tasks/files/codec.h"
#include "tasks/files/profile.h"
#include "tasks/files/upload.h"

namespace heavylift {
namespace {

// Input is processed in slices of this size, with a deadline check between.
constexpr size_t kSliceBytes = 1 << 20;

// Calls `fn` on consecutive slices of `bytes`, checking the call's deadline
// and cancellation before each.
template <typename Fn>
Status for_each_slice(std::string_view bytes, TaskContext& context, Fn&& fn) {
  while (!bytes.empty()) {
    if (Status s = context.check(); !s.ok()) return s;
    const std::string_view slice = bytes.substr(0, kSliceBytes);
    if (Status s = fn(slice); !s.ok()) return s;
    bytes.remove_prefix(slice.size());
  }
  return context.check();
}

// The opened input of a BlobRef: inline bytes, or a file under the blob root
// that is read slice by slice into one reused buffer. Memory stays at one
// slice whatever the file's size, and the buffer's pages fault in once
// instead of once per page of the file.
class Input {
 public:
  // Opens the input `ref` names, with the errors of BlobReader::read naming `field`.
  static Result<Input> open(const v1::BlobRef& ref, std::string_view field, const FilesLimits& limits,
                            const BlobReader& blobs) {
    if (ref.source_case() == v1::BlobRef::kPath) {
      Result<BlobFile> file = blobs.open_path(ref.path(), field, limits.max_input_bytes);
      if (!file.ok()) return file.error();
      return Input(std::move(file).value(), ref.path(), field);
    }
    Result<Blob> blob = blobs.read(ref, field, limits.max_input_bytes);
    if (!blob.ok()) return blob.error();
    return Input(std::move(blob).value());
  }

  uint64_t size() const { return file_ ? file_->size() : blob_.bytes().size(); }

  // Calls `fn` on consecutive slices of the input, checking the call's
  // deadline and cancellation before each. Call once.
  template <typename Fn>
  Status for_each_slice(TaskContext& context, Fn&& fn) {
    if (!file_) return heavylift::for_each_slice(blob_.bytes(), context, fn);
    // The kernel reads further ahead for a file read from start to end.
    (void)::posix_fadvise(file_->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
    const size_t capacity = static_cast<size_t>(std::min<uint64_t>(file_->size(), kSliceBytes));
    const auto buffer = std::make_unique_for_overwrite<char[]>(capacity);
    uint64_t done = 0;
    while (done < file_->size()) {
      if (Status s = context.check(); !s.ok()) return s;
      const size_t slice_size = static_cast<size_t>(std::min<uint64_t>(file_->size() - done, capacity));
      size_t filled = 0;
      while (filled < slice_size) {
        const ssize_t n = ::read(file_->fd(), buffer.get() + filled, slice_size - filled);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return unreadable(n);
        filled += static_cast<size_t>(n);
      }
      if (Status s = fn(std::string_view(buffer.get(), filled)); !s.ok()) return s;
      done += filled;
    }
    return context.check();
  }

  // Returns the first `limit` bytes of the input, or all of a shorter input,
  // without moving the position that for_each_slice() reads from.
  Result<std::string> head(size_t limit) const {
    if (!file_) return std::string(blob_.bytes().substr(0, limit));
    std::string bytes(static_cast<size_t>(std::min<uint64_t>(file_->size(), limit)), '\0');
    size_t filled = 0;
    while (filled < bytes.size()) {
      const ssize_t n = ::pread(file_->fd(), bytes.data() + filled, bytes.size() - filled, static_cast<off_t>(filled));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return unreadable(n);
      filled += static_cast<size_t>(n);
    }
    return bytes;
  }

 private:
  // The error for a read of the file that returned `result`: 0 at an early
  // end of file, or -1 with errno set.
  Error unreadable(ssize_t result) const {
    return Error::invalid(path_field_, "UNREADABLE",
                          fmt::format("{} {} could not be read to the end: {}", path_field_, quote_value(path_),
                                      result == 0 ? "file shrank" : std::strerror(errno)));
  }

  explicit Input(Blob blob) : blob_(std::move(blob)) {}
  Input(BlobFile file, std::string path, std::string_view field)
      : file_(std::move(file)), path_(std::move(path)), path_field_(fmt::format("{}.path", field)) {}

  Blob blob_;
  std::optional<BlobFile> file_;
  std::string path_;
  std::string path_field_;
};

// The destination of a task's output: a bounded bytes field of the response,
// or a new file under the blob root.
class Output {
 public:
  static Result<Output> open(const std::string& output_path, std::string* inline_data, uint64_t max_inline_bytes,
                             const BlobReader& blobs) {
    Output output;
    if (output_path.empty()) {
      output.inline_data_ = inline_data;
      output.max_inline_bytes_ = max_inline_bytes;
      return output;
    }
    Result<BlobWriter> writer = BlobWriter::create_output(blobs.root(), output_path, "output_path");
    if (!writer.ok()) return writer.error();
    output.writer_.emplace(std::move(writer).value());
    return output;
  }

  Status write(std::string_view bytes) {
    if (writer_) return writer_->write(bytes);
    if (inline_data_->size() + bytes.size() > max_inline_bytes_) {
      return Error::invalid("output_path", "OUTPUT_TOO_LARGE",
                            fmt::format("the output exceeds files.max_inline_output_bytes = {} bytes; set output_path "
                                        "to write it under the blob root",
                                        max_inline_bytes_),
                            fmt::format("<= {} bytes inline", max_inline_bytes_));
    }
    inline_data_->append(bytes);
    return Status::Ok();
  }

  Status commit() { return writer_ ? writer_->commit_output() : Status::Ok(); }

 private:
  std::string* inline_data_ = nullptr;
  uint64_t max_inline_bytes_ = 0;
  std::optional<BlobWriter> writer_;
};

Status digest_task(const v1::DigestRequest& request, v1::DigestResponse* response, TaskContext& context,
                   const FilesLimits& limits, const BlobReader& blobs) {
  Result<Input> input = Input::open(request.input(), "input", limits, blobs);
  if (!input.ok()) return input.error();
  v1::UploadOptions options;
  *options.mutable_digests() = request.digests();
  Result<std::unique_ptr<UploadPipeline>> pipeline = UploadPipeline::create(options, limits, "");
  if (!pipeline.ok()) return pipeline.error();
  if (Status s = input.value().for_each_slice(
          context, [&](std::string_view slice) { return pipeline.value()->write(slice); });
      !s.ok()) {
    return s;
  }
  v1::UploadResult result;
  if (Status s = pipeline.value()->finish(&result); !s.ok()) return s;
  response->set_bytes(result.bytes());
  *response->mutable_digests() = std::move(*result.mutable_digests());
  response->set_content_type(result.content_type());
  return Status::Ok();
}

Status compress_task(const v1::CompressRequest& request, v1::CompressResponse* response, TaskContext& context,
                     const FilesLimits& limits, const BlobReader& blobs) {
  Result<std::unique_ptr<StreamCodec>> encoder = make_encoder(request.format(), request.level(), "format", "level");
  if (!encoder.ok()) return encoder.error();
  Result<Input> input = Input::open(request.input(), "input", limits, blobs);
  if (!input.ok()) return input.error();
  Result<Output> output =
      Output::open(request.output_path(), response->mutable_data(), limits.max_inline_output_bytes, blobs);
  if (!output.ok()) return output.error();

  const ByteSink sink = [&output](std::string_view bytes) { return output.value().write(bytes); };
  StreamCodec& codec = *encoder.value();
  if (Status s =
          input.value().for_each_slice(context, [&](std::string_view slice) { return codec.write(slice, sink); });
      !s.ok()) {
    return s;
  }
  if (Status s = codec.finish(sink); !s.ok()) return s;
  if (Status s = output.value().commit(); !s.ok()) return s;
  response->set_input_bytes(input.value().size());
  response->set_output_bytes(codec.output_bytes());
  return Status::Ok();
}

Status decompress_task(const v1::DecompressRequest& request, v1::DecompressResponse* response, TaskContext& context,
                       const FilesLimits& limits, const BlobReader& blobs) {
  if (request.max_output_bytes() > limits.max_decompressed_bytes) {
    Error error = Error::out_of_range("max_output_bytes", fmt::format("<= {} bytes (files.max_decompressed_bytes)",
                                                                      limits.max_decompressed_bytes),
                                      fmt::format("{} bytes", request.max_output_bytes()));
    return error;
  }
  Result<Input> input = Input::open(request.input(), "input", limits, blobs);
  if (!input.ok()) return input.error();

  v1::CompressionFormat format = request.format();
  if (format == v1::COMPRESSION_FORMAT_UNSPECIFIED) {
    // The magic numbers of the sniffed formats are at most 4 bytes long.
    Result<std::string> head = input.value().head(4);
    if (!head.ok()) return head.error();
    format = sniff_compression_format(head.value());
  }
  uint64_t bound = limits.max_decompressed_bytes;
  std::string bound_name = "files.max_decompressed_bytes";
  if (request.max_output_bytes() != 0) {
    bound = request.max_output_bytes();
    bound_name = "max_output_bytes";
  }
  if (request.output_path().empty() && bound > limits.max_inline_output_bytes) {
    bound = limits.max_inline_output_bytes;
    bound_name = "files.max_inline_output_bytes";
  }
  Result<std::unique_ptr<StreamCodec>> decoder = make_decoder(format, bound, bound_name);
  if (!decoder.ok()) return decoder.error();
  Result<Output> output = Output::open(request.output_path(), response->mutable_data(), UINT64_MAX, blobs);
  if (!output.ok()) return output.error();

  const ByteSink sink = [&output](std::string_view bytes) { return output.value().write(bytes); };
  StreamCodec& codec = *decoder.value();
  // Decoding a bomb produces far more output than input, so the deadline is
  // also checked per output chunk.
  const ByteSink checked_sink = [&](std::string_view bytes) {
    if (Status s = context.check(); !s.ok()) return s;
    return sink(bytes);
  };
  if (Status s = input.value().for_each_slice(
          context, [&](std::string_view slice) { return codec.write(slice, checked_sink); });
      !s.ok()) {
    return s;
  }
  if (Status s = codec.finish(checked_sink); !s.ok()) return s;
  if (Status s = output.value().commit(); !s.ok()) return s;
  response->set_input_bytes(input.value().size());
  response->set_output_bytes(codec.output_bytes());
  response->set_format(format);
  return Status::Ok();
}

template <typename Profiler>
Status run_profiler(Profiler& profiler, const v1::BlobRef& input, TaskContext& context, const FilesLimits& limits,
                    const BlobReader& blobs, v1::ProfileResponse* response) {
  Result<Input> opened = Input::open(input, "input", limits, blobs);
  if (!opened.ok()) return opened.error();
  if (Status s = opened.value().for_each_slice(context, [&](std::string_view slice) { return profiler.feed(slice); });
      !s.ok()) {
    return s;
  }
  return profiler.finish(response->mutable_profile());
}

Status csv_to_ndjson_task(const v1::CsvToNdjsonRequest& request, v1::CsvToNdjsonResponse* response,
                          TaskContext& context, const FilesLimits& limits, const BlobReader& blobs) {
  Result<Input> input = Input::open(request.input(), "input", limits, blobs);
  if (!input.ok()) return input.error();
  Result<Output> output =
      Output::open(request.output_path(), response->mutable_data(), limits.max_inline_output_bytes, blobs);
  if (!output.ok()) return output.error();
  CsvToNdjson converter(request.csv(), request.strings_only(), limits.profile,
                        [&output](std::string_view bytes) { return output.value().write(bytes); });
  if (Status s =
          input.value().for_each_slice(context, [&](std::string_view slice) { return converter.feed(slice); });
      !s.ok()) {
    return s;
  }
  if (Status s = converter.finish(response); !s.ok()) return s;
  return output.value().commit();
}

}  // namespace

Status register_files_tasks(TaskRegistry& registry, const FilesLimits& limits, const BlobReader& blobs) {
  Status status = registry.add<v1::DigestRequest, v1::DigestResponse>(
      "files.digest", [limits, &blobs](const v1::DigestRequest& request, v1::DigestResponse* response,
                                       TaskContext& context) {
        return digest_task(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::CompressRequest, v1::CompressResponse>(
      "files.compress", [limits, &blobs](const v1::CompressRequest& request, v1::CompressResponse* response,
                                         TaskContext& context) {
        return compress_task(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::DecompressRequest, v1::DecompressResponse>(
      "files.decompress", [limits, &blobs](const v1::DecompressRequest& request, v1::DecompressResponse* response,
                                           TaskContext& context) {
        return decompress_task(request, response, context, limits, blobs);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::ProfileCsvRequest, v1::ProfileResponse>(
      "files.profile_csv", [limits, &blobs](const v1::ProfileCsvRequest& request, v1::ProfileResponse* response,
                                            TaskContext& context) {
        CsvProfiler profiler(request.csv(), limits.profile);
        return run_profiler(profiler, request.input(), context, limits, blobs, response);
      });
  if (!status.ok()) return status;

  status = registry.add<v1::ProfileNdjsonRequest, v1::ProfileResponse>(
      "files.profile_ndjson", [limits, &blobs](const v1::ProfileNdjsonRequest& request,
                                               v1::ProfileResponse* response, TaskContext& context) {
        NdjsonProfiler profiler(limits.profile);
        return run_profiler(profiler, request.input(), context, limits, blobs, response);
      });
  if (!status.ok()) return status;

  return registry.add<v1::CsvToNdjsonRequest, v1::CsvToNdjsonResponse>(
      "files.csv_to_ndjson", [limits, &blobs](const v1::CsvToNdjsonRequest& request,
                                              v1::CsvToNdjsonResponse* response, TaskContext& context) {
        return csv_to_ndjson_task(request, response, context, limits, blobs);
      });
}

}  // namespace heavylift
